"""Model registry: family name -> class. A checkpoint stores (family, arch, weights) and nothing else."""
from __future__ import annotations

import inspect
from pathlib import Path

import torch

from .base import Autoencoder
from .conv import ConvAutoencoder
from .convnet import ConvNetAutoencoder
from .ksparse import KSparseAutoencoder
from .mlp import MLPAutoencoder
from .pca import PCA
from .vae import VAE

FAMILIES: dict[str, type[Autoencoder]] = {
    "mlp": MLPAutoencoder, "conv": ConvAutoencoder, "convnet": ConvNetAutoencoder, "vae": VAE, "pca": PCA,
    "ksparse": KSparseAutoencoder}


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt or describes an unknown model."""


def build(family: str, arch: dict, registry: dict = FAMILIES) -> torch.nn.Module:
    """Instantiate a family; the model remembers its full arguments (defaults filled in) for checkpoints."""
    cls = registry[family]
    bound = inspect.signature(cls.__init__).bind(None, **arch)
    bound.apply_defaults()
    model = cls(**arch)
    model.family = family
    model.arch = {k: v for k, v in bound.arguments.items() if k != "self"}
    return model


def save_checkpoint(model: torch.nn.Module, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save({"family": model.family, "arch": model.arch, "state_dict": state}, tmp)
    tmp.replace(path)


def load_checkpoint(path: str | Path, device="cpu", registry: dict = FAMILIES) -> torch.nn.Module:
    """Rebuild a model from its checkpoint alone; weights_only=True never unpickles code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
        if ckpt["family"] not in registry:
            raise CheckpointError(f"{path}: unknown model family {ckpt['family']!r}")
        model = build(ckpt["family"], ckpt["arch"], registry)
        model.load_state_dict(ckpt["state_dict"])
    except CheckpointError:
        raise
    except Exception as err:  # torch raises many kinds on a damaged file
        raise CheckpointError(f"{path}: not a valid checkpoint: {type(err).__name__}: {err}") from None
    return model.to(device).eval()
