"""Sweeps fanned out on a Dask cluster and gathered through the git remote.

DVC's own recipe for running an experiment elsewhere is: clone, `dvc exp run --pull`, `dvc exp push
origin`; and where the results are wanted, `dvc exp pull origin`. This module adds only the engine
that sends those runs to many machines: Dask schedules one task per experiment, git and the DVC
remote carry the results back, MLflow (a team server, when MLFLOW_TRACKING_URI is set) mirrors them.
There is no queue of our own.

Each experiment's name is a digest of the baseline commit and its overrides: unique per task, so
two machines never push the same name with different results, and the same again for the same task,
so a task re-run after a lost worker, or a sweep submitted twice, finds its experiment on the origin
and skips it instead of pushing a duplicate.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from autoencoders.errors import UserError

LOG_TAIL = 20  # lines of a failed task's output shown with its error
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")  # torch's and BLAS's


class SweepError(UserError):
    """The sweep cannot start as asked: a scheduler that does not answer, a baseline not on origin."""


class TaskFailed(Exception):
    """One experiment failed on its worker; the message names the stage (or the git step) and ends
    with the tail of its log. Plain text only, so it crosses from the worker unchanged."""


@dataclass(frozen=True)
class Task:
    name: str
    overrides: tuple[str, ...]  # `dvc exp run -S` arguments, e.g. variants.mlp.latent_dim=8


def plan(override_sets: list[str], seeds: list[int] | None, baseline: str, prefix: str = "sweep") -> list[Task]:
    """One task per override set (each a shell-quoted string of `key=value`s), times each seed."""
    tasks = []
    for text in override_sets or [""]:
        overrides = tuple(shlex.split(text))
        for bad in (o for o in overrides if "=" not in o):
            raise SweepError(f"--set: {bad!r} is not key=value")
        for seed in seeds if seeds is not None else [None]:
            full = overrides + ((f"seed={seed}",) if seed is not None else ())
            digest = hashlib.sha1("\0".join([baseline, *sorted(full)]).encode()).hexdigest()[:10]
            tasks.append(Task(f"{prefix}-{digest}", full))
    names = [t.name for t in tasks]
    if len(set(names)) < len(names):
        raise SweepError("--set/--seeds: the same experiment is asked for twice")
    return tasks


# --- on a worker ---------------------------------------------------------------------------------


def _dvc() -> str:
    """The dvc beside the worker's interpreter (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("dvc")
    return str(beside) if beside.is_file() else "dvc"


