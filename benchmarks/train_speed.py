"""Training speed: our in-memory loop against the notebooks' DataLoader, side by side, same run.

For every trainable variant in params.yaml, trains a fresh model for a fixed number of batches at the
variant's (the notebook's) batch size, two ways:
  ours      the split as one float tensor in memory, batches sliced from a seeded permutation
            (autoencoders.train.fit, the loop the pipeline uses);
  notebook  torchvision.datasets.MNIST with per-item ToTensor, through a shuffling DataLoader.
It also measures this machine's float32 matmul peak and reports the fraction of it that our
training reaches (model FLOPs counted by torch's FlopCounterMode).

Needs data/raw and data/split (`dvc repro split`). Usage: python benchmarks/train_speed.py [--batches N]
"""
import argparse
import time

import torch
import torchvision
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from autoencoders import data, models, params
from autoencoders.train import fit, seed_everything


def matmul_peak_flops(n: int = 1024, repeats: int = 20) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def flops_per_image(model, batch: torch.Tensor) -> float:
    with FlopCounterMode(display=False) as counter:
        model.loss(batch)[0].backward()
    model.zero_grad()
    return counter.get_total_flops() / len(batch)


def ours(variant, train_x, val_x, batches: int) -> float:
    seed_everything(0)
    model = models.build(variant.family, variant.arch)
    n = batches * variant.train.batch_size
    cfg = params.TrainParams(epochs=1, batch_size=variant.train.batch_size, lr=variant.train.lr)
    history = fit(model, train_x[:n], val_x[:1], cfg, seed=0, name=variant.name)
    return n / history[0]["seconds"], model


def notebook_way(variant, raw_dir: str, batches: int) -> float:
    seed_everything(0)
    model = models.build(variant.family, variant.arch)
    dataset = torchvision.datasets.MNIST(raw_dir, train=True, download=False,
                                         transform=torchvision.transforms.ToTensor())
    loader = DataLoader(dataset, batch_size=variant.train.batch_size, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=variant.train.lr)
    model.train()
    start = time.perf_counter()
    seen = 0
    for step, (x, _) in enumerate(loader):
        if step == batches:
            break
        loss, _ = model.loss(x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += len(x)
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--raw", default="data/raw")
    parser.add_argument("--split", default="data/split")
    args = parser.parse_args()
    p = params.load(args.params)
    train_x, _ = data.load_split(f"{args.split}/train.npz")
    val_x, _ = data.load_split(f"{args.split}/val.npz")
    peak = matmul_peak_flops()
    print(f"float32 matmul peak on this machine: {peak / 1e9:.1f} GFLOP/s, {torch.get_num_threads()} threads\n")
    print(f"| variant | batch | ours (img/s) | notebook DataLoader (img/s) | speed-up | % of matmul peak |")
    print(f"|---|---|---|---|---|---|")
    for variant in p.variants.values():
        if not models.FAMILIES[variant.family].trainable:
            continue
        batches = min(args.batches, len(train_x) // variant.train.batch_size)
        speed, model = ours(variant, train_x, val_x, batches)
        baseline = notebook_way(variant, args.raw, batches)
        share = flops_per_image(model, train_x[:variant.train.batch_size]) * speed / peak
        print(f"| {variant.name} | {variant.train.batch_size} | {speed:,.0f} | {baseline:,.0f} | "
              f"{speed / baseline:.1f}x | {100 * share:.1f}% |", flush=True)


if __name__ == "__main__":
    main()
