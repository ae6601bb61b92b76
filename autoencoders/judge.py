"""The referee for generated digits: a pixel-space CNN trained on real training images only.

Its penultimate features give fd_judge between two image sets: the FID formula on this MNIST
classifier's features, not comparable to Inception FID values. (Until v0.3 it was called FJD, which is
already the name of another metric, the Frechet Joint Distance of DeVries et al. 2019.)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .neighbours import nearest


class JudgeCNN(nn.Module):
    def __init__(self, features: int = 128):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.25),
            nn.Linear(64 * 49, features),
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.25), nn.Linear(features, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Cross-entropy, in the (scalar, parts) form the training loop expects."""
        value = nn.functional.cross_entropy(self(x), y)
        return value, {"cross_entropy": value.item()}


JUDGES = {"judge": JudgeCNN}  # a registry of its own: the judge is no autoencoder variant


@torch.no_grad()
def judge_outputs(judge: JudgeCNN, images: torch.Tensor, batch_size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(predicted digits, penultimate features as float64) for images (N, 1, 28, 28) in [0, 1].

    batch_size 128: the fastest of 64 to 2,500 on 2 cores (cache-sized activations); every size
    gives the same bits."""
    judge.eval()
    preds, feats = [], []
    for start in range(0, len(images), batch_size):
        f = judge.features(images[start : start + batch_size])
        feats.append(f.double().cpu())
        preds.append(judge.classifier(f).argmax(1).cpu())
    return torch.cat(preds).numpy(), torch.cat(feats).numpy()


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of a feature set (rows = samples): all a Frechet distance needs of it."""
    return features.mean(0), np.cov(features, rowvar=False)


def _symmetric(matrix: np.ndarray) -> np.ndarray:
    return (matrix + matrix.T) / 2


def _psd_eigenvalues(values: np.ndarray) -> np.ndarray:
    """Eigenvalues of a positive semi-definite matrix with rounding noise set to zero.

    A zero eigenvalue comes out as +-1e-16 or so, and its square root, 1e-8, would move with every
    last-bit change of the input; anything below the float64 resolution of the largest is zero.
    """
    tolerance = np.abs(values).max(initial=0.0) * len(values) * np.finfo(np.float64).eps
    return np.where(values > tolerance, values, 0.0)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix from its eigendecomposition."""
    values, vectors = np.linalg.eigh(_symmetric(matrix))
    return (vectors * np.sqrt(_psd_eigenvalues(values))) @ vectors.T


def frechet_distance(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a^1/2 S_b S_a^1/2)^1/2) between (mean, covariance) pairs.

    The trace term comes from two symmetric eigendecompositions: (S_a S_b)^1/2 has the same trace,
    but `sqrtm` of that non-symmetric product is ill-conditioned when the covariances are singular
    (dead ReLU features), and moved the 7th digit between identical runs.
    """
    (mu_a, cov_a), (mu_b, cov_b) = a, b
    root_a = _sqrt_psd(cov_a)
    inner = np.linalg.eigvalsh(_symmetric(root_a @ cov_b @ root_a))
    trace_root = np.sqrt(_psd_eigenvalues(inner)).sum()
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)
    return max(value, 0.0)


MANIFOLD_K = 3  # Kynkaanniemi et al.'s k for the k-nearest-neighbour manifolds


def knn_radii(features: torch.Tensor, k: int, chunk: int = 2000) -> torch.Tensor:
    """Distance of each row to its k-th nearest other row: the radius of its ball in the manifold."""
    return nearest(features, features, k + 1, chunk)[0][:, k]  # k + 1: each row is its own nearest


def precision_recall(
    real: np.ndarray,
    generated: np.ndarray,
    k: int = MANIFOLD_K,
    radii_real: np.ndarray | None = None,
    chunk: int = 2000,
) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of generated features against real ones.

    Precision: the share of generated samples inside the real manifold (the union of balls reaching
    each real sample's k-th neighbour); recall: the share of real samples inside the generated one.
    radii_real: the real set's knn_radii, when computed once for many generated sets.
    """
    real_t, gen_t = torch.from_numpy(real).float(), torch.from_numpy(generated).float()
    radii = knn_radii(real_t, k) if radii_real is None else torch.from_numpy(radii_real).float()
    radii_gen = knn_radii(gen_t, k)
    in_real = torch.zeros(len(gen_t), dtype=torch.bool)
    in_generated = []
    for i in range(0, len(real_t), chunk):  # one pass over the real x generated distances serves both
        dist = torch.cdist(real_t[i : i + chunk], gen_t)
        in_real |= (dist <= radii[i : i + chunk, None]).any(0)
        in_generated.append((dist <= radii_gen).any(1))
    return float(in_real.double().mean()), float(torch.cat(in_generated).double().mean())


def score_images(referee: JudgeCNN, images: torch.Tensor, labels: np.ndarray, reference: dict, floor: float) -> dict:
    """How a set of images scores against the real test images (reference: the judge stage's features
    and their statistics; floor: real training images' fd_judge): judge accuracy overall and per digit,
    fd_judge, fd_judge over the floor, and improved precision and recall."""
    return score_outputs(*judge_outputs(referee, images), labels, reference, floor)


def score_outputs(preds: np.ndarray, feats: np.ndarray, labels: np.ndarray, reference: dict, floor: float) -> dict:
    """score_images() from the judge's outputs (judge_outputs), for callers that use the features again."""
    per_digit = {str(d): float((preds[labels == d] == d).mean()) for d in sorted(set(labels.tolist()))}
    fd = frechet_distance(feature_stats(feats), (reference["mean"], reference["covariance"]))
    precision, recall = precision_recall(reference["features"], feats, radii_real=reference["radii"])
    return {
        "judge_accuracy": float((preds == labels).mean()),
        "per_digit_accuracy": per_digit,
        "fd_judge": fd,
        "fd_judge_over_floor": fd / floor,
        "precision": precision,
        "recall": recall,
    }
