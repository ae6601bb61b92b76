"""Small file helpers. Every output is written under a temporary name beside it and renamed when
complete (`atomic_path`, `atomic_dir`), so an interrupted stage never leaves a half-written file."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside path; it becomes path only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(out: str | Path):
    """Yield a temporary folder beside out; it replaces out only if the block succeeds."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the final folder should not be
    try:
        yield tmp
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str | Path):
    return json.loads(Path(path).read_text())


def flatten(obj: dict, prefix: str = "", leaf=lambda value: value) -> dict:
    """{"a": {"b": [1]}} -> {"a.b": leaf([1])}: nested mappings (JSON files, params) as dotted keys."""
    out = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}.", leaf))
        else:
            out[f"{prefix}{key}"] = leaf(value)
    return out


def read_history(path: str | Path) -> list[dict]:
    """A training history CSV (written by the train stage) as rows of epoch, train_loss, val_loss."""
    with open(path, newline="") as f:
        return [
            {"epoch": int(r["epoch"]), "train_loss": float(r["train_loss"]), "val_loss": float(r["val_loss"])}
            for r in csv.DictReader(f)
        ]


def write_csv(path: str | Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
