"""train@V: fit one variant on the train split, validating each epoch.

Reads: SPLIT/{train,val,test}.npz; params seed, train, variants.V.
Writes: the checkpoint (family, arch, weights), the per-epoch history CSV, a deterministic metrics
JSON (losses, test error per image, parameter count) and a timing JSON (seconds, images/second),
kept apart so that re-running with the same params reproduces the metrics byte for byte.
"""
import argparse
import dataclasses
import time
from pathlib import Path

import torch

from autoencoders import data, io, models, params, tracking
from autoencoders.train import fit, pick_device, reconstruction_errors, seed_everything


def train_variant(variant: params.Variant, seed: int, split_dir: Path, on_epoch=None):
    """Build, fit and score one variant; returns (model, history, metrics, timing)."""
    device = pick_device(variant.train.device)
    train_x, _ = data.load_split(split_dir / "train.npz", device)
    val_x, _ = data.load_split(split_dir / "val.npz", device)
    test_x, _ = data.load_split(split_dir / "test.npz", device)
    seed_everything(seed)
    model = models.build(variant.family, variant.arch).to(device)
    start = time.perf_counter()
    history = fit(model, train_x, val_x, variant.train, seed=seed, name=variant.name, on_epoch=on_epoch)
    seconds = time.perf_counter() - start
    last = history[-1]
    metrics = {"train_loss": last["train_loss"], "val_loss": last["val_loss"], "epochs": variant.train.epochs,
               "parameters": sum(p.numel() for p in model.parameters()), "latent_dim": model.latent_dim,
               **{f"test_{k}": v for k, v in reconstruction_errors(model, test_x).items()}}
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
    p = params.load(args.params)
    variant = params.variant(p, args.variant)
    run_params = {"seed": p.seed, "family": variant.family, "arch": variant.arch, "train": dataclasses.asdict(variant.train)}
    with tracking.LiveRun(variant.name, run_params) as live:  # checks the tracking server before any work
        model, history, metrics, timing = train_variant(variant, p.seed, args.split, on_epoch=live.log_epoch)
    models.save_checkpoint(model, args.model)
    io.write_csv(args.history, [{k: row[k] for k in ("epoch", "train_loss", "val_loss")} for row in history])
    io.write_json(args.metrics, metrics)
    io.write_json(args.timing, timing)
    print(f"{args.variant}: test squared error per image {metrics['test_sq_error_per_image']:.3f}, "
          f"{timing['seconds']:.1f}s, {timing['images_per_second']:.0f} images/s")


if __name__ == "__main__":
    main()
