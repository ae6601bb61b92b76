"""Load on the team stack: N experiments queued against the MLflow server (PostgreSQL + S3), run by two
queue workers and by one, the wall time of each beside the other, and every run counted on the server.

  python -m benchmarks.team_load [--experiments 8] [--keep]

Each pass builds a fresh project the way the tests do (their tiny synthetic IDX data, variants mlp and
pca, two epochs), starts its own team stack, queues N experiments (`-S seed=1..N`: no two share a stage,
so both passes do the same work) and times `dvc queue start -j J` until the queue is empty. Then it
checks the server: each experiment has exactly one complete parent run, one child run per variant and
one finished live training run per variant. The stack is torn down after each pass. On tiny data the
figure is the overhead-heavy end of the range: start-up, queueing and logging dominate. About 15
minutes for both passes on 2 cores; needs PostgreSQL's server binaries (the README's team section).
"""

import argparse
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks.pipeline import cpu_model
from ops import team
from tests.helpers import make_project, run, run_queue, write_mnist_folder

ROOT = Path(__file__).resolve().parents[1]

VARIANTS = ["mlp", "pca"]


def project_with_stack(base: Path) -> tuple[Path, str]:
    """A tiny project with its team stack up: (project, tracking URI)."""
    base.mkdir()
    base.chmod(0o755)  # PostgreSQL runs as its own user and must reach .team/ under the project
    project, _ = make_project(base / "project", write_mnist_folder(base / "mnist-src"), VARIANTS)
    state = team.up(project)
    return project, f"http://{team.HOST}:{state['mlflow']['port']}"


def queue_and_run(project: Path, uri: str, names: list[str], jobs: int) -> float:
    """Queue one experiment per name (seed 1, 2, ...), run them with `jobs` workers; the wall seconds
    from `dvc queue start` until the queue is empty (every experiment must succeed)."""
    env = {"MLFLOW_TRACKING_URI": uri}
    for seed, name in enumerate(names, 1):
        run(["dvc", "exp", "run", "--queue", "-n", name, "-S", f"seed={seed}"], project, env)
    return run_queue(project, names, jobs, env, timeout=3600)


def count_runs(uri: str, names: list[str]) -> dict[str, str]:
    """Experiment name -> 'ok', or what is missing or doubled on the server."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    pipeline = client.get_experiment_by_name("autoencoders").experiment_id
    live = client.get_experiment_by_name("autoencoders-training").experiment_id
    parents = Counter(
        r.data.tags["dvc_exp_name"]
        for r in client.search_runs([pipeline], "tags.role = 'pipeline' and tags.complete = 'true'", max_results=1000)
    )
    children = Counter(
        (r.data.tags["dvc_exp_name"], r.data.tags["variant"])
        for r in client.search_runs([pipeline], "tags.role = 'variant'", max_results=1000)
    )
    trained = Counter(
        (r.data.tags["dvc_exp_name"], r.data.tags["variant"])
        for r in client.search_runs([live], "attributes.status = 'FINISHED'", max_results=1000)
    )
    verdict = {}
    for name in names:
        wrong = [f"{parents[name]} parent runs"] if parents[name] != 1 else []
        wrong += [f"{children[name, v]} runs of {v}" for v in VARIANTS if children[name, v] != 1]
        wrong += [f"{trained[name, v]} live runs of {v}" for v in VARIANTS if trained[name, v] != 1]
        verdict[name] = ", ".join(wrong) or "ok"
    return verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects (stacks are stopped)")
    args = parser.parse_args()
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    names = [f"load{i}" for i in range(1, args.experiments + 1)]
    work = Path(tempfile.mkdtemp(prefix="ae-team-load-"))
    work.chmod(0o755)
    rows = []
    try:
        for jobs in (2, 1):
            project, uri = project_with_stack(work / f"j{jobs}")
            try:
                seconds = queue_and_run(project, uri, names, jobs)
                verdict = count_runs(uri, names)
            finally:
                team.down(project)
            ok = sum(v == "ok" for v in verdict.values())
            print(f"-j {jobs}: {seconds:.1f} s; logged once: {ok}/{len(names)} {verdict}", flush=True)
            rows.append((jobs, seconds, ok))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"\n{args.experiments} experiments, variants {', '.join(VARIANTS)}, tiny synthetic data; "
        f"{cpu_model()}, {os.cpu_count()} cores\n"
    )
    print("| queue workers | wall time (s) | per experiment (s) | logged exactly once |")
    print("|---|---|---|---|")
    for jobs, seconds, ok in rows:
        print(f"| -j {jobs} | {seconds:.1f} | {seconds / args.experiments:.1f} | {ok}/{args.experiments} |")
    print(f"\n-j 2 vs -j 1: {rows[1][1] / rows[0][1]:.2f}x")


if __name__ == "__main__":
    main()
