"""MLflow: where the store is, how to connect, the tags every run carries, and the live training runs.
DVC owns the truth; MLflow mirrors it. The train stages run this module alone: publishing a pipeline
state (publish.py) can change without making them stale.

Store: MLFLOW_TRACKING_URI when set (a team's server), else SQLite at the repository root (found from
DVC_ROOT, which DVC points at the parent repository inside `dvc exp run --temp` and queued runs) with
artifacts in <root>/mlartifacts. Never a path relative to the working folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from .errors import UserError

EXPERIMENT = "autoencoders"  # one parent run per pipeline state, one child per variant
LIVE_EXPERIMENT = "autoencoders-training"  # live per-epoch training curves
# Marks an experiment as model training (not GenAI) for MLflow's UI and tools. MLflow 3.17.2's UI
# still opens every experiment in the view its GenAI / Model training toggle remembers (GenAI in a
# new browser: mlflow/mlflow#24498), so `python -m autoencoders ui` links with workflowType too.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
# Fail fast instead of retrying for minutes when a server goes away mid-run (set on connecting).
SERVER_REQUESTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}


class TrackingUnavailable(UserError, RuntimeError):
    """The MLflow tracking server cannot be reached."""


def repository_root() -> Path:
    return Path(os.environ.get("DVC_ROOT") or Path.cwd()).resolve()


def store() -> tuple[str, str | None]:
    """(tracking URI, artifact location for new experiments or None to let the server decide)."""
    if uri := os.environ.get("MLFLOW_TRACKING_URI"):
        return uri, None
    root = repository_root()
    return f"sqlite:///{root / 'mlflow.db'}", (root / "mlartifacts").as_uri()


@contextlib.contextmanager
def store_lock():
    """Serialise users of the local SQLite store across processes (parallel `dvc queue` workers).

    SQLite allows one writer at a time and MLflow gives up on a busy database ("database is
    locked"), so every public entry point that talks to a local store (LiveRun's methods here;
    publish, experiment_ids and variant_runs in publish.py) holds an exclusive lock on mlflow.db.lock
    while it talks to a local store; nothing inside them takes it again. A tracking server needs no such lock.
    """
    uri, _ = store()
    if not uri.startswith("sqlite:///"):
        yield
        return
    with open(uri.removeprefix("sqlite:///") + ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_reachable(uri: str, timeout: float = 5) -> None:
    if not uri.startswith(("http://", "https://")):
        return
    try:
        urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout).close()
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise TrackingUnavailable(
            f"MLflow tracking server {uri} is unreachable ({reason}); start it, "
            "or unset MLFLOW_TRACKING_URI to use the local SQLite store"
        ) from None


@contextlib.contextmanager
def restored_environment(keys):
    """The environment variables named by keys set back on the way out to what they were on the way in
    (yields that mapping, None for unset): what the calls inside set or unset does not outlive them."""
    saved = {key: os.environ.get(key) for key in keys}
    try:
        yield saved
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def server_requests():
    """MLflow's HTTP retry settings (SERVER_REQUESTS) for the calls made inside, restored after: MLflow
    reads them from the environment at each request, and a process's environment is not ours to keep."""
    with restored_environment(SERVER_REQUESTS) as saved:
        os.environ.update({key: saved[key] or value for key, value in SERVER_REQUESTS.items()})
        yield


def connect(experiment: str):
    """(a client of the store, the experiment's id), checking that a server answers first. The client
    carries the URI: nothing sets MLflow's process-wide tracking URI. The caller holds store_lock (the
    first connection creates the SQLite schema) and, against a server, server_requests."""
    from mlflow import MlflowClient

    uri, artifacts = store()
    check_reachable(uri)
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        try:
            return client, client.create_experiment(experiment, artifact_location=artifacts, tags=EXPERIMENT_KIND)
        except Exception:  # a server-side race: another client created it first
            found = client.get_experiment_by_name(experiment)
    for key, value in EXPERIMENT_KIND.items():  # stores made before the tag existed get it too
        if found.tags.get(key) != value:
            client.set_experiment_tag(found.experiment_id, key, value)
    return client, found.experiment_id


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def tags(**extra: str) -> dict[str, str]:
    commit = _git("rev-parse", "HEAD")
    return {
        "git_commit": commit,
        "dvc_exp_name": os.environ.get("DVC_EXP_NAME", "workspace"),
        "baseline_rev": os.environ.get("DVC_EXP_BASELINE_REV", commit),
        **extra,
    }


def as_params(obj: dict, prefix: str = "") -> dict:
    """Dotted keys for MLflow params: lists become comma-joined text ([392, 64] -> "392,64")."""
    from . import io

    return io.flatten(obj, prefix, lambda value: ",".join(map(str, value)) if isinstance(value, list) else value)


SYSTEM_METRICS_EVERY = 2  # seconds between samples of CPU, memory (and GPU, where there is one)


class LiveRun:
    """A run in LIVE_EXPERIMENT that shows a variant's training as it happens: the loss per epoch, a
    strip of validation digits above their reconstructions per epoch (the image's step slider walks
    the epochs), and MLflow's system metrics, sampled in a thread of their own."""

    def __init__(self, variant: str, run_params: dict):
        from mlflow.entities import Param
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        with store_lock(), server_requests():
            self.client, experiment = connect(LIVE_EXPERIMENT)
            self.run_id = self.client.create_run(
                experiment, run_name=f"train {variant}", tags=tags(variant=variant, stage="train")
            ).info.run_id
            self.client.log_batch(self.run_id, params=[Param(k, str(v)) for k, v in as_params(run_params).items()])
        self.system = SystemMetricsMonitor(self.run_id, sampling_interval=SYSTEM_METRICS_EVERY, tracking_uri=store()[0])

    def log_epoch(self, row: dict, strip=None) -> None:
        """The epoch's losses, and strip (a uint8 image: digits above their reconstructions) if given."""
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        with store_lock(), server_requests():
            self.client.log_batch(
                self.run_id, metrics=[Metric(key, row[key], now, row["epoch"]) for key in ("train_loss", "val_loss")]
            )
            if strip is not None:  # synchronous: see publish._log_image
                self.client.log_image(self.run_id, strip, key="reconstructions", step=row["epoch"], synchronous=True)

    def __enter__(self):
        self.system.start()
        return self

    def __exit__(self, kind, err, tb):
        self.system.finish()
        with store_lock(), server_requests():
            self.client.set_terminated(self.run_id, "FINISHED" if kind is None else "FAILED")
        return False
