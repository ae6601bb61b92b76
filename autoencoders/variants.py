"""One variant of params.yaml built, trained and measured on the validation split (the train@V stage).
Kept apart from train.py, the training loop the judge runs too, so that an edit to a model family
does not re-run the judge."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from . import data, layout, models, params
from .models.base import mean_image_sq_error, reconstruction_errors
from .train import fit, seed_everything


def train_variant(
    variant: params.Variant, seed: int, split_dir: Path, device: torch.device, on_epoch: Callable | None = None
):
    """Build, fit and validate one variant; returns (model, history, metrics, timing). on_epoch(row, model,
    val_x): called after each epoch (row: its losses)."""
    train_x, _ = data.load_split(layout.split_file(split_dir, "train"), device)
    val_x, _ = data.load_split(layout.split_file(split_dir, "val"), device)
    seed_everything(seed)
    model = models.build(variant.family, variant.arch).to(device)
    start = time.perf_counter()
    watch = on_epoch and (lambda row: on_epoch(row, model, val_x))
    history = fit(model, train_x, val_x, variant.train, seed=seed, name=variant.name, on_epoch=watch)
    seconds = time.perf_counter() - start
    last = history[-1]
    metrics = {
        "train_loss": last["train_loss"],
        "val_loss": last["val_loss"],
        "epochs": variant.train.epochs,
        "parameters": sum(p.numel() for p in model.parameters()),
        "latent_dim": model.latent_dim,
        "val_sq_error_per_image": reconstruction_errors(model, val_x)["sq_error_per_image"],
        "val_mean_image_sq_error_per_image": mean_image_sq_error(train_x, val_x),
    }
    images = len(train_x) * variant.train.epochs if model.trainable else len(train_x)
    timing = {
        "seconds": seconds,
        "images_per_second": images / seconds,
        "device": str(device),
        "threads": torch.get_num_threads(),
    }
    return model, history, metrics, timing
