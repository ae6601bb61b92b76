"""One model-agnostic fitting loop: the split lives in memory on the device, batches are slices."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

import numpy as np
import torch
from tqdm import tqdm

from .errors import UserError
from .images import tiled, to_bytes
from .params import ParamsError, TrainParams


class TrainingDiverged(UserError, RuntimeError):
    """The loss became NaN or infinite."""


def pick_device(name: str = "auto", key: str = "train.device") -> torch.device:
    """The device params ask for (key: where in params.yaml), checked to exist on this machine."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    count = {"cpu": 1, "cuda": torch.cuda.device_count(), "mps": int(torch.backends.mps.is_available())}[device.type]
    if (device.index or 0) >= count:
        found = f"{count} {device.type} device(s)" if count else f"no {device.type} device"
        raise ParamsError(f"{key}: {name} is not available on this machine (torch sees {found}); use auto or cpu")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (runtime.py sets the float modes)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def notebook_dataset(train: tuple[torch.Tensor, ...]) -> torch.utils.data.Dataset:
    """torchvision's own MNIST class, holding our split instead of reading the files: items come
    through its per-item __getitem__ (uint8 -> PIL -> ToTensor), the way the notebooks feed a model."""
    import torchvision  # 1.3 s to import: only the DataLoader baseline pays it

    class SplitMNIST(torchvision.datasets.MNIST):
        def __init__(self):  # MNIST.__init__ would read the files
            torchvision.datasets.VisionDataset.__init__(self, root="", transform=torchvision.transforms.ToTensor())

    dataset = SplitMNIST()
    dataset.data = (train[0].cpu() * 255).round().to(torch.uint8).squeeze(1)
    dataset.targets = train[1].cpu() if len(train) > 1 else torch.zeros(len(train[0]), dtype=torch.int64)
    return dataset


def _batches(train: tuple[torch.Tensor, ...], cfg: TrainParams, generator: torch.Generator):
    """One epoch of batches: slices of a seeded permutation, or the notebooks' DataLoader baseline."""
    n, device = len(train[0]), train[0].device
    if cfg.loader == "dataloader":
        loader = torch.utils.data.DataLoader(
            notebook_dataset(train), batch_size=cfg.batch_size, shuffle=True, generator=generator
        )
        for images, labels in loader:
            yield (images.to(device), labels.to(device))[: len(train)]
        return
    order = torch.randperm(n, generator=generator).to(device)
    for start in range(0, n, cfg.batch_size):
        idx = order[start : start + cfg.batch_size]
        yield tuple(t.index_select(0, idx) for t in train)  # 2x faster than t[idx] for small batches


def _schedule(optimizer, cfg: TrainParams, steps_per_epoch: int):
    total = max(1, cfg.epochs * steps_per_epoch)
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total)
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    return None


Tensors = torch.Tensor | tuple[torch.Tensor, ...]


def _as_tuple(tensors: Tensors) -> tuple[torch.Tensor, ...]:
    return tensors if isinstance(tensors, tuple) else (tensors,)


@torch.no_grad()
def mean_loss(model: torch.nn.Module, tensors: Tensors, batch_size: int = 1000) -> float:
    """The model's own loss averaged over the data (eval mode, batched)."""
    model.eval()
    tensors = _as_tuple(tensors)
    total, n = 0.0, len(tensors[0])
    for start in range(0, n, batch_size):
        batch = tuple(t[start : start + batch_size] for t in tensors)
        total += model.loss(*batch)[0].item() * len(batch[0])
    return total / n


STRIP = 8  # validation digits shown each epoch


@torch.no_grad()
def reconstruction_strip(model: torch.nn.Module, images: torch.Tensor) -> np.ndarray:
    """The first STRIP images above their reconstructions, uint8 (57, 8 * 29 - 1), white between tiles.

    In eval mode, with the model's own mode restored after, and drawing on no random state (the VAE
    decodes its mean code): logging it during training leaves the trained weights as they were."""
    was_training = model.training
    model.eval()
    try:
        x = images[:STRIP]
        pair = torch.cat([x, model(x)]).squeeze(1).float().cpu().numpy()
    finally:
        model.train(was_training)
    return to_bytes(tiled(pair, rows=2))


def fit(
    model: torch.nn.Module,
    train: Tensors,
    val: Tensors,
    cfg: TrainParams,
    *,
    seed: int,
    name: str = "model",
    on_epoch: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Train in place with Adam; return one history row per epoch (train and val loss, seconds).

    train and val are a tensor of images, or a tuple of aligned tensors (images, labels) that are
    passed to model.loss(*batch). Batches are slices of a seeded permutation of the in-memory
    tensors (or, with cfg.loader == "dataloader", come through the notebooks' per-item DataLoader),
    so the same seed gives the same batches. A non-finite loss raises TrainingDiverged
    naming variant, epoch and batch.
    """
    train = _as_tuple(train)
    n = len(train[0])
    if not getattr(model, "trainable", True):
        start = time.perf_counter()
        model.fit(train[0])
        row = {
            "epoch": 0,
            "train_loss": mean_loss(model, train),
            "val_loss": mean_loss(model, val),
            "seconds": time.perf_counter() - start,
        }
        if on_epoch:
            on_epoch(row)
        return [row]
    generator = torch.Generator().manual_seed(seed)
    # channels_last is oneDNN's faster layout for convolutions on CPU (benchmarks/train_speed.py);
    # it leaves the 2-D weights of the MLPs as they are.
    model.to(memory_format=torch.channels_last)
    # The fused kernel updates all parameters in one pass: for the small MLPs, whose steps are
    # dominated by overhead, it is worth 1.1x-1.5x (benchmarks/train_speed.py).
    fused = train[0].device.type in ("cpu", "cuda")
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)
    steps = math.ceil(n / cfg.batch_size)
    scheduler = _schedule(optimizer, cfg, steps)
    history = []
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        model.train()
        total, seen = 0.0, 0
        bar = tqdm(
            _batches(train, cfg, generator),
            total=steps,
            desc=f"{name} epoch {epoch}/{cfg.epochs}",
            unit="batch",
            leave=False,
        )
        for step, batch in enumerate(bar):
            loss, _ = model.loss(*batch)
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"variant {name}: loss became {value} at epoch {epoch}, batch {step + 1}"
                    f" (lr={cfg.lr}); no checkpoint written"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler:
                scheduler.step()
            total += value * len(batch[0])
            seen += len(batch[0])
            if step % 20 == 0:
                bar.set_postfix(loss=f"{total / seen:.4f}")
        bar.close()
        row = {
            "epoch": epoch,
            "train_loss": total / seen,
            "val_loss": mean_loss(model, val),
            "seconds": time.perf_counter() - start,
        }
        history.append(row)
        tqdm.write(
            f"{name} epoch {epoch}/{cfg.epochs}: train {row['train_loss']:.5f}  "
            f"val {row['val_loss']:.5f}  ({row['seconds']:.1f}s)"
        )
        if on_epoch:
            on_epoch(row)
    return history
