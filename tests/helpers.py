"""The tests' and benchmarks' helpers, imported by name (`from tests.helpers import ...`): tiny
synthetic MNIST-like IDX data, a temporary DVC project built from this repository, commands run in it,
and the loopback servers' helpers. The fixtures that use them are in conftest.py."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from autoencoders import mnist
from ops.team import free_port, wait_http

__all__ = ["free_port", "wait_http"]  # re-exported: the loopback servers' helpers live in ops.team

ROOT = Path(__file__).resolve().parents[1]


BIN = Path(sys.executable).parent  # the venv's bin: dvc and python for stage commands


def synthetic_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n 28x28 uint8 images, balanced labels; each class is a bright 8x8 block at its own place, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
        r, c = divmod(int(label), 5)
        top, left = 4 + 12 * r + rng.integers(-1, 2), 1 + 5 * c + rng.integers(-1, 2)
        images[i, top : top + 8, left : left + 8] = rng.integers(180, 256)
    return images, labels.astype(np.uint8)


def write_mnist_folder(
    folder: Path, n_train: int = 400, n_test: int = 100, gz: bool = False, md5sums: bool = True
) -> Path:
    """Write the four IDX files (optionally gzipped) and an MD5SUMS of their uncompressed bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    train, test = synthetic_digits(n_train, 1), synthetic_digits(n_test, 2)
    arrays = {
        "train-images-idx3-ubyte": train[0],
        "train-labels-idx1-ubyte": train[1],
        "t10k-images-idx3-ubyte": test[0],
        "t10k-labels-idx1-ubyte": test[1],
    }
    sums = []
    for name, array in arrays.items():
        raw = mnist.idx_bytes(array)
        sums.append(f"{hashlib.md5(raw).hexdigest()}  {name}")
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw, mtime=0))
        else:
            (folder / name).write_bytes(raw)
    if md5sums:
        (folder / "MD5SUMS").write_text("\n".join(sums) + "\n")
    return folder


def run(cmd: list[str], cwd: Path, env: dict | None = None, check: bool = True, timeout: float = 600):
    """Run a command with the venv on PATH; the tracking URI is only what the test passes in env."""
    inherited = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    full_env = {**inherited, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    result = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


QUEUE_STATUS_EVERY = 15  # seconds


def run_queue(project: Path, names: list[str], jobs: int, env: dict | None = None, timeout: float = 900) -> float:
    """`dvc queue start -j jobs`, then wait until nothing runs or waits; asserts that every named
    experiment succeeded (their logs in the message when not). Returns the seconds until the queue emptied."""
    start = time.monotonic()
    run(["dvc", "queue", "start", "-j", str(jobs)], project, env)
    # `dvc queue status` costs a second and a half of the CPU the workers run on; a finished
    # experiment's git ref costs a few milliseconds to see. So: refs every half second, and the
    # queue's own status (which also sees failures) only every QUEUE_STATUS_EVERY seconds, or once
    # every experiment has its ref.
    asked = start
    while True:
        time.sleep(0.5)
        now = time.monotonic()
        committed = set(names) <= experiment_refs(project)
        every = 1 if committed else QUEUE_STATUS_EVERY  # all committed: the status follows at once
        if now - asked < every and now - start < timeout:
            continue
        status, asked = run(["dvc", "queue", "status"], project, env).stdout, now
        if ("Running" not in status and "Queued" not in status) or now - start >= timeout:
            break
    seconds = time.monotonic() - start
    logs = (
        {}
        if status.count("Success") == len(names)
        else {n: run(["dvc", "queue", "logs", n], project, env, check=False).stdout[-3000:] for n in names}
    )
    run(["dvc", "queue", "stop", "--kill"], project, env, check=False)  # the idle workers
    assert not logs, f"queue after {seconds:.0f} s:\n{status}\n{logs}"
    # A worker that fails to fetch its result into the repository logs it and still reports Success;
    # `dvc exp apply NAME` would then apply the queued params alone, silently. Say so here instead.
    uncollected = set(names) - (refs := experiment_refs(project))
    assert not uncollected, f"DVC reports Success but holds no ref for {uncollected} ({refs}):\n{worker_logs(project)}"
    return seconds


def experiment_refs(project: Path) -> set[str]:
    """The names of the experiments whose results the repository holds (their git refs)."""
    return set(run(["git", "for-each-ref", "--format=%(refname:lstrip=-1)", "refs/exps"], project).stdout.split())


def worker_logs(project: Path, tail: int = 4000) -> str:
    """The end of each DVC queue worker's own log (where a failed collection is reported)."""
    logs = sorted((project / ".dvc" / "tmp" / "exps" / "celery").glob("*.out"))
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-tail:]}" for p in logs)


