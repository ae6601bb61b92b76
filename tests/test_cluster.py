"""`python -m ops sweep` on a real Dask cluster on loopback: a scheduler and workers started as their own
processes, a bare git origin with HEAD on main, moto's S3 server as the DVC remote and the team's
MLflow server on PostgreSQL; and the faults: a worker killed mid-task, a scheduler that does not
answer, an origin one worker cannot reach, the same sweep submitted twice."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from ops import team
from tests.helpers import BIN, free_port, run

pytestmark = [pytest.mark.slow, pytest.mark.cluster]  # the markers' meaning: pyproject.toml

try:
    team.postgres_binary("initdb")
    team.postgres_binary("pg_ctl")
except team.TeamError as err:
    pytestmark = [*pytestmark, pytest.mark.skip(reason=str(err))]

HOST = "127.0.0.1"
# cheap experiments: each re-runs the knn stages, the report and track only
SETS = ["classify.knn_k=[1]", "classify.knn_k=[3]", "classify.knn_k=[5]", "classify.knn_k=[1,5]"]


@pytest.fixture
def origin_project(reproduced):
    """The reproduced small pipeline pushed to a bare origin (HEAD on main) and, its data, to the team
    stack's S3 store, with the team's MLflow server up: (project, origin URL, tracking URI)."""
    base = Path(tempfile.mkdtemp(prefix="ae-cluster-"))
    base.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data folder under it
    project = base / "project"
    shutil.copytree(reproduced, project, symlinks=True)
    for local_store in ("mlflow.db", "mlflow.db.lock", "mlartifacts"):
        path = project / local_store
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    try:
        shown = run([sys.executable, "-m", "ops", "team", "up"], project, timeout=300).stdout
        uri = re.search(r"^export MLFLOW_TRACKING_URI=(http://127\.0\.0\.1:\d+)$", shown, re.M).group(1)
        s3 = f"http://{HOST}:{team.read_state(project)['s3']['port']}"
        # the remote in the committed config, so that every clone on every worker has it
        run(["dvc", "remote", "add", "--default", "--force", "store", f"s3://{team.BUCKET}/dvc"], project)
        run(["dvc", "remote", "modify", "store", "endpointurl", s3], project)
        run(["git", "add", "-A"], project)
        run(["git", "commit", "-qm", "baseline results"], project)
        run(["git", "branch", "-M", "main"], project)
        run(["dvc", "push", "-r", "store"], project, env=team.CREDENTIALS)
        origin = base / "origin.git"
        run(["git", "init", "-q", "--bare", str(origin)], base)
        run(["git", "symbolic-ref", "HEAD", "refs/heads/main"], origin)  # else clones check out nothing
        run(["git", "remote", "add", "origin", origin.as_uri()], project)
        run(["git", "push", "-q", "origin", "main"], project)
        yield project, origin.as_uri(), uri
    finally:
        run([sys.executable, "-m", "ops", "team", "down"], project, check=False)
        shutil.rmtree(base, ignore_errors=True)


class Cluster:
    """`dask scheduler` and `dask worker`s, each its own process group, every listener on 127.0.0.1
    (--no-dashboard leaves an HTTP server on 0.0.0.0: its address is set instead)."""

    def __init__(self, logs: Path):
        self.logs, self.port, self.workers, self.addresses, self.killed = logs, free_port(), {}, {}, []
        self.address = f"tcp://{HOST}:{self.port}"
        self.scheduler = self._spawn(
            "scheduler", ["scheduler", "--host", HOST, "--port", str(self.port), "--dashboard-address", f"{HOST}:0"]
        )
        self._wait(lambda info: True)

    def _spawn(self, name: str, args: list[str], env: dict | None = None) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("w")
        full_env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **team.CREDENTIALS, **(env or {})}
        return subprocess.Popen(
            [str(BIN / "dask"), *args], stdout=log, stderr=log, env=full_env, start_new_session=True
        )

    def add_worker(self, name: str, env: dict | None = None) -> str:
        """A worker without a nanny (killing it kills it), one thread; returns its address."""
        port = free_port()
        self.workers[name] = self._spawn(
            name,
            [
                "worker",
                self.address,
                "--host",
                HOST,
                "--worker-port",
                str(port),
                "--no-nanny",
                "--nthreads",
                "1",
                "--dashboard-address",
                f"{HOST}:0",
                "--name",
                name,
            ],
            env,
        )
        self.addresses[name] = address = f"tcp://{HOST}:{port}"
        self._wait(lambda info: address in info["workers"])
        return address

    def _wait(self, ready, timeout: float = 60):
        from distributed import Client

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with Client(self.address, timeout="2s") as client:
                    if ready(client.scheduler_info(n_workers=-1)):
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"the cluster did not come up: {sorted(p.name for p in self.logs.iterdir())}")

    def processes(self) -> list[subprocess.Popen]:
        return [self.scheduler, *self.workers.values()]

    def kill(self, name: str) -> None:
        os.killpg(self.workers[name].pid, signal.SIGKILL)  # the worker and the dvc it runs: a machine lost
        self.killed.append(self.workers.pop(name))
        self.killed[-1].wait(timeout=30)

    def stop(self) -> None:
        """Workers first (a worker without its scheduler keeps trying to reach it), then the scheduler."""
        for proc in [*self.workers.values(), self.scheduler]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)


def listening_addresses(pids: list[int]) -> set[str]:
    import psutil

    return {
        c.laddr.ip
        for pid in pids
        for c in psutil.Process(pid).net_connections("inet")
        if c.status == psutil.CONN_LISTEN
    }


def sweep_command(cluster: Cluster, sets: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ops",
        "sweep",
        "--scheduler",
        cluster.address,
        *[a for s in sets for a in ("--set", s)],
    ]


def sweep(project: Path, cluster: Cluster, sets: list[str], uri: str, **kw) -> subprocess.CompletedProcess:
    return run(
        sweep_command(cluster, sets), project, env={"MLFLOW_TRACKING_URI": uri, **team.CREDENTIALS}, timeout=900, **kw
    )


def pushed_names(origin: str) -> list[str]:
    """Experiment names on the origin, one per git ref (refs/exps/.../NAME)."""
    refs = subprocess.run(["git", "ls-remote", origin, "refs/exps/*"], capture_output=True, text=True).stdout
    return sorted(line.rsplit("/", 1)[-1] for line in refs.splitlines())


def complete_parents(uri: str) -> dict[str, int]:
    """DVC experiment name -> how many complete parent runs the tracking server holds for it."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("autoencoders")
    runs = client.search_runs([experiment.experiment_id], "tags.role = 'pipeline' and tags.complete = 'true'")
    counts = {}
    for r in runs:
        counts[r.data.tags["dvc_exp_name"]] = counts.get(r.data.tags["dvc_exp_name"], 0) + 1
    return counts


