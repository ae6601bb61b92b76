"""Small file helpers: every output is written to a temporary name and renamed, so none is half-written."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path


def write_text(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json(path: str | Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str | Path):
    return json.loads(Path(path).read_text())


def read_history(path: str | Path) -> list[dict]:
    """A training history CSV (written by the train stage) as rows of epoch, train_loss, val_loss."""
    with open(path, newline="") as f:
        return [{"epoch": int(r["epoch"]), "train_loss": float(r["train_loss"]), "val_loss": float(r["val_loss"])}
                for r in csv.DictReader(f)]


def write_csv(path: str | Path, rows: list[dict]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
