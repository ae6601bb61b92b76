"""Scores of predictions, and kNN's vote among neighbours already found: numpy alone, so that the
knn stage starts without torch."""

from __future__ import annotations

import numpy as np


def accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    return float((pred == labels).mean())


def knn_votes(nearest: np.ndarray, ks: list[int]) -> dict[int, np.ndarray]:
    """Majority vote of the k nearest (nearest: labels, closest first), for every k; ties go to the nearest."""
    rows = np.arange(len(nearest))
    preds = {}
    for k in ks:
        votes = (nearest[:, :k, None] == np.arange(10)).sum(1).astype(np.float64)
        votes[rows, nearest[:, 0]] += 0.5
        preds[k] = votes.argmax(1)  # the first of equal maxima, as torch's argmax
    return preds


def choose_k(neighbours: dict[str, np.ndarray], grid: list[int]) -> tuple[int, np.ndarray]:
    """(k with the best validation accuracy, the smallest among equals; its test predictions)."""
    val_preds = knn_votes(neighbours["val_nearest"], grid)
    k = max(grid, key=lambda k: (accuracy(val_preds[k], neighbours["val_labels"]), -k))
    return k, knn_votes(neighbours["test_nearest"], [k])[k]


def classification_metrics(pred: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, macro F1 and per-digit precision/recall/F1/support (rows: true digit).

    scikit-learn's precision_recall_fscore_support gives the same figures (tests/test_latent.py
    holds the two equal), but importing sklearn.metrics takes 1.85 s on the 2-core machine, longer
    than the whole knn stage's work, ten times per study: so the knn stage keeps numpy alone."""
    digits = sorted(set(labels.tolist()))
    per_digit = {}
    for d in digits:
        tp = int(((pred == d) & (labels == d)).sum())
        precision = tp / max(1, int((pred == d).sum()))
        recall = tp / max(1, int((labels == d).sum()))
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_digit[str(d)] = {"precision": precision, "recall": recall, "f1": f1, "support": int((labels == d).sum())}
    return {
        "accuracy": accuracy(pred, labels),
        "macro_f1": float(np.mean([m["f1"] for m in per_digit.values()])),
        "per_digit": per_digit,
    }


def confusion_rows(actual: np.ndarray, predicted: np.ndarray) -> list[dict]:
    """One row per test code, as DVC's confusion template reads them."""
    return [{"actual": int(a), "predicted": int(p)} for a, p in zip(actual, predicted)]