def parent_runs(uri: str) -> list[tuple]:
    """Every parent run the tracking server holds: (experiment name, state, complete, status), for messages."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("autoencoders")
    return [
        (r.data.tags.get("dvc_exp_name"), r.data.tags.get("pipeline_state"), r.data.tags.get("complete"), r.info.status)
        for r in client.search_runs([experiment.experiment_id], "tags.role = 'pipeline'")
    ]


def test_a_sweep_on_a_loopback_cluster_survives_its_faults(origin_project, tmp_path):
    project, origin, uri = origin_project

    # the scheduler unreachable: one line naming the address, before any work
    nowhere = f"tcp://{HOST}:{free_port()}"
    refused = run(
        [sys.executable, "-m", "ops", "sweep", "--scheduler", nowhere, "--set", SETS[0]], project, check=False
    )
    assert refused.returncode == 1 and refused.stderr.strip().splitlines()[-1] == (
        f"error: Dask scheduler {nowhere} is unreachable ([Errno 111] Connection refused)"
    ), refused.stderr
    assert pushed_names(origin) == []

    logs = tmp_path / "dask"
    logs.mkdir()
    cluster = Cluster(logs)
    try:
        for name in ("w1", "w2", "w3"):  # one to lose, and two that share its work and the rest
            cluster.add_worker(name)
        assert listening_addresses([p.pid for p in cluster.processes()]) == {HOST}

        # four experiments; a worker killed during its task: the scheduler re-runs it on another
        full_env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "MLFLOW_TRACKING_URI": uri,
            **team.CREDENTIALS,
        }
        running = subprocess.Popen(
            sweep_command(cluster, SETS),
            cwd=project,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        from distributed import Client

        with Client(cluster.address, timeout="5s") as client:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not any(client.processing().values()):
                time.sleep(0.2)
            busy = next(address for address, keys in client.processing().items() if keys)
        time.sleep(3)  # into the task's clone and dvc run
        cluster.kill(next(name for name, address in cluster.addresses.items() if address == busy))
        out, err = running.communicate(timeout=900)
        (tmp_path / "sweep.log").write_text(err)
        assert running.returncode == 0, err
        done = re.findall(r"^(sweep-[0-9a-f]{10}) \(.*\): done in", err, re.M)
        assert len(done) == len(SETS), err
        assert pushed_names(origin) == sorted(done)  # each once in git
        assert complete_parents(uri) == {n: 1 for n in done}, parent_runs(uri)  # and once in MLflow
        assert all(n in out for n in done)  # compare's table, over the experiments it pulled back

        # a fresh third clone sees all four after `dvc exp pull`, in `dvc exp show` and in compare
        clone = tmp_path / "clone"
        run(["git", "clone", "-q", origin, str(clone)], tmp_path)
        run(["dvc", "exp", "pull", "origin", *done], clone, env=team.CREDENTIALS)
        shown = json.loads(run(["dvc", "exp", "show", "--json"], clone).stdout)
        assert sorted(e["name"] for row in shown for e in row.get("experiments") or []) == sorted(done)
        table = run([sys.executable, "-m", "autoencoders", "compare", "--experiments", *done], clone).stdout
        assert all(n in table for n in done)

        # the same sweep again: every experiment is on the origin already, so every task skips
        again = sweep(project, cluster, SETS, uri)
        assert len(re.findall(r": skipped in", again.stderr)) == len(SETS), again.stderr
        assert pushed_names(origin) == sorted(done) and complete_parents(uri) == {n: 1 for n in done}

        # a worker that cannot reach the origin beside one that can, a task each: its task fails naming
        # the URL, the other finishes
        cluster.kill(next(iter(cluster.workers)))  # an idle one of the two survivors
        cluster.add_worker(
            "blind",
            env={
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "url.file:///unreachable/.insteadOf",
                "GIT_CONFIG_VALUE_0": origin,
            },
        )
        partly = sweep(project, cluster, ["classify.knn_k=[7]", "classify.knn_k=[9]"], uri, check=False)
        assert partly.returncode == 1, partly.stderr
        assert re.search(rf"failed: TaskFailed: git clone {re.escape(origin)} failed", partly.stderr), partly.stderr
        assert len(re.findall(r": done in", partly.stderr)) == 1, partly.stderr
    finally:
        cluster.stop()
    assert not [p.pid for p in [*cluster.processes(), *cluster.killed] if p.poll() is None]  # none left behind