def _run(cmd: list[str], cwd: Path | None, what: str, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise TaskFailed(f"{what} failed:\n{_tail(result)}")
    return result


def _tail(result: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in (result.stdout + result.stderr).replace("\r", "\n").splitlines() if ln.strip()]
    return "\n".join(lines[-LOG_TAIL:])


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def task_environment(threads: int | None, tracking_uri: str | None) -> dict[str, str]:
    """The experiment's environment: the worker's, with its thread count set (default: every core of
    this machine). Set, not inherited: Dask's nanny gives each worker process OMP_NUM_THREADS=1, fit
    for work done inside the worker, not for the training one experiment starts as its own process."""
    count = str(threads or cores())
    return {
        **os.environ,
        **dict.fromkeys(THREAD_VARIABLES, count),
        **({"MLFLOW_TRACKING_URI": tracking_uri} if tracking_uri else {}),
    }


def failed_stage(output: str) -> str | None:
    """The stage a `dvc exp run` failed in, from its output."""
    found = re.findall(r"failed to reproduce '([^']+)'", output) or re.findall(r"Running stage '([^']+)'", output)
    return found[-1] if found else None


def pushed(repo: Path, name: str) -> bool:
    """Whether the origin holds an experiment of this name on the clone's baseline."""
    listed = _run([_dvc(), "exp", "list", "origin", "--name-only"], repo, "dvc exp list origin")
    return name in listed.stdout.split()


def run_task(origin: str, baseline: str, task: Task, tracking_uri: str | None, threads: int | None = None) -> dict:
    """Clone origin at baseline, run the experiment on `threads` threads and push it; what a Dask
    worker executes."""
    start = time.perf_counter()
    env = task_environment(threads, tracking_uri)
    with tempfile.TemporaryDirectory(prefix=f"{task.name}-") as tmp:
        repo = Path(tmp) / "repo"
        _run(["git", "clone", "--quiet", origin, str(repo)], None, f"git clone {origin}")
        _run(["git", "checkout", "--quiet", baseline], repo, f"git checkout {baseline[:7]}")
        if pushed(repo, task.name):  # a re-run after a lost worker, or the same sweep submitted again
            return {
                "name": task.name,
                "status": "skipped",
                "seconds": time.perf_counter() - start,
                "worker": socket.gethostname(),
            }
        cmd = [_dvc(), "exp", "run", "--pull", "-n", task.name, *[a for o in task.overrides for a in ("-S", o)]]
        result = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            stage = failed_stage(result.stdout + result.stderr)
            raise TaskFailed(f"stage {stage or '(before any stage)'} failed:\n{_tail(result)}")
        _run([_dvc(), "exp", "push", "origin", task.name], repo, f"dvc exp push origin {task.name}", env)
    return {"name": task.name, "status": "done", "seconds": time.perf_counter() - start, "worker": socket.gethostname()}


# --- where the sweep is submitted ----------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if result.returncode != 0:
        raise SweepError(f"git {' '.join(args)} failed in {repo}: {result.stderr.strip()}")
    return result.stdout.strip()


def baseline_on_origin(repo: Path) -> tuple[str, str]:
    """(origin's URL, HEAD's commit), checking that origin holds HEAD: workers clone it from there."""
    origin = _git(repo, "remote", "get-url", "origin")
    head = _git(repo, "rev-parse", "HEAD")
    _git(repo, "fetch", "--quiet", "origin")
    if not _git(repo, "branch", "-r", "--contains", head):
        raise SweepError(f"HEAD {head[:7]} is not on origin ({origin}): push it first (git push origin HEAD)")
    return origin, head


def connect(scheduler: str | None, workers: int):
    """A Dask client: of the scheduler at that address, or of a local cluster on 127.0.0.1."""
    from distributed import Client, LocalCluster
    from distributed.comm.addressing import get_address_host_port

    if scheduler is None:  # every listener on loopback, the HTTP ones (dashboard, /health) on free ports
        saved = dict(os.environ)
        try:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
                worker_dashboard_address="127.0.0.1:0",
            )
        finally:
            # Its nannies write their workers' settings (OMP_NUM_THREADS=1, a PYTHONHASHSEED) into this
            # process's environment before they spawn them: what this process starts later must not
            # inherit them (a training run there would take one thread and give other trailing digits).
            for key in set(os.environ) - set(saved):
                del os.environ[key]
            os.environ.update(saved)
        return Client(cluster)
    try:
        # a refused port fails here at once; Dask's client would retry it until its timeout
        socket.create_connection(get_address_host_port(scheduler), timeout=10).close()
        return Client(scheduler, timeout="10s")
    except ValueError as err:
        raise SweepError(f"--scheduler {scheduler}: {err} (expected tcp://HOST:PORT)") from None
    except (OSError, TimeoutError) as err:
        raise SweepError(f"Dask scheduler {scheduler} is unreachable ({err})") from None


def submit(
    client,
    origin: str,
    baseline: str,
    tasks: list[Task],
    tracking_uri: str | None,
    threads: int | None = None,
    progress=None,
) -> dict:
    """Run every task on the cluster; name -> its result dict, or the TaskFailed message."""
    from distributed import as_completed

    # The task's name is its key: two submissions of the same task share one run. pure=False and no
    # retries: a task that fails fails the same way again; a lost worker's task is re-run by the
    # scheduler on its own (distributed.scheduler.allowed-failures).
    futures = {
        client.submit(run_task, origin, baseline, t, tracking_uri, threads, key=t.name, pure=False): t.name
        for t in tasks
    }
    outcomes = {}
    for future in as_completed(futures):
        name = futures[future]
        if future.status == "error":
            outcomes[name] = f"{type(future.exception()).__name__}: {future.exception()}"
        else:
            outcomes[name] = future.result()
        if progress:
            progress(name, outcomes[name])
    return outcomes


def gather(repo: Path, names: list[str]) -> None:
    """Bring the experiments back from the origin: `dvc exp pull origin NAME...`."""
    if names:
        result = subprocess.run([_dvc(), "exp", "pull", "origin", *names], cwd=repo, capture_output=True, text=True)
        if result.returncode != 0:
            raise SweepError(f"dvc exp pull origin failed: {result.stderr.strip()}")
