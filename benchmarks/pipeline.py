"""Whole-pipeline benchmark: every stage's wall time and peak RSS, the full and the no-op `dvc repro`,
and the same pipeline with the notebooks' DataLoader-style training, printed as one table.

Works on a clone of the committed repository in a temporary folder, so your workspace, its
outputs and its MLflow store are left alone. Takes about as long as three pipeline runs.
Usage: python benchmarks/pipeline.py [--keep]
"""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Loaded by every Python process of a stage (DVC sets DVC_STAGE): appends the stage's peak RSS.
SITECUSTOMIZE = '''
import atexit, os, resource
if os.environ.get("BENCH_RSS_LOG") and os.environ.get("DVC_STAGE"):
    atexit.register(lambda: open(os.environ["BENCH_RSS_LOG"], "a").write(
        f"{os.environ['DVC_STAGE']}\\t{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n"))
'''


def timed(repo: Path, env: dict, cmd: list[str]) -> tuple[float, dict[str, float]]:
    """Run a dvc command, echoing its output; return (total seconds, stage -> seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=subprocess.PIPE, text=True)
    stages, current, began = {}, None, start
    for line in proc.stdout:
        print(line, end="", flush=True)
        if line.startswith("Running stage '"):
            now = time.monotonic()
            if current:
                stages[current] = now - began
            current, began = line.split("'")[1], now
    if proc.wait() != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed in {repo}")
    end = time.monotonic()
    if current:
        stages[current] = end - began
    return end - start, stages


def peak_rss(log: Path) -> dict[str, float]:
    """stage -> peak RSS in MiB (the largest of its processes)."""
    peaks = {}
    for line in log.read_text().splitlines() if log.exists() else []:
        stage, kib = line.split("\t")
        peaks[stage] = max(peaks.get(stage, 0), int(kib) / 1024)
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the temporary clone")
    parser.add_argument("--skip-dataloader", action="store_true", help="leave out the DataLoader pass")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ae-bench-"))
    repo, hook = work / "repo", work / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(hook), "BENCH_RSS_LOG": str(work / "rss.log")}
    env.pop("MLFLOW_TRACKING_URI", None)

    total, ours = timed(repo, env, ["dvc", "repro"])
    rss = peak_rss(work / "rss.log")
    noop, _ = timed(repo, env, ["dvc", "repro"])
    # In a temporary copy, so the clone keeps the default results; download and split come from the cache.
    baseline, skipped = {}, "not run"
    if not args.skip_dataloader:
        try:
            baseline = timed(repo, env, ["dvc", "exp", "run", "--temp", "-S", "train.loader=dataloader"])[1]
        except RuntimeError as err:  # still print what the default pass measured
            print(err, file=sys.stderr)
            skipped = "failed"

    print(f"\nWhole pipeline on {platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{date.today()}\n")
    print("| stage | ours (s) | peak RSS (MiB) | notebooks' DataLoader training (s) |")
    print("|---|---|---|---|")
    for stage, seconds in ours.items():
        other = baseline.get(stage)
        shown = skipped if not baseline else "same stage" if other is None else f"{other:.1f}"
        print(f"| {stage} | {seconds:.1f} | {rss.get(stage, 0):.0f} | {shown} |")
    baseline_total = sum(baseline.get(s, t) for s, t in ours.items())
    largest = max(rss, key=rss.get)
    shown = f"**{baseline_total:.1f}**" if baseline else skipped
    print(f"| **full `dvc repro`** | **{total:.1f}** | **{rss[largest]:.0f}** ({largest}) | {shown} |")
    print(f"| no-op `dvc repro` | {noop:.1f} | | |")
    if not args.keep:
        subprocess.run(["rm", "-rf", str(work)])
    else:
        print(f"\nkept {work}")


if __name__ == "__main__":
    main()
