"""Densities of one digit's codes, to sample new digits from: fit on train, compare on val.

Every density has the same interface: ``fit(codes, val)`` returns the fitted density (val: the
digit's validation codes, for densities that choose a size), ``log_likelihood(codes)`` the
log-density of each row, ``sample(n, rng)`` n new codes, ``parameters()`` its arrays. The
registry DENSITIES maps each `gaussians.density` name to its class; `fit_per_digit` fits one per
digit and scores it on the validation codes; `choose` is `auto` (by `gaussians.auto_by`).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.special
import scipy.stats
from threadpoolctl import threadpool_limits

from .params import ParamsError

MAX_KAPPA = 1e6  # a vMF fitted to one point (EM's start) would have infinite concentration
REG = 1e-6  # added to every variance, as scikit-learn's reg_covar: codes with a constant unit stay finite
FULL_CODES_PER_DIM = 5  # a mixture's components are full while each holds this many codes per dimension,
FULL_MAX_DIM = 32  # and the codes have at most this many dimensions (see covariance_kind)
# EM stops when the mean log-likelihood per code gains less than this: less than half the time of
# scikit-learn's default, 1e-3, for the same validation log-likelihood to 0.1%
# (docs/results.md, measured by benchmarks/gmm_fit.py).
EM_TOL = 1e-2


class Gaussian:
    """One Gaussian: `diag` keeps only the variances, as the conv notebook did; `full` the covariance."""

    def __init__(self, diagonal: bool):
        self.diagonal = diagonal

    def fit(self, codes: np.ndarray, val: np.ndarray | None = None) -> Gaussian:
        z = codes.astype(np.float64)
        cov = np.cov(z, rowvar=False).reshape(z.shape[1], z.shape[1])
        return self.set_moments(z.mean(0), (np.diag(np.diag(cov)) if self.diagonal else cov) + REG * np.eye(z.shape[1]))

    def set_moments(self, mean: np.ndarray, cov: np.ndarray) -> Gaussian:
        self.mean, self.cov, self.chol = mean, cov, np.linalg.cholesky(cov)
        return self

    def log_likelihood(self, codes: np.ndarray) -> np.ndarray:
        return _gaussian_log_pdf(codes, self.mean, self.chol)

    def parameters(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "covariance": self.cov}

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.mean + rng.standard_normal((n, len(self.mean))) @ self.chol.T


def _gaussian_log_pdf(codes: np.ndarray, mean: np.ndarray, chol: np.ndarray) -> np.ndarray:
    white = scipy.linalg.solve_triangular(chol, (codes.astype(np.float64) - mean).T, lower=True)
    log_det = 2 * np.log(np.diag(chol)).sum()
    return -0.5 * (len(mean) * np.log(2 * np.pi) + log_det + (white**2).sum(0))


def sample_mixture(weights: np.ndarray, parts: list, dim: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """n samples of a mixture: a component per sample by weight, then each component's share from it."""
    which = rng.choice(len(parts), size=n, p=weights)
    out = np.empty((n, dim))
    for i, part in enumerate(parts):
        out[which == i] = part.sample(int((which == i).sum()), rng)
    return out


def covariance_kind(codes: int, dim: int, components: int) -> str:
    """`full` while a mixture's components hold on average FULL_CODES_PER_DIM codes per dimension
    (codes / components >= FULL_CODES_PER_DIM * dim) and dim <= FULL_MAX_DIM, `diag` otherwise: a
    d x d covariance from fewer codes is mostly noise, and EM's cost grows with d^2 (one BLAS thread,
    one digit of 100-d codes: 3.8 s at 4 full components, 12.9 s at 8; 30-d: 2.7 s at 16)."""
    return "full" if dim <= FULL_MAX_DIM and codes >= FULL_CODES_PER_DIM * dim * components else "diag"


