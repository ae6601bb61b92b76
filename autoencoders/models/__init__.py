"""Model registry: family name -> class. A checkpoint stores (family, arch, weights) and nothing else."""

from __future__ import annotations

from pathlib import Path

from .. import checkpoints
from ..checkpoints import CheckpointError
from ..checkpoints import save as save_checkpoint
from .base import Autoencoder
from .conv import ConvAutoencoder
from .convnet import ConvNetAutoencoder
from .ksparse import KSparseAutoencoder
from .mlp import MLPAutoencoder
from .pca import PCA
from .vae import VAE

__all__ = ["FAMILIES", "Autoencoder", "CheckpointError", "build", "load_checkpoint", "save_checkpoint"]

FAMILIES: dict[str, type[Autoencoder]] = {
    "mlp": MLPAutoencoder,
    "conv": ConvAutoencoder,
    "convnet": ConvNetAutoencoder,
    "vae": VAE,
    "pca": PCA,
    "ksparse": KSparseAutoencoder,
}


def build(family: str, arch: dict) -> Autoencoder:
    return checkpoints.build(family, arch, FAMILIES)


def load_checkpoint(path: str | Path, device="cpu") -> Autoencoder:
    return checkpoints.load(path, FAMILIES, device)
