"""Experiment benchmark: what one `dvc exp run` costs on a reproduced baseline, stage by stage, at the
previous release and at HEAD, in one run on fresh clones (your workspace and its MLflow store are
left alone).

  python -m benchmarks.experiment --baseline REV     REV and HEAD side by side with the ratio REV / HEAD
  python -m benchmarks.experiment                    HEAD alone

Each clone reproduces its default pipeline first (10-20 minutes on 2 cores; its stage table is printed
too, as benchmarks/pipeline.py prints it), then runs the experiments below one after the other, each
from that baseline. Each experiment's row
"dvc overhead" is its wall time less the time of its stages: DVC's own checks, git and the lock file.
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

from benchmarks.pipeline import Run, bench_folder, cell, cpu_model, timed
from benchmarks.pipeline import table as pipeline_table

EXPERIMENTS = {  # name -> the -S overrides of one experiment
    "one variant": ["variants.mlp.latent_dim=32"],
    "classify": ["classify.knn_k=[1,3]"],
    "samples": ["gaussians.samples_per_digit=500"],
}


BASELINE_FILES = ("params.yaml", "dvc.lock", "reports")  # what an experiment rewrites outside DVC's cache


def replace(src: Path, dst: Path) -> None:
    if dst.is_dir():
        shutil.rmtree(dst)
    elif dst.exists():
        dst.unlink()
    (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)


def experiments(run: Run) -> dict[str, tuple[float, dict[str, float]]]:
    """name -> (wall seconds, stage -> seconds) of each experiment, every one from the baseline.

    Between experiments the workspace goes back to the baseline: its params, lock and reports (the
    `cache: false` outputs live there, and git holds another machine's), then `dvc checkout`."""
    saved = run.repo.parent / f"{run.repo.name}.baseline"
    saved.mkdir()
    for item in BASELINE_FILES:
        replace(run.repo / item, saved / item)
    out = {}
    for name, overrides in EXPERIMENTS.items():
        cmd = ["dvc", "exp", "run", "-n", name.replace(" ", "-")] + [a for o in overrides for a in ("-S", o)]
        out[name] = timed(run.repo, run.env, cmd)
        for item in BASELINE_FILES:
            replace(saved / item, run.repo / item)
        subprocess.run(["dvc", "checkout", "-q"], cwd=run.repo, env=run.env, check=True)
        if subprocess.run(["dvc", "status", "-q"], cwd=run.repo, env=run.env).returncode:
            print(f"warning: {run.repo} did not return to its baseline after {name!r}", file=sys.stderr)
    return out


def table(name: str, head: tuple, base: tuple | None, head_commit: str, base_commit: str | None) -> list[str]:
    columns = (
        ["stage"] + ([f"{base_commit} (s)"] if base else []) + [f"{head_commit} (s)"] + (["ratio"] if base else [])
    )
    lines = [
        f"`dvc exp run -S {' -S '.join(EXPERIMENTS[name])}`:",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]

    def row(label, ours, theirs):
        cells = [label] + ([cell(theirs)] if base else []) + [cell(ours)]
        cells += [f"{theirs / ours:.2f}x" if ours and theirs else "-"] if base else []
        return "| " + " | ".join(cells) + " |"

    (head_total, head_stages), (base_total, base_stages) = head, base or (None, {})
    for stage in list(head_stages) + [s for s in base_stages if s not in head_stages]:
        lines.append(row(stage, head_stages.get(stage), base_stages.get(stage)))
    overhead = lambda total, stages: total - sum(stages.values()) if total is not None else None
    lines.append(row("dvc overhead", overhead(head_total, head_stages), overhead(base_total, base_stages)))
    lines.append(row("**wall**", head_total, base_total))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", metavar="REV", help="also measure this git revision, first")
    parser.add_argument("--keep", action="store_true", help="keep the temporary clones")
    args = parser.parse_args()
    work, hook = bench_folder("ae-bench-exp-")
    base = Run(work, args.baseline, hook) if args.baseline else None  # made first: a bad REV fails at once
    head = Run(work, "HEAD", hook)
    results = {}
    for run in (base, head):
        if run:
            run.pipeline()
            results[run.commit] = experiments(run)

    print(
        f"\nExperiments on {platform.node()}: {os.cpu_count()} CPUs ({cpu_model()}), "
        f"Python {platform.python_version()}, {date.today()}\n"
    )
    print("The baseline pipelines (benchmarks/pipeline.py's table):\n")
    print("\n".join(pipeline_table(head, base, None)) + "\n")
    for name in EXPERIMENTS:
        print(
            "\n".join(
                table(
                    name,
                    results[head.commit][name],
                    results[base.commit][name] if base else None,
                    head.commit,
                    base.commit if base else None,
                )
            )
            + "\n"
        )
    if args.keep:
        print(f"kept {work}")
    else:
        subprocess.run(["rm", "-rf", str(work)])


if __name__ == "__main__":
    main()
