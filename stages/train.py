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
from pathlib import Path

from autoencoders import io, models, params, runtime, tracking
from autoencoders.models.base import collapse_warning
from autoencoders.train import pick_device, reconstruction_strip
from autoencoders.variants import train_variant


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
    run_params = {
        "seed": p.seed,
        "family": variant.family,
        "arch": variant.arch,
        "train": dataclasses.asdict(variant.train),
    }
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
    print(
        f"{args.variant}: validation squared error per image {metrics['val_sq_error_per_image']:.3f} "
        f"(mean image: {metrics['val_mean_image_sq_error_per_image']:.3f}), "
        f"{timing['seconds']:.1f}s, {timing['images_per_second']:.0f} images/s"
    )
    if warning := collapse_warning(
        variant.name, "validation", metrics["val_sq_error_per_image"], metrics["val_mean_image_sq_error_per_image"]
    ):
        print(warning, file=sys.stderr)


if __name__ == "__main__":
    runtime.run(main)
