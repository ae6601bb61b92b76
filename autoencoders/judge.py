"""The referee for generated digits: a pixel-space CNN trained on real training images only.

Its penultimate features give the Frechet judge distance (FJD) between two image sets: the FID
formula on this MNIST classifier's features. It is not comparable to Inception FID values.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
import torch
from torch import nn


class JudgeCNN(nn.Module):
    def __init__(self, features: int = 128):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 49, features), nn.ReLU())
        self.classifier = nn.Sequential(nn.Dropout(0.25), nn.Linear(features, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Cross-entropy, in the (scalar, parts) form the training loop expects."""
        value = nn.functional.cross_entropy(self(x), y)
        return value, {"cross_entropy": value.item()}


JUDGES = {"judge": JudgeCNN}  # a registry of its own: the judge is no autoencoder variant


@torch.no_grad()
def judge_outputs(judge: JudgeCNN, images: torch.Tensor, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """(predicted digits, penultimate features as float64) for images (N, 1, 28, 28) in [0, 1]."""
    judge.eval()
    preds, feats = [], []
    for start in range(0, len(images), batch_size):
        f = judge.features(images[start:start + batch_size])
        feats.append(f.double().cpu())
        preds.append(judge.classifier(f).argmax(1).cpu())
    return torch.cat(preds).numpy(), torch.cat(feats).numpy()


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of a feature set (rows = samples): all a Frechet distance needs of it."""
    return features.mean(0), np.cov(features, rowvar=False)


def frechet_distance(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2) between two (mean, covariance) pairs."""
    (mu_a, cov_a), (mu_b, cov_b) = a, b
    with warnings.catch_warnings():  # dead ReLU features make the product singular; sqrtm still copes
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = np.real(scipy.linalg.sqrtm(cov_a @ cov_b))  # tiny imaginary parts are numerical noise
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))
    return max(value, 0.0)
