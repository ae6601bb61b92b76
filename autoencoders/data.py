"""MNIST in memory: the split files as arrays and tensors, and .npz files that are the same bytes for
the same arrays. (The sources, downloads and splitting live in mnist.py, which only download and split run.)"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from .errors import UserError
from .io import atomic_path


class DataError(UserError, ValueError):
    """A data file is missing, malformed or fails its checksum."""


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Like np.savez, but with fixed zip timestamps so the same arrays give the same bytes."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue())


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, zipfile.BadZipFile, OSError) as err:
        raise DataError(f"{path}: not a readable .npz: {err}") from None


def images_tensor(images: np.ndarray, device="cpu"):
    """uint8 images (N, 28, 28) -> float32 (N, 1, 28, 28) in [0, 1] on device."""
    import torch

    return torch.from_numpy(images).to(device=device, dtype=torch.float32).div_(255).unsqueeze(1)


def load_split(path: str | Path, device="cpu"):
    """(images as float32 (N, 1, 28, 28) in [0, 1] on device, labels as int64) of one split file."""
    import torch

    arrays = load_npz(path)
    return images_tensor(arrays["images"], device), torch.from_numpy(arrays["labels"].astype(np.int64)).to(device)
