"""Sweep scale: the same experiments through `python -m ops sweep` on a local Dask cluster of 1 worker,
then of 2, in one run, each against its own bare origin and folder DVC remote; prints wall time, the
mean time of one experiment's task (clone, `dvc exp run --pull`, push) and the ratio.

  python -m benchmarks.sweep_scale            8 tiny experiments: the tests' synthetic pipeline, each
                                              retraining mlp with another code size (9 to 13 minutes)
  python -m benchmarks.sweep_scale --real     4 experiments of this repository's reproduced pipeline
                                              (`dvc repro` first), mlp's code size again (13 to 15 minutes)
"""

import argparse
import platform
import re
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from benchmarks.pipeline import cpu_model
from tests.helpers import SMALL_SET, make_project, run, write_mnist_folder

ROOT = Path(__file__).resolve().parents[1]

TINY_SETS = [f"variants.mlp.latent_dim={d}" for d in (2, 3, 4, 5, 6, 7, 8, 9)]
REAL_SETS = [f"variants.mlp.latent_dim={d}" for d in (16, 24, 32, 48)]


def publish_origin(project: Path, base: Path) -> None:
    """The project's data pushed to a folder remote named in its committed config, its commit to a bare
    origin with HEAD on main: what every worker's clone needs."""
    run(["dvc", "remote", "add", "--default", "--force", "store", str(base / "remote")], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "baseline results"], project)
    run(["git", "branch", "-M", "main"], project)
    run(["dvc", "push"], project, timeout=1800)
    run(["git", "init", "-q", "--bare", str(base / "origin.git")], base)
    run(["git", "symbolic-ref", "HEAD", "refs/heads/main"], base / "origin.git")
    run(["git", "remote", "add", "origin", (base / "origin.git").as_uri()], project)
    run(["git", "push", "-q", "origin", "main"], project)


def tiny_origin(base: Path) -> Path:
    """The tests' small pipeline on synthetic data, reproduced."""
    project, _ = make_project(base / "project", write_mnist_folder(base / "src"), SMALL_SET)
    run(["dvc", "repro"], project)
    publish_origin(project, base)
    return project


def real_origin(base: Path) -> Path:
    """A clone of this repository's HEAD whose cache is the workspace's, which `dvc repro` filled."""
    if "Data and pipelines are up to date" not in run(["dvc", "status"], ROOT).stdout:
        sys.exit("error: the pipeline is not reproduced here: run `dvc repro` (make repro) first")
    project = base / "project"
    run(["git", "clone", "-q", str(ROOT), str(project)], base)
    run(["git", "remote", "remove", "origin"], project)  # this workspace; the workers' origin is a bare one
    run(["dvc", "cache", "dir", "--local", str(ROOT / ".dvc" / "cache")], project)
    run(["dvc", "checkout", "-q"], project, timeout=1800)
    publish_origin(project, base)
    return project


def sweep(project: Path, workers: int, sets: list[str]) -> tuple[float, list[float]]:
    start = time.perf_counter()
    result = run(
        [
            sys.executable,
            "-m",
            "ops",
            "sweep",
            "--workers",
            str(workers),
            "--prefix",
            f"w{workers}",
            *[a for s in sets for a in ("--set", s)],
        ],
        project,
        timeout=3600,
    )
    wall = time.perf_counter() - start
    tasks = [float(s) for s in re.findall(r": done in (\d+) s", result.stderr)]
    assert len(tasks) == len(sets), result.stderr
    return wall, tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", action="store_true", help="this repository's reproduced pipeline, not the tiny one")
    args = parser.parse_args()
    origin_of, sets = (real_origin, REAL_SETS) if args.real else (tiny_origin, TINY_SETS)
    rows = []
    with tempfile.TemporaryDirectory(prefix="sweep-scale-") as tmp:
        for workers in (1, 2):
            base = Path(tmp) / f"w{workers}"
            base.mkdir()
            wall, tasks = sweep(origin_of(base), workers, sets)
            rows.append((workers, wall, sum(tasks) / len(tasks)))
            print(f"{workers} worker(s): {wall:.0f} s", file=sys.stderr)
    one = rows[0][1]
    kind = "this repository's pipeline (MNIST)" if args.real else "tiny (synthetic)"
    print(
        f"{len(sets)} {kind} experiments through `python -m ops sweep`, {date.today()}, {cpu_model()}, "
        f"{platform.node()}\n"
    )
    print("| workers | wall s | mean s per experiment's task | wall, 1 worker / this |")
    print("|---|---|---|---|")
    for workers, wall, per_task in rows:
        print(f"| {workers} | {wall:.0f} | {per_task:.0f} | {one / wall:.2f}x |")


if __name__ == "__main__":
    main()
