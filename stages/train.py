"""train@V: fit one variant on the train split, validating each epoch.

Reads: SPLIT/{train,val}.npz; params seed, train, variants.V. The test split is evaluate's alone.
Writes: the checkpoint (family, arch, weights), the per-epoch history CSV, a deterministic metrics
JSON (losses, validation error per image beside the mean image's, parameter count) and a timing JSON
(seconds, images/second), kept apart so that re-running with the same params reproduces the metrics
byte for byte. Warns when the model has collapsed to the mean image.
"""
import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

from autoencoders import data, errors, io, layout, models, params, tracking
from autoencoders.models.base import collapse_warning, mean_image_sq_error, reconstruction_errors
from autoencoders.train import fit, pick_device, reconstruction_strip, seed_everything


def train_variant(variant: params.Variant, seed: int, split_dir: Path, device: torch.device, on_epoch=None):
    """Build, fit and validate one variant; returns (model, history, metrics, timing)."""
    train_x, _ = data.load_split(layout.split_file(split_dir, "train"), device)
    val_x, _ = data.load_split(layout.split_file(split_dir, "val"), device)
    seed_everything(seed)
    model = models.build(variant.family, variant.arch).to(device)
    start = time.perf_counter()
    watch = on_epoch and (lambda row: on_epoch(row, model, val_x))
    history = fit(model, train_x, val_x, variant.train, seed=seed, name=variant.name, on_epoch=watch)
    seconds = time.perf_counter() - start
    last = history[-1]
    metrics = {"train_loss": last["train_loss"], "val_loss": last["val_loss"], "epochs": variant.train.epochs,
               "parameters": sum(p.numel() for p in model.parameters()), "latent_dim": model.latent_dim,
               "val_sq_error_per_image": reconstruction_errors(model, val_x)["sq_error_per_image"],
               "val_mean_image_sq_error_per_image": mean_image_sq_error(train_x, val_x)}
    images = len(train_x) * variant.train.epochs if model.trainable else len(train_x)
    timing = {"seconds": seconds, "images_per_second": images / seconds, "device": str(device),
              "threads": torch.get_num_threads()}
    return model, history, metrics, timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--history", required=True)
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--timing", required=True)
    args = parser.parse_args()
    p = params.load(args.params, models.FAMILIES)
    variant = params.variant(p, args.variant)
    device = pick_device(variant.train.device, variant.key("device"))
    run_params = {"seed": p.seed, "family": variant.family, "arch": variant.arch, "train": dataclasses.asdict(variant.train)}
    rows = []

    def watch(row: dict, model, val_x) -> None:  # each epoch: the losses, the strip, history.csv so far
        rows.append({k: row[k] for k in ("epoch", "train_loss", "val_loss")})
        live.log_epoch(row, reconstruction_strip(model, val_x))
        io.write_csv(args.history, rows)  # atomically: `dvc plots show` can follow a running training

    with tracking.LiveRun(variant.name, run_params) as live:  # checks the tracking server before any work
        model, history, metrics, timing = train_variant(variant, p.seed, args.split, device, on_epoch=watch)
    models.save_checkpoint(model, args.model)
    io.write_json(args.metrics, metrics)
    io.write_json(args.timing, timing)
    print(f"{args.variant}: validation squared error per image {metrics['val_sq_error_per_image']:.3f} "
          f"(mean image: {metrics['val_mean_image_sq_error_per_image']:.3f}), "
          f"{timing['seconds']:.1f}s, {timing['images_per_second']:.0f} images/s")
    if warning := collapse_warning(variant.name, "validation", metrics["val_sq_error_per_image"],
                                   metrics["val_mean_image_sq_error_per_image"]):
        print(warning, file=sys.stderr)


if __name__ == "__main__":
    errors.run(main)
