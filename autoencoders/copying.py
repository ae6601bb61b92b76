"""Does a density copy its training codes? Two checks in code space, per digit against that digit's
training codes, with the validation codes as what a density that does not copy looks like.

- nn_distance_ratio: the median distance from a sample to its nearest training code over the same
  median for real validation codes. About 1 for a density as far from the training set as new data;
  below 1 its samples hug training codes (a memorising density's are near 0); above 1 they fall
  where there are no codes (too broad a density).
- meehan_ct: Meehan, Chaudhuri & Dasgupta (AISTATS 2020)'s three-sample statistic C_T. In each cell,
  the Mann-Whitney U test of the samples' nearest-training distances against the validation codes',
  as a z-score (negative: samples closer than validation codes); C_T is their mean weighted by each
  cell's share of the validation codes. The cells here are the digits, as every density is fitted
  per digit (the paper's are k-means cells of the training set). C_T << 0 (e.g. below -3) is copying.

Frechet distance, precision and recall do not see copying: a density that returns its training
images reaches the real-image floor on all three.
"""

from __future__ import annotations

import numpy as np
import scipy.stats
import torch

from .neighbours import nearest


def nearest_distances(queries: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Euclidean distance from each query row to its nearest reference row, in float64 (see nearest)."""
    distances, _ = nearest(
        torch.from_numpy(np.asarray(queries, dtype=np.float64)),
        torch.from_numpy(np.asarray(reference, dtype=np.float64)),
        1,
    )
    return distances[:, 0].numpy()


def mann_whitney_z(a: np.ndarray, b: np.ndarray) -> float:
    """(U - mn/2) / sqrt(mn(m+n+1)/12): the normal approximation of the U statistic of a against b,
    U counting the pairs where a's value is the larger (ties half). Negative: a tends to be smaller."""
    m, n = len(a), len(b)
    u = scipy.stats.rankdata(np.concatenate([a, b]))[:m].sum() - m * (m + 1) / 2
    return float((u - m * n / 2) / np.sqrt(m * n * (m + n + 1) / 12))


def validation_distances(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray]) -> dict:
    """digit -> the distance from each of its validation codes to its nearest training code of that
    digit: what copying() compares every density's samples with, computed once per variant."""
    (z, y), (zv, yv) = train, val
    return {d: nearest_distances(zv[yv == d], z[y == d]) for d in sorted(set(y.tolist()))}


def copying(
    samples: np.ndarray, sample_labels: np.ndarray, train: tuple[np.ndarray, np.ndarray], val_distances: dict
) -> dict:
    """nn_distance_ratio and meehan_ct of one density's samples (codes and their digits) against the
    training codes (codes, labels); val_distances: validation_distances(train, val)."""
    z, y = train
    own, zs, weights = [], [], []
    for d, real in val_distances.items():
        own.append(nearest_distances(samples[sample_labels == d], z[y == d]))
        zs.append(mann_whitney_z(own[-1], real))
        weights.append(len(real))
    real_all = np.concatenate(list(val_distances.values()))
    ratio = float(np.median(np.concatenate(own)) / np.median(real_all))
    return {"nn_distance_ratio": ratio, "meehan_ct": float(np.average(zs, weights=weights))}