class GMM:
    """A Gaussian mixture (scikit-learn's EM), its size chosen from `components` on the digit's val codes.

    Each size's components are full or diagonal by covariance_kind: on 50k training codes (4,500 to
    5,600 a digit) conv30's and pca30's 30-d codes get full components up to 16 of them (digit 5 up to
    29), the 2-4-d codes any number, 100-d and 1,000-d codes diagonal ones. EM runs under one BLAS
    thread: two threads on the 2-core machine took 3.1x as long (conv30, 16 full components, ten
    digits: 83.2 s against 26.6 s). A single full Gaussian is `full`.
    """

    def __init__(self, components: list[int], seed: int):
        self.candidates, self.seed = list(components), seed

    def fit(self, codes: np.ndarray, val: np.ndarray | None = None) -> GMM:
        from sklearn.mixture import GaussianMixture

        z = codes.astype(np.float64)  # in float32, variances of saturated (tanh) units round to <= 0
        best = None
        for k in self.candidates:
            kind = covariance_kind(len(z), z.shape[1], k)
            with threadpool_limits(1, "blas"):
                model = GaussianMixture(
                    k, covariance_type=kind, reg_covar=REG, tol=EM_TOL, random_state=self.seed, init_params="k-means++"
                ).fit(z)  # 2-4x faster than a k-means start
                score = model.score(z if val is None else val.astype(np.float64))
            if best is None or score > best[0]:
                best = (score, model, kind)
        _, self.model, self.kind = best
        self.components = self.model.n_components
        self.parts = [
            Gaussian(self.kind == "diag").set_moments(m, np.diag(c) if self.kind == "diag" else c)
            for m, c in zip(self.model.means_, self.model.covariances_)
        ]
        return self

    def log_likelihood(self, codes: np.ndarray) -> np.ndarray:
        with threadpool_limits(1, "blas"):
            return self.model.score_samples(codes.astype(np.float64))

    def parameters(self) -> dict[str, np.ndarray]:
        return {
            "weights": self.model.weights_,
            "means": np.stack([g.mean for g in self.parts]),
            "covariances": np.stack([g.cov for g in self.parts]),
        }

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Drawn with the caller's generator (not scikit-learn's, which groups samples by component)."""
        return sample_mixture(self.model.weights_, self.parts, len(self.parts[0].mean), n, rng)


class VonMisesFisher:
    """von Mises-Fisher on the unit sphere S^(p-1): a mean direction and a concentration kappa.

    Log-density and samples are SciPy's (scipy.stats.vonmises_fisher; every sample has unit norm, so
    none needs projecting before decoding). The fit is ours: EM fits each component to weighted codes
    (its responsibilities), which SciPy's fit does not take; kappa by Banerjee et al. (2005)'s
    approximation of the maximum likelihood estimate.
    """

    def fit(self, codes: np.ndarray, weights: np.ndarray | None = None) -> VonMisesFisher:
        """Maximum likelihood direction, approximate concentration; weights: EM's responsibilities."""
        z = codes.astype(np.float64)
        resultant = np.average(z, axis=0, weights=weights)
        r = min(np.linalg.norm(resultant), 1 - 1e-9)
        self.p = z.shape[1]
        self.mu = resultant / max(np.linalg.norm(resultant), 1e-12)
        self.kappa = min(max(r * (self.p - r**2) / (1 - r**2), 1e-6), MAX_KAPPA)
        return self

    @property
    def scipy(self):
        """SciPy's distribution at the current mu and kappa (EM's start sets kappa after fitting)."""
        return scipy.stats.vonmises_fisher(self.mu, self.kappa)

    def log_likelihood(self, codes: np.ndarray) -> np.ndarray:
        """Log-density against the sphere's surface measure."""
        return self.scipy.logpdf(codes.astype(np.float64))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.scipy.rvs(n, random_state=rng).reshape(n, self.p)


class VonMisesFisherMixture:
    """A mixture of von Mises-Fisher densities on the sphere, fitted by EM (Banerjee et al. 2005),
    its size chosen from `components` on the digit's validation codes like GMM's: a density on the
    sphere as flexible as the Gaussian mixture is off it. One component is a single vMF."""

    def __init__(self, components: list[int], seed: int, iterations: int = 100):
        self.candidates, self.seed, self.iterations = list(components), seed, iterations

    def fit(self, codes: np.ndarray, val: np.ndarray | None = None) -> VonMisesFisherMixture:
        best = None
        for k in self.candidates:
            self._em(codes.astype(np.float64), k)
            score = self.log_likelihood(codes if val is None else val).mean()
            if best is None or score > best[0]:
                best = (score, self.weights, self.parts)
        _, self.weights, self.parts = best
        self.components = len(self.parts)
        return self

    def _em(self, z: np.ndarray, k: int) -> None:
        rng = np.random.default_rng(self.seed)
        start = VonMisesFisher().fit(z)
        self.parts = [VonMisesFisher().fit(z[i : i + 1]) for i in rng.choice(len(z), k, replace=False)]
        for part in self.parts:  # seeded directions, the whole set's spread
            part.kappa = start.kappa
        self.weights = np.full(k, 1.0 / k)
        previous = -np.inf
        for _ in range(self.iterations):
            joint = self._joint(z)
            total = scipy.special.logsumexp(joint, axis=1)
            responsibilities = np.exp(joint - total[:, None])
            mass = responsibilities.sum(0)
            keep = mass > 1e-8 * len(z)  # a component that lost every code is dropped
            self.weights = mass[keep] / mass[keep].sum()
            self.parts = [VonMisesFisher().fit(z, weights=responsibilities[:, j]) for j in np.flatnonzero(keep)]
            if total.mean() - previous < 1e-8:
                break
            previous = total.mean()

    def _joint(self, codes: np.ndarray) -> np.ndarray:
        return np.stack([np.log(w) + part.log_likelihood(codes) for w, part in zip(self.weights, self.parts)], 1)

    def log_likelihood(self, codes: np.ndarray) -> np.ndarray:
        """Log-density against the sphere's surface measure."""
        return scipy.special.logsumexp(self._joint(codes.astype(np.float64)), axis=1)

    def parameters(self) -> dict[str, np.ndarray]:
        return {
            "weights": self.weights,
            "mean_directions": np.stack([p.mu for p in self.parts]),
            "concentrations": np.array([p.kappa for p in self.parts]),
        }

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return sample_mixture(self.weights, self.parts, self.parts[0].p, n, rng)


