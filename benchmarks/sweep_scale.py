"""Sweep scale: the same 8 tiny experiments (the tests' synthetic pipeline, each retraining mlp with
another code size) through `python -m ops sweep` on a local Dask cluster of 1 worker, then of 2, in
one run, each against its own bare origin and folder DVC remote; prints wall time, the mean time of
one experiment's task (clone, `dvc exp run --pull`, push) and the ratio.

  python benchmarks/sweep_scale.py            (about 10 minutes on 2 cores)
"""
import platform
import re
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import SMALL_SET, make_project, run, write_mnist_folder  # noqa: E402
from pipeline import cpu_model  # noqa: E402

SETS = [f"variants.mlp.latent_dim={d}" for d in (2, 3, 4, 5, 6, 7, 8, 9)]


def origin_of(base: Path) -> Path:
    """The tiny pipeline reproduced, its data pushed to a folder remote, its commit to a bare origin."""
    project, _ = make_project(base / "project", write_mnist_folder(base / "src"), SMALL_SET)
    run(["dvc", "remote", "add", "--default", "store", str(base / "remote")], project)
    run(["dvc", "repro"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "baseline results"], project)
    run(["git", "branch", "-M", "main"], project)
    run(["dvc", "push"], project)
    run(["git", "init", "-q", "--bare", str(base / "origin.git")], base)
    run(["git", "symbolic-ref", "HEAD", "refs/heads/main"], base / "origin.git")
    run(["git", "remote", "add", "origin", (base / "origin.git").as_uri()], project)
    run(["git", "push", "-q", "origin", "main"], project)
    return project


def sweep(project: Path, workers: int) -> tuple[float, list[float]]:
    start = time.perf_counter()
    result = run([sys.executable, "-m", "ops", "sweep", "--workers", str(workers), "--prefix", f"w{workers}",
                  *[a for s in SETS for a in ("--set", s)]], project, timeout=3600)
    wall = time.perf_counter() - start
    tasks = [float(s) for s in re.findall(r": done in (\d+) s", result.stderr)]
    assert len(tasks) == len(SETS), result.stderr
    return wall, tasks


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="sweep-scale-") as tmp:
        for workers in (1, 2):
            base = Path(tmp) / f"w{workers}"
            base.mkdir()
            project = origin_of(base)
            wall, tasks = sweep(project, workers)
            rows.append((workers, wall, sum(tasks) / len(tasks)))
            print(f"{workers} worker(s): {wall:.0f} s", file=sys.stderr)
    one = rows[0][1]
    print(f"{len(SETS)} tiny experiments through `python -m ops sweep`, {date.today()}, {cpu_model()}, "
          f"{platform.node()}\n")
    print("| workers | wall s | mean s per experiment's task | wall, 1 worker / this |")
    print("|---|---|---|---|")
    for workers, wall, per_task in rows:
        print(f"| {workers} | {wall:.0f} | {per_task:.0f} | {one / wall:.2f}x |")


if __name__ == "__main__":
    main()
