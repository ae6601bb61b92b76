"""28x28 digit images as arrays, numpy alone (so the training loop can draw them without matplotlib):
floats in [0, 1] to bytes, and tiles laid out row by row with one pixel of white between them."""

from __future__ import annotations

import numpy as np

SIZE, GAP = 28, 1  # a digit's side; the white between tiles


def to_bytes(images) -> np.ndarray:
    """Images in [0, 1] (any shape) as uint8, rounded half to even, out-of-range values clipped."""
    return np.clip(np.rint(np.asarray(images) * 255), 0, 255).astype(np.uint8)


def tiled(images: np.ndarray, rows: int) -> np.ndarray:
    """images (rows * cols, 28, 28) tiled row by row in a float canvas of white (1.0)."""
    cols = len(images) // rows
    step = SIZE + GAP
    canvas = np.ones((rows * step - GAP, cols * step - GAP))
    for i, img in enumerate(images[: rows * cols]):
        r, c = divmod(i, cols)
        canvas[r * step : r * step + SIZE, c * step : c * step + SIZE] = img
    return canvas
