"""Whole-pipeline benchmark: every stage's wall time and peak RSS, the full and the no-op `dvc repro`,
on fresh clones, so your workspace, its outputs and its MLflow store are left alone.

  python -m benchmarks.pipeline                      the committed HEAD alone
  python -m benchmarks.pipeline --baseline REV       REV and HEAD, one after the other in one run, side by
                                                     side with the ratio REV / HEAD: a gain measured on one
                                                     machine, in one sitting
  python -m benchmarks.pipeline --dataloader         also HEAD with the notebooks' DataLoader feeding every
                                                     training stage (`dvc exp run --temp -S train.loader=dataloader`)

Each pipeline runs from nothing (download included); expect about 10-25 minutes per pipeline on 2 cores.
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
SITECUSTOMIZE = """
import atexit, os, resource
if os.environ.get("BENCH_RSS_LOG") and os.environ.get("DVC_STAGE"):
    atexit.register(lambda: open(os.environ["BENCH_RSS_LOG"], "a").write(
        f"{os.environ['DVC_STAGE']}\\t{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n"))
"""


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


class Run:
    """One fresh clone at one revision: its default pipeline, then a no-op `dvc repro`."""

    def __init__(self, work: Path, rev: str, hook: Path):
        folder = "".join(c if c.isalnum() else "_" for c in rev)  # REV may be HEAD~1, origin/main...
        self.repo, self.rss_log = work / folder, work / f"{folder}.rss"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(self.repo)], check=True)
        subprocess.run(["git", "checkout", "-q", rev], cwd=self.repo, check=True)
        self.commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=self.repo, check=True, capture_output=True, text=True
        ).stdout.strip()
        self.env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(hook),
            "BENCH_RSS_LOG": str(self.rss_log),
        }
        self.env.pop("MLFLOW_TRACKING_URI", None)

    def pipeline(self) -> None:
        self.total, self.stages = timed(self.repo, self.env, ["dvc", "repro"])
        self.rss = peak_rss(self.rss_log)
        self.noop = timed(self.repo, self.env, ["dvc", "repro"])[0]

    def dataloader(self) -> dict[str, float]:
        """Stage times of the same pipeline trained the notebooks' way, in a temporary copy of the clone."""
        return timed(self.repo, self.env, ["dvc", "exp", "run", "--temp", "-S", "train.loader=dataloader"])[1]


def bench_folder(prefix: str) -> tuple[Path, Path]:
    """(a fresh temporary folder for the clones, the folder of the RSS hook inside it, on PYTHONPATH)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    hook = work / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return work, hook


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cell(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}"


def table(head: Run, base: Run | None, loader: dict[str, float] | None) -> list[str]:
    """The markdown table: one row per stage of either revision, then the totals."""
    columns = (
        ["stage"]
        + ([f"{base.commit} (s)"] if base else [])
        + [f"{head.commit} (s)"]
        + (["ratio"] if base else [])
        + [f"peak RSS {head.commit} (MiB)"]
        + (["notebooks' DataLoader training (s)"] if loader is not None else [])
    )
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    names = list(head.stages) + [s for s in (base.stages if base else {}) if s not in head.stages]

    def row(name, ours, theirs, rss, other):
        cells = [name] + ([cell(theirs)] if base else []) + [cell(ours)]
        cells += [f"{theirs / ours:.2f}x" if ours and theirs else "-"] if base else []
        cells += [rss]
        cells += [other] if loader is not None else []
        return "| " + " | ".join(cells) + " |"

    for name in names:
        other = "same stage" if loader is not None and name not in loader else cell((loader or {}).get(name))
        lines.append(
            row(
                name,
                head.stages.get(name),
                base.stages.get(name) if base else None,
                f"{head.rss[name]:.0f}" if name in head.rss else "-",
                other,
            )
        )
    largest = max(head.rss, key=head.rss.get)
    loader_total = f"**{sum((loader or {}).get(s, t) for s, t in head.stages.items()):.1f}**"
    lines.append(
        row(
            "**full `dvc repro`**",
            head.total,
            base.total if base else None,
            f"**{head.rss[largest]:.0f}** ({largest})",
            loader_total,
        )
    )
    lines.append(row("no-op `dvc repro`", head.noop, base.noop if base else None, "", ""))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", metavar="REV", help="also run the pipeline at this git revision, first")
    parser.add_argument("--dataloader", action="store_true", help="also train HEAD the notebooks' way")
    parser.add_argument("--keep", action="store_true", help="keep the temporary clones")
    args = parser.parse_args()
    work, hook = bench_folder("ae-bench-")
    # Both clones are made before either pipeline runs, so a bad REV fails at once.
    base = Run(work, args.baseline, hook) if args.baseline else None
    head = Run(work, "HEAD", hook)
    for run in (base, head):
        if run:
            run.pipeline()
    loader = None
    if args.dataloader:
        try:
            loader = head.dataloader()
        except RuntimeError as err:  # still print what the default passes measured
            print(err, file=sys.stderr)

    print(
        f"\nWhole pipeline on {platform.node()}: {os.cpu_count()} CPUs ({cpu_model()}), "
        f"Python {platform.python_version()}, {date.today()}\n"
    )
    print("\n".join(table(head, base, loader)))
    if not args.keep:
        subprocess.run(["rm", "-rf", str(work)])
    else:
        print(f"\nkept {work}")


if __name__ == "__main__":
    main()
