"""The sweep's parts that need no cluster: its plan of experiments, an experiment's environment, the
stage a failed run names, the refusal of a scheduler that does not answer; and the local cluster's
listeners. The sweep itself, on real Dask processes: test_cluster.py."""

import os
import socket
import subprocess
import sys

import pytest

from ops import sweep

BASELINE = "0" * 40


def test_one_experiment_per_set_and_seed_named_by_baseline_and_overrides():
    tasks = sweep.plan(["variants.mlp.latent_dim=8", "variants.mlp.latent_dim=8 classify.knn_k=[3]"], [0, 1], BASELINE)
    assert [t.overrides for t in tasks] == [
        ("variants.mlp.latent_dim=8", "seed=0"),
        ("variants.mlp.latent_dim=8", "seed=1"),
        ("variants.mlp.latent_dim=8", "classify.knn_k=[3]", "seed=0"),
        ("variants.mlp.latent_dim=8", "classify.knn_k=[3]", "seed=1"),
    ]
    assert len({t.name for t in tasks}) == 4 and all(t.name.startswith("sweep-") for t in tasks)
    # the same task is the same name (a resubmission finds it on origin); another baseline, another name
    assert sweep.plan(["variants.mlp.latent_dim=8"], [1], BASELINE)[0].name == tasks[1].name
    assert sweep.plan(["variants.mlp.latent_dim=8"], [1], "1" * 40)[0].name != tasks[1].name
    assert sweep.plan(["classify.knn_k=[3] variants.mlp.latent_dim=8"], [0], BASELINE)[0].name == tasks[2].name


def test_a_plan_refuses_what_is_not_key_value_and_the_same_experiment_twice():
    with pytest.raises(sweep.SweepError, match="--set: 'latent_dim' is not key=value"):
        sweep.plan(["latent_dim"], None, BASELINE)
    with pytest.raises(sweep.SweepError, match="asked for twice"):
        sweep.plan(["seed=1", "seed=1"], None, BASELINE)


def test_an_experiment_gets_its_thread_count_whatever_its_worker_had(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what Dask's nanny gives a worker process
    assert {k: sweep.task_environment(3, None)[k] for k in sweep.THREAD_VARIABLES} == dict.fromkeys(
        sweep.THREAD_VARIABLES, "3"
    )
    assert sweep.task_environment(None, "http://127.0.0.1:5000")["OMP_NUM_THREADS"] == str(sweep.cores())
    assert sweep.task_environment(None, "http://127.0.0.1:5000")["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:5000"


@pytest.mark.parametrize("flag", ["--workers", "--threads"])
def test_the_sweep_refuses_a_count_below_one(flag):
    result = subprocess.run([sys.executable, "-m", "ops", "sweep", flag, "0"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith(f"argument {flag}: '0' is not a whole number of 1 or more")


def test_the_failed_stage_is_read_from_dvcs_output():
    output = "Running stage 'knn@mlp':\n> python -m stages.knn\nERROR: failed to reproduce 'knn@mlp': ..."
    assert sweep.failed_stage(output) == "knn@mlp"
    assert sweep.failed_stage("Running stage 'split':\nRunning stage 'train@mlp':\nTraceback") == "train@mlp"
    assert sweep.failed_stage("ERROR: unexpected error") is None


def test_a_scheduler_that_does_not_answer_is_named_at_once():
    with socket.socket() as closed:  # a port that was free a moment ago: nothing listens there
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    # refused at the first try, not waited out: Dask's own client retries until its timeout
    with pytest.raises(
        sweep.SweepError,
        match=rf"Dask scheduler tcp://127.0.0.1:{port} is unreachable "
        r"\(\[Errno 111\] Connection refused\)",
    ):
        sweep.connect(f"tcp://127.0.0.1:{port}", workers=1)
    with pytest.raises(sweep.SweepError, match="expected tcp://HOST:PORT"):
        sweep.connect("tcp://127.0.0.1", workers=1)


@pytest.mark.slow
@pytest.mark.cluster
def test_a_local_cluster_listens_on_loopback_only_and_leaves_this_process_environment_alone():
    import psutil

    environment = dict(os.environ)
    client = sweep.connect(None, workers=1)
    try:
        pids = [os.getpid(), *client.run(os.getpid).values()]  # the scheduler runs in this process
        listening = {
            c.laddr.ip
            for pid in pids
            for c in psutil.Process(pid).net_connections("inet")
            if c.status == psutil.CONN_LISTEN
        }
    finally:
        client.cluster.close()
        client.close()
    assert listening == {"127.0.0.1"}
    # Dask's nanny writes OMP_NUM_THREADS=1 here before it spawns a worker; a training run this process
    # started afterwards would take one thread and give other trailing digits
    assert dict(os.environ) == environment