DENSITIES = {
    "diag": lambda components, seed: Gaussian(diagonal=True),
    "full": lambda components, seed: Gaussian(diagonal=False),
    "gmm": lambda components, seed: GMM(components=components, seed=seed),
    "vmf": lambda components, seed: VonMisesFisherMixture(components=components, seed=seed),
}
SPHERE_DENSITIES = {"vmf"}  # densities on the unit sphere; the others live in R^d
NOTEBOOK = "diag"  # the conv notebook's choice


def applicable(sphere: bool) -> list[str]:
    """The densities that can be fitted to codes (on the unit sphere or not): vMF only on the sphere."""
    return [name for name in DENSITIES if name not in SPHERE_DENSITIES or sphere]


def check(setting: str, sphere: bool, variant: str) -> None:
    """`gaussians.density` naming a density these codes do not allow is an error naming the key."""
    if setting != "auto" and setting not in applicable(sphere):
        raise ParamsError(
            f"gaussians.density: {setting} needs codes on the unit sphere; variant {variant}'s "
            f"are not (use one of auto, {', '.join(applicable(sphere))})"
        )


def fit_per_digit(name: str, train, val, components: list[int], seed: int) -> tuple[dict, float]:
    """digit -> fitted density, and the mean validation log-likelihood per code.

    A mixture's size is chosen per digit on that digit's validation codes.
    """
    (z, y), (zv, yv) = train, val
    fitted, total = {}, 0.0
    for d in sorted(set(y.tolist())):
        density = DENSITIES[name](components, seed)
        fitted[d] = density.fit(z[y == d], zv[yv == d])
        total += fitted[d].log_likelihood(zv[yv == d]).sum()
    return fitted, float(total / len(zv))


AUTO_RULES = {  # gaussians.auto_by -> (better: min or max of that figure, compares across measures)
    "val_fd_judge": (min, True),  # decoded images against the real validation images: any density
    "val_log_likelihood": (max, False),  # a likelihood is against its own measure (see choose)
}


def choose(figures: dict[str, dict], rule: str, sphere: bool) -> str:
    """auto: the best density by `rule` (a key of AUTO_RULES and of each density's figures) among
    those that do not copy (figures[name]["copies"]); if every one copies, among all of them.

    By likelihood, on the sphere only vMF counts: it is a density on S^(p-1), while a Gaussian's
    likelihood there is against volume in R^p, a different measure, so the two cannot be compared.
    Decoded images compare across measures, so val_fd_judge considers every density.
    """
    best, any_measure = AUTO_RULES[rule]
    candidates = {n: f for n, f in figures.items() if any_measure or (n in SPHERE_DENSITIES) == sphere}
    honest = {n: f for n, f in candidates.items() if not f["copies"]} or candidates
    return best(honest, key=lambda n: honest[n][rule])


def sample_per_digit(fitted: dict, per_digit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded samples, per_digit of each digit in digit order: (codes float32, labels)."""
    rng = np.random.default_rng(seed)
    codes = [fitted[d].sample(per_digit, rng) for d in fitted]
    labels = [np.full(per_digit, d) for d in fitted]
    return np.concatenate(codes).astype(np.float32), np.concatenate(labels)
