"""Checkpoints that rebuild their model alone: (family, arch, weights), for any registry of model classes.

Kept apart from the autoencoder registry so that the judge, which has a registry of its own,
does not import (nor depend on) every autoencoder family.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import torch

from .errors import UserError
from .io import atomic_path


class CheckpointError(UserError, ValueError):
    """A checkpoint file is missing, corrupt or describes an unknown model."""


def build(family: str, arch: dict, registry: dict) -> torch.nn.Module:
    """Instantiate a family; the model remembers its full arguments (defaults filled in) for checkpoints.
    An argument a family renamed (its RENAMED_ARGS: old name -> new) is passed under its new name."""
    cls = registry[family]
    arch = {getattr(cls, "RENAMED_ARGS", {}).get(key, key): value for key, value in arch.items()}
    bound = inspect.signature(cls.__init__).bind(None, **arch)
    bound.apply_defaults()
    model = cls(**arch)
    model.family = family
    model.arch = {k: v for k, v in bound.arguments.items() if k != "self"}
    return model


def save(model: torch.nn.Module, path: str | Path) -> None:
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"family": model.family, "arch": model.arch, "state_dict": state}, tmp)


def load(path: str | Path, registry: dict, device="cpu") -> torch.nn.Module:
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
    # channels_last: oneDNN's faster layout for convolutions on CPU (measured in benchmarks/README.md,
    # v0.2.0); results move in the last bits only, and the 2-D weights of the MLPs are left as they are.
    return model.to(device, memory_format=torch.channels_last).eval()
