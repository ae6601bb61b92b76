"""Classifiers on frozen codes, as users would fit them: the conv notebook's head, a linear probe,
the nearest neighbours kNN votes among, and k-means as a clustering probe. They work from embeddings
alone (latent.load_embeddings); nothing here loads an autoencoder. Only classify runs this module.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .neighbours import nearest
from .scoring import accuracy


@contextlib.contextmanager
def seeded(seed: int):
    """torch's global generator seeded for the block (layer initialisation draws from it) and put back
    after, so fitting a classifier leaves the process's random state as it found it."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class Standardizer:
    """Zero mean, unit variance per dimension, fitted on the training codes."""

    def __init__(self, train: np.ndarray):
        self.mean = train.mean(0)
        self.std = train.std(0) + 1e-8

    def __call__(self, z: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((z - self.mean) / self.std).astype(np.float32))


def fit_head(train, val, hidden: int, epochs: int, batch_size: int, lr: float, seed: int):
    """The conv notebook's head, d-hidden-ReLU-10, trained with Adam on raw frozen codes.

    Returns (predict function, chosen epoch): the epoch with the best validation accuracy.
    """
    (z, y), (zv, yv) = train, val
    with seeded(seed):
        head = nn.Sequential(nn.Linear(z.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, 10))
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(head.parameters(), lr=lr)
    z_t, y_t, zv_t = torch.from_numpy(z), torch.from_numpy(y), torch.from_numpy(zv)
    predict = lambda net, codes: (
        net(torch.from_numpy(codes) if isinstance(codes, np.ndarray) else codes).argmax(1).numpy()
    )
    best = (-1.0, 0, None)
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(z_t), generator=generator)
        for start in tqdm(range(0, len(z_t), batch_size), desc=f"head epoch {epoch}", leave=False):
            idx = order[start : start + batch_size]
            loss = nn.functional.cross_entropy(head(z_t[idx]), y_t[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            acc = accuracy(predict(head, zv_t), yv)
        if acc > best[0]:
            best = (acc, epoch, {k: v.clone() for k, v in head.state_dict().items()})
    head.load_state_dict(best[2])
    head.eval()
    return (lambda codes: predict(head, codes)), best[1]


PROBE_MAX_ITER = 100


def fit_logistic(linear: nn.Linear, x: torch.Tensor, y: torch.Tensor, c: float, tolerance: float) -> int:
    """Fits linear in place, from its current weights, by full-batch L-BFGS; returns its iterations.

    It stops when no gradient entry of the loss per code exceeds tolerance, or after PROBE_MAX_ITER
    iterations. The loss is summed over the codes, as it was when the stop was 1e-6 on that sum, a
    bound never met: 100 iterations for every C of the 100-d codes (docs/results.md, the probe's stop)."""
    optimizer = torch.optim.LBFGS(
        linear.parameters(),
        lr=1,
        max_iter=PROBE_MAX_ITER,
        history_size=20,
        line_search_fn="strong_wolfe",
        tolerance_grad=tolerance * len(x),
    )

    def closure():
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(linear(x), y, reduction="sum") + linear.weight.pow(2).sum() / (2 * c)
        loss.backward()
        return loss

    optimizer.step(closure)
    return optimizer.state[linear.weight]["n_iter"]


def fit_probe(train, val, grid: list[float], tolerance: float, seed: int):
    """Multinomial logistic regression (L2, strength 1/C as in scikit-learn), chosen on val.

    Walks the C grid from the strongest regularisation up, each fit starting from the previous
    solution (a warm start: about half the time of cold starts, same accuracy).
    """
    (z, y), (zv, yv) = train, val
    scale = Standardizer(z)
    x, x_val, y_t = scale(z), scale(zv), torch.from_numpy(y)
    best = (-1.0, None, None)
    with seeded(seed):
        linear = nn.Linear(x.shape[1], 10)
    for c in sorted(grid):
        fit_logistic(linear, x, y_t, c, tolerance)
        with torch.no_grad():
            acc = accuracy(linear(x_val).argmax(1).numpy(), yv)
        if acc > best[0]:
            best = (acc, c, {k: v.clone() for k, v in linear.state_dict().items()})
    linear.load_state_dict(best[2])
    return (lambda codes: linear(scale(codes)).argmax(1).detach().numpy()), best[1]


CLASSIFIERS = {  # classify.<name>: fit(train, val, classify params, seed) -> (predict, the setting chosen on val)
    "head": (
        lambda train, val, cfg, seed: fit_head(
            train, val, cfg.head_hidden, cfg.head_epochs, cfg.head_batch_size, cfg.head_lr, seed
        ),
        "epoch",
    ),
    "probe": (lambda train, val, cfg, seed: fit_probe(train, val, cfg.probe_c, cfg.probe_tolerance, seed), "C"),
}


def nearest_labels(
    ref: torch.Tensor, labels: torch.Tensor, queries: torch.Tensor, k: int, chunk: int = 1000
) -> np.ndarray:
    """Labels of each query's k nearest reference codes, closest first: (N, k)."""
    return labels[nearest(queries, ref, k, chunk)[1]].numpy()


def find_neighbours(train, val, test, k: int) -> dict[str, np.ndarray]:
    """The labels of the k nearest standardized training codes of every val and test code, and the
    codes' own labels: all that kNN with any k up to this one needs (knn_votes), so it is searched once."""
    (z, y), (zv, yv), (zt, yt) = train, val, test
    scale = Standardizer(z)
    ref, labels = scale(z), torch.from_numpy(y)  # standardized once, for val and test
    return {
        "val_nearest": nearest_labels(ref, labels, scale(zv), k),
        "val_labels": yv,
        "test_nearest": nearest_labels(ref, labels, scale(zt), k),
        "test_labels": yt,
    }


def cluster_probe(codes: np.ndarray, labels: np.ndarray, restarts: int, seed: int) -> dict:
    """k-means with one cluster per digit on the codes, scored as in the ACAI paper (Berthelot et
    al. 2019): accuracy after matching clusters to digits one-to-one (Hungarian), and NMI."""
    from scipy.optimize import linear_sum_assignment
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score
    from threadpoolctl import threadpool_limits

    digits = np.unique(labels)
    # One BLAS thread: k-means' small products ran 4x (mlp) to 15x (deep2d) slower on two (2 cores).
    with threadpool_limits(1, user_api="blas"):
        clusters = KMeans(len(digits), n_init=restarts, random_state=seed).fit_predict(codes.astype(np.float64))
    counts = np.zeros((len(digits), len(digits)), dtype=np.int64)  # cluster x digit
    np.add.at(counts, (clusters, np.searchsorted(digits, labels)), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return {
        "accuracy": float(counts[rows, cols].sum() / len(labels)),
        "nmi": float(normalized_mutual_info_score(labels, clusters)),
    }
