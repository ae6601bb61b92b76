"""What watching a training costs per epoch: the live run's losses alone (the baseline, as before)
beside the losses, the strip of validation digits and their reconstructions (drawn and logged as an
image) and history.csv rewritten, on a fresh SQLite store, for one trained variant's model.

  python -m benchmarks.watch_cost [--variant conv30] [--epochs 10]     (after `dvc repro`)
"""

import argparse
import os
import platform
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from autoencoders import data, io, layout, models, tracking
from autoencoders.train import reconstruction_strip
from benchmarks.pipeline import cpu_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", default="conv30")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    model = models.load_checkpoint(layout.model_file("models", args.variant))
    val_x, _ = data.load_split(layout.split_file("data/split", "val"))
    folder = Path(tempfile.mkdtemp())
    os.environ["DVC_ROOT"] = str(folder)  # a store of its own: tracking.store() finds it there
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    plain, watched = [], []
    with tracking.LiveRun(args.variant, {"seed": 0}) as live:
        rows = []
        for epoch in range(1, args.epochs + 1):
            row = {"epoch": epoch, "train_loss": 1.0 / epoch, "val_loss": 1.0 / epoch}
            start = time.perf_counter()
            live.log_epoch(row)
            plain.append(time.perf_counter() - start)
            start = time.perf_counter()
            rows.append(row)
            live.log_epoch(row, reconstruction_strip(model, val_x))
            io.write_csv(folder / "history.csv", rows)
            watched.append(time.perf_counter() - start)
    print(f"# {date.today()}, {cpu_model()}, {platform.python_version()}, {args.variant}, {args.epochs} epochs\n")
    print("| per epoch | losses only (before) | losses, strip, history.csv (now) | extra |")
    print("|---|---|---|---|")
    for name, f in (("median (s)", statistics.median), ("max (s)", max)):
        print(f"| {name} | {f(plain):.3f} | {f(watched):.3f} | {f(watched) - f(plain):.3f} |")


if __name__ == "__main__":
    main()
