"""The copying check: a density that memorises its training codes is flagged and never auto's choice,
though the Frechet distance alone would prefer it."""

import numpy as np
import pytest

from autoencoders import copying, densities, generation, judge, params

ROOT_THRESHOLD = params.load().gaussians.copying_threshold  # the default the pipeline runs with


class MemorisingKDE:
    """A kernel density estimate with a tiny bandwidth: its samples are training codes plus noise."""

    def fit(self, codes, val=None):
        self.codes, self.bandwidth = codes.astype(np.float64), 1e-3 * codes.std()
        return self

    def log_likelihood(self, codes):
        return np.zeros(len(codes))

    def sample(self, n, rng):
        picks = self.codes[rng.integers(len(self.codes), size=n)]
        return picks + self.bandwidth * rng.standard_normal(picks.shape)


def digit_codes(n_per_digit: int, seed: int):
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 3, (3, 5))
    codes = np.concatenate([rng.normal(c, 1.0, (n_per_digit, 5)) for c in centres])
    return codes, np.repeat(np.arange(3), n_per_digit)


def figures_of(fitted, train, val, val_distances):
    """What the generation study records of a density for the choice, with the codes as the judge's
    features (an identity decoder)."""
    samples, labels = densities.sample_per_digit(fitted, 1000, seed=0)
    val_stats = judge.feature_stats(val[0])
    return {
        "val_log_likelihood": 0.0,
        **generation.validation_figures(
            samples, labels, samples.astype(np.float64), train, val_stats, val_distances, ROOT_THRESHOLD
        ),
    }


def test_a_memorising_density_is_flagged_and_auto_refuses_it(monkeypatch):
    monkeypatch.setitem(densities.DENSITIES, "kde", lambda components, seed: MemorisingKDE())
    train, val = digit_codes(1500, seed=10), digit_codes(500, seed=11)  # not the samples' seed 0
    val_distances = copying.validation_distances(train, val)
    figures = {
        name: figures_of(densities.fit_per_digit(name, train, val, [1], 0)[0], train, val, val_distances)
        for name in ("full", "kde")
    }
    kde, full = figures["kde"], figures["full"]
    assert kde["nn_distance_ratio"] < 0.05 and kde["copies"]  # samples sit on training codes
    assert kde["meehan_ct"] < -20  # the three-sample test rejects "no copying" by far
    assert 0.85 < full["nn_distance_ratio"] < 1.15 and not full["copies"]  # the true model: as far as new data
    assert abs(full["meehan_ct"]) < 3
    assert kde["val_fd_judge"] < full["val_fd_judge"] * 2  # the Frechet distance cannot tell them apart
    monkeypatch.setitem(figures["kde"], "val_fd_judge", 0.0)  # even where it prefers the copy by far
    assert densities.choose(figures, "val_fd_judge", sphere=False) == "full"
    assert densities.choose(figures, "val_log_likelihood", sphere=False) == "full"


def test_every_density_copying_leaves_auto_the_best_of_them():
    figures = {"a": {"val_fd_judge": 2.0, "copies": True}, "b": {"val_fd_judge": 1.0, "copies": True}}
    assert densities.choose(figures, "val_fd_judge", sphere=False) == "b"


def test_a_too_broad_density_has_a_ratio_above_one():
    train, val = digit_codes(1500, seed=10), digit_codes(500, seed=11)  # not the samples' seed 0
    broad = (np.random.default_rng(5).normal(0, 6, (3000, 5)), np.repeat(np.arange(3), 1000))
    checks = copying.copying(*broad, train, copying.validation_distances(train, val))
    assert checks["nn_distance_ratio"] > 1.5 and checks["meehan_ct"] > 3


def test_mann_whitney_z_matches_scipy():
    import scipy.stats

    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 300), rng.normal(0.3, 1, 400)
    u = scipy.stats.mannwhitneyu(a, b).statistic
    assert copying.mann_whitney_z(a, b) == pytest.approx((u - 300 * 400 / 2) / np.sqrt(300 * 400 * 701 / 12))


def test_full_covariances_while_components_hold_enough_codes_per_dimension():
    per = densities.FULL_CODES_PER_DIM
    assert densities.covariance_kind(per * 30 * 16, 30, 16) == "full"
    assert densities.covariance_kind(per * 30 * 16 - 1, 30, 16) == "diag"
    assert densities.covariance_kind(10**6, densities.FULL_MAX_DIM + 1, 1) == "diag"  # 100-d codes: diagonal
