"""Latent codes: every split embedded by a model, the embeddings file read back, and the geometry of
codes (on the sphere or not, paths between two codes). The classifiers on codes are in classifiers.py,
which analyze does not run: an edit to a classifier re-runs classify, not analyze."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from . import layout

# --- embeddings ----------------------------------------------------------------------------


@torch.no_grad()
def embed(model, x: torch.Tensor, batch_size: int = 1000, desc: str = "embed") -> np.ndarray:
    model.eval()
    chunks = [
        model.encode(x[i : i + batch_size]).float().cpu()
        for i in tqdm(range(0, len(x), batch_size), desc=desc, unit="batch", leave=False)
    ]
    return torch.cat(chunks).numpy()


def embeddings_frame(split: str, codes: np.ndarray, labels: np.ndarray, index: np.ndarray):
    import pandas as pd  # here only: the stages that read codes do not pay its import

    frame = pd.DataFrame(codes, columns=[f"z{i}" for i in range(codes.shape[1])])
    frame.insert(0, "label", labels.astype(np.int64))
    frame.insert(0, "index", index.astype(np.int64))
    frame.insert(0, "split", split)
    return frame


def embed_splits(model, splits: dict[str, tuple]) -> tuple:
    """(one parquet-ready frame of every split, split -> (codes float32, labels int64)); splits:
    split -> (images (N, 1, 28, 28), labels, index into the official file)."""
    import pandas as pd

    frames, codes = [], {}
    for split, (images, labels, index) in splits.items():
        z = embed(model, images, desc=f"embed {split}")
        frames.append(embeddings_frame(split, z, labels, index))
        codes[split] = (z, labels.astype(np.int64))
    return pd.concat(frames, ignore_index=True), codes


def load_embeddings(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """split -> (codes float32 (N, d), labels int64 (N,)), rows in file order.

    Read with pyarrow alone (pandas costs its import, a second of a classify stage); the codes are
    stacked row-major, which makes every matrix product on them (probe, kNN) 2-5x faster on 1000-d codes.
    """
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    split = table.column("split").to_numpy(zero_copy_only=False)
    labels = table.column("label").to_numpy()
    codes = np.stack([table.column(c).to_numpy() for c in table.column_names if c.startswith("z")], axis=1)
    codes = codes.astype(np.float32, copy=False)
    return {s: (np.ascontiguousarray(codes[split == s]), labels[split == s].copy()) for s in layout.SPLITS}


# --- the geometry of codes ------------------------------------------------------------------


def codes_on_sphere(codes: np.ndarray) -> bool:
    """Whether every code has unit norm (the S2 variant's encoder projects onto the sphere)."""
    return bool(np.allclose(np.linalg.norm(codes, axis=1), 1.0, atol=1e-4))


def interpolate(a: np.ndarray, b: np.ndarray, steps: int, sphere: bool) -> np.ndarray:
    """steps codes from a to b, both included: a straight line, or the great circle on the sphere."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    angle = np.arccos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1.0, 1.0))
    if not sphere or angle < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * angle) * a + np.sin(t * angle) * b) / np.sin(angle)
