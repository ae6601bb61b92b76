"""The pipeline under the pushes real users give it: repeats, interruptions, remotes, parallel queues."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.helpers import BIN, SMALL_SET, run, run_queue, set_param

pytestmark = pytest.mark.slow  # the marker's meaning: pyproject.toml


def metrics_files(project: Path) -> dict[str, bytes]:
    """Every metrics JSON but the timings, which measure the machine rather than the model."""
    return {
        str(p.relative_to(project)): p.read_bytes()
        for p in sorted((project / "reports").rglob("*.json"))
        if p.name != "train_time.json"
    }


def test_repro_force_gives_byte_identical_metrics_and_no_second_mlflow_state(finished_project):
    project = finished_project
    first = metrics_files(project)
    assert (
        len(first) == 3 * 5 + 5
    )  # train, evaluate, classify, knn, gaussians per variant; judge, floor, spread, champion, headline
    run(["dvc", "repro", "--force"], project)
    assert metrics_files(project) == first
    # the same results, new timings: still one pipeline state, one parent run
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("autoencoders").experiment_id
    assert len(client.search_runs([experiment], "tags.role = 'pipeline'")) == 1
    for variant in SMALL_SET:  # and no second registered version: the same checkpoints
        assert len(client.search_model_versions(f"name = 'autoencoders-{variant}'")) == 1

    # a re-measured seed spread changes what the report shows, not a metric: a new state all the same;
    # so does a champion an experiment beats (here, a worse one than this state's): the report says so
    spread_file = project / "reports" / "seed_spread.json"
    spread = json.loads(spread_file.read_text())
    spread["sd"] = {key: 2 * sd for key, sd in spread["sd"].items()}
    spread_file.write_text(json.dumps(spread))
    mlp_figure = json.loads(first["reports/metrics.json"])["mlp.test_sq_error_per_image"]
    (project / "reports" / "champion.json").write_text(json.dumps({"values": {"mlp": mlp_figure + 100}}))
    result = run(["dvc", "repro"], project)
    assert "Running stage 'report'" in result.stdout and "Running stage 'track'" in result.stdout
    assert "(challenger): beats the champion" in (project / "reports" / "index.html").read_text()
    assert re.search(r"\| mlp \|.* \(challenger\) \|", (project / "reports" / "summary.md").read_text())
    assert metrics_files(project)["reports/metrics.json"] == first["reports/metrics.json"]
    assert len(client.search_runs([experiment], "tags.role = 'pipeline'")) == 2


def test_sigint_during_training_leaves_no_finished_output(small_project):
    project, _ = small_project
    set_param(project, "variants.mlp.epochs", 300)  # long enough to be interrupted mid-training
    run(["dvc", "repro", "split"], project)
    log = project / "repro.log"
    with log.open("w") as out:
        # unbuffered, so the epoch line reaches the log when the epoch ends, not when a buffer fills
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONUNBUFFERED": "1"}
        # a shell's background job (`make test &`, some CI runners) inherits SIGINT ignored, and
        # Python then never raises KeyboardInterrupt: give the pipeline the default handling back
        proc = subprocess.Popen(
            ["dvc", "repro", "train@mlp"],
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 120
        while "mlp epoch 3/300" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the whole process group
        proc.wait(timeout=60)
    assert proc.returncode != 0
    assert not (project / "models" / "mlp" / "model.pt").exists()
    assert not (project / "reports" / "variants" / "mlp" / "train.json").exists()
    assert "train@mlp" in json.loads(run(["dvc", "status", "--json"], project).stdout)
    set_param(project, "variants.mlp.epochs", 2)  # the re-run need not be long
    result = run(["dvc", "repro", "train@mlp"], project)
    assert "Running stage 'train@mlp'" in result.stdout
    assert (project / "models" / "mlp" / "model.pt").is_file()


def test_push_pull_reproduces_from_the_remote_without_retraining(finished_project, tmp_path):
    project = finished_project
    run(["dvc", "remote", "add", "-d", "shared", str(tmp_path / "remote")], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "results"], project)
    run(["dvc", "push"], project)
    clone = tmp_path / "teammate"
    run(["git", "clone", "-q", str(project), str(clone)], tmp_path)
    run(["dvc", "pull"], clone)
    assert (clone / "models" / "mlp" / "model.pt").read_bytes() == (
        project / "models" / "mlp" / "model.pt"
    ).read_bytes()
    assert "Data and pipelines are up to date" in run(["dvc", "status"], clone).stdout
    assert "Running stage" not in run(["dvc", "repro"], clone).stdout


@pytest.mark.xdist_group("queues")  # each runs two queue workers: never both at once
def test_parallel_seed_experiments_reach_mlflow_and_compare_as_mean_sd(finished_project):
    project = finished_project
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "baseline results"], project)
    for seed in (1, 2):
        run(["dvc", "exp", "run", "--queue", "-n", f"seed{seed}", "-S", f"seed={seed}"], project)
    run_queue(project, ["seed1", "seed2"], jobs=2, timeout=600)
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    parents = client.search_runs(
        [client.get_experiment_by_name("autoencoders").experiment_id],
        "tags.role = 'pipeline' and tags.complete = 'true'",
    )
    assert {"seed1", "seed2"} <= {r.data.tags["dvc_exp_name"] for r in parents}

    # compare: the baseline and its two seed repeats as one group, mean ± sd (3)
    shown = run(
        [sys.executable, "-m", "autoencoders", "compare", "--save-spread", "reports/seed_spread.json"], project
    ).stdout
    assert re.search(r"\| mlp \| test_sq_error_per_image \| [\d.]+ ± [\d.e-]+ \(3\) \|", shown), shown
    spread = json.loads((project / "reports" / "seed_spread.json").read_text())
    assert spread["n"] == 3 and sorted(spread["seeds"]) == [0, 1, 2] and spread["sd"]["mlp.test_sq_error_per_image"] > 0
    # the report shows that spread beside every headline figure
    run(["dvc", "repro", "report"], project)
    summary = (project / "reports" / "summary.md").read_text()
    assert f"± {spread['sd']['mlp.test_sq_error_per_image']:.2g}" in summary
    assert "standard deviation of a figure over 3 seeds" in summary
