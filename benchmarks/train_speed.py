"""Training speed: our in-memory loop against the notebooks' DataLoader, side by side, same run.

For every trainable variant in params.yaml, trains a fresh model for a fixed number of batches at the
variant's (the notebook's) batch size, both ways through the pipeline's own loop (train.fit):
  ours      loader: tensor, the split as one float tensor in memory, batches sliced from a seeded
            permutation;
  notebook  loader: dataloader, a shuffling torch DataLoader over torchvision's own MNIST class,
            whose __getitem__ turns each uint8 image into a PIL image and through ToTensor.
It also measures this machine's float32 matmul peak and reports the fraction of it that our
training reaches (model FLOPs counted by torch's FlopCounterMode), and the largest speed-up any
loop could show here: the DataLoader's own cost per image is fixed, so even training at 100% of
the matmul peak (compute floor = FLOPs per image / peak) gives at most
(floor + DataLoader cost) / floor.

Needs data/split (`dvc repro split`). Usage: python -m benchmarks.train_speed [--batches N] [--device D]
(--device: cpu, the default, or cuda / mps; the peak is then that device's float32 matmul peak).
"""

import argparse
import dataclasses
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from autoencoders import data, layout, models, params
from autoencoders.train import fit, pick_device, seed_everything


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak_flops(device: torch.device, n: int = 2048, repeats: int = 5, trials: int = 5) -> float:
    """The best of several timed trials: a busy moment lowers one trial, never raises it."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b  # warm-up
    synchronize(device)
    best = float("inf")
    for _ in range(trials):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 * repeats / best


def flops_per_image(model, batch: torch.Tensor) -> float:
    with FlopCounterMode(display=False) as counter:
        model.loss(batch)[0].backward()
    model.zero_grad()
    return counter.get_total_flops() / len(batch)


def images_per_second(variant, train_x, val_x, batches: int, loader: str):
    """Train a fresh model for `batches` batches on train_x's device; return (images/second, the model)."""
    seed_everything(0)
    model = models.build(variant.family, variant.arch).to(train_x.device)
    n = batches * variant.train.batch_size
    cfg = dataclasses.replace(variant.train, epochs=1, schedule="constant", loader=loader)
    history = fit(model, train_x[:n], val_x[:1], cfg, seed=0, name=f"{variant.name} ({loader})")
    return n / history[0]["seconds"], model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=500)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--split", default="data/split")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or mps")
    args = parser.parse_args()
    p = params.load(args.params)
    device = pick_device(args.device, "--device")
    train_x, _ = data.load_split(layout.split_file(args.split, "train"), device)
    val_x, _ = data.load_split(layout.split_file(args.split, "val"), device)
    peak = matmul_peak_flops(device, n=8192 if device.type == "cuda" else 2048)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"float32 matmul peak on {device} ({where}): {peak / 1e9:.1f} GFLOP/s; torch {torch.__version__}\n")
    print(
        "| variant | batch | ours (img/s) | notebook DataLoader (img/s) | speed-up | % of matmul peak "
        "| speed-up bound at matmul peak |"
    )
    print("|---|---|---|---|---|---|---|")
    for variant in p.variants.values():
        if not models.FAMILIES[variant.family].trainable:
            continue
        batches = min(args.batches, len(train_x) // variant.train.batch_size)
        speed, model = images_per_second(variant, train_x, val_x, batches, "tensor")
        baseline, _ = images_per_second(variant, train_x, val_x, batches, "dataloader")
        floor = flops_per_image(model, train_x[: variant.train.batch_size]) / peak  # seconds per image
        loader_cost = max(0.0, 1 / baseline - 1 / speed)  # what the DataLoader adds per image
        print(
            f"| {variant.name} | {variant.train.batch_size} | {speed:,.0f} | {baseline:,.0f} | "
            f"{speed / baseline:.1f}x | {100 * floor * speed:.1f}% | {(floor + loader_cost) / floor:.1f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