TINY_OVERRIDES = {"epochs": 2, "batch_size": 32}


def tiny_params(source: Path, variants: list[str] | None = None) -> dict:
    """params.yaml shrunk for tests: synthetic source, small val split, two-epoch training."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"].update(source=str(source), val_size=50)
    params["train"]["device"] = "cpu"
    params["gaussians"]["samples_per_digit"] = 20  # 1,000 per digit judged per density costs minutes here
    keep = variants or list(params["variants"])
    params["variants"] = {
        name: {**cfg, **({} if cfg["family"] == "pca" else TINY_OVERRIDES)}
        for name, cfg in params["variants"].items()
        if name in keep
    }
    return params


SMALL_SET = ["mlp", "sphere", "pca"]  # a 100-d, a spherical 3-d and the PCA of the 100-d one


def key_parent(params: dict, path: str) -> tuple[dict, str]:
    """(the mapping that holds a dotted key, the key's last part)."""
    *parents, last = path.split(".")
    node = params
    for key in parents:
        node = node[key]
    return node, last


def set_key(params: dict, path: str, value) -> dict:
    """Set a dotted key of a params mapping, as `dvc exp run -S path=value` would; returns the mapping."""
    node, last = key_parent(params, path)
    node[last] = value
    return params


def set_param(project: Path, path: str, value) -> None:
    """set_key on the project's params.yaml."""
    params = set_key(yaml.safe_load((project / "params.yaml").read_text()), path, value)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def make_project(path: Path, source: Path, variants: list[str] | None = None) -> tuple[Path, dict]:
    """A fresh git + DVC repository holding this project's pipeline on tiny synthetic data."""
    path.mkdir()
    for item in ("dvc.yaml", "stages", "autoencoders", "reports/seed_spread.json", "reports/champion.json"):
        src, dst = ROOT / item, path / item
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)
    run(["git", "init", "-q", "-b", "main"], path)  # the branch whose workspace state holds @champion
    run(["git", "config", "user.email", "test@example.com"], path)
    run(["git", "config", "user.name", "test"], path)
    run(["dvc", "init", "-q"], path)
    shutil.copytree(ROOT / ".dvc" / "plots", path / ".dvc" / "plots")  # the custom plot template
    shutil.copy(ROOT / ".dvc" / "config", path / ".dvc" / "config")  # the repository's settings: analytics off
    params = tiny_params(source, variants)
    params["judge"]["epochs"] = 2
    (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for ignores in (".gitignore", ".dvcignore"):  # the repository's own: the MLflow store, .team/, ...
        shutil.copy(ROOT / ignores, path / ignores)
    run(["git", "add", "-A"], path)
    run(["git", "commit", "-qm", "init"], path)
    return path, params


def relocate_mlflow_store(copy: Path, original: Path) -> None:
    """Point a copied project's SQLite store at the copy's own artifact folder: MLflow stores absolute
    artifact locations, so the copy would otherwise keep logging into the original's mlartifacts/."""
    db = copy / "mlflow.db"
    if not db.exists():
        return
    moved = (str(original.resolve()), str(copy.resolve()))
    with sqlite3.connect(db) as con:
        for (table,) in con.execute("select name from sqlite_master where type = 'table'").fetchall():
            for column in [
                c[1]
                for c in con.execute(f"pragma table_info({table})")
                if c[1] in ("artifact_location", "artifact_uri")
            ]:
                con.execute(f"update {table} set {column} = replace({column}, ?, ?)", moved)
