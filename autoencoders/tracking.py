"""MLflow: where the store is, what a run carries, and its tags. DVC owns the truth; MLflow mirrors it.

Store: MLFLOW_TRACKING_URI when set (a team's server), else SQLite at the repository root (found from
DVC_ROOT, which DVC points at the parent repository inside `dvc exp run --temp` and queued runs) with
artifacts in <root>/mlartifacts. Never a path relative to the working folder.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

EXPERIMENT = "autoencoders"  # one parent run per pipeline state, one child per variant
LIVE_EXPERIMENT = "autoencoders-training"  # live per-epoch training curves
# Marks an experiment as model training (not GenAI) for MLflow's UI and tools. MLflow 3.17.2's UI
# still opens every experiment in the view its GenAI / Model training toggle remembers (GenAI in a
# new browser: mlflow/mlflow#24498), so `python -m autoencoders ui` links with workflowType too.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
# Fail fast instead of retrying for minutes when a server goes away mid-run (set on connecting).
SERVER_REQUESTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}


class TrackingUnavailable(RuntimeError):
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
    locked"), so every public entry point of this module (LiveRun's methods, publish, experiment_ids,
    variant_runs) holds an exclusive lock on mlflow.db.lock while it talks to a local store; nothing
    inside them takes it again. A tracking server needs no such lock.
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
        raise TrackingUnavailable(f"MLflow tracking server {uri} is unreachable ({reason}); start it, "
                                  "or unset MLFLOW_TRACKING_URI to use the local SQLite store") from None


def _connect(experiment: str) -> str:
    """Point mlflow at the store (checking a server answers first); return the experiment's id.
    The caller holds store_lock: the first connection creates the SQLite schema."""
    import mlflow

    uri, artifacts = store()
    check_reachable(uri)
    if uri.startswith(("http://", "https://")):
        for key, value in SERVER_REQUESTS.items():
            os.environ.setdefault(key, value)
    mlflow.set_tracking_uri(uri)
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        try:
            return mlflow.create_experiment(experiment, artifact_location=artifacts, tags=EXPERIMENT_KIND)
        except Exception:  # a server-side race: another client created it first
            found = mlflow.get_experiment_by_name(experiment)
    for key, value in EXPERIMENT_KIND.items():  # stores made before the tag existed get it too
        if found.tags.get(key) != value:
            mlflow.MlflowClient().set_experiment_tag(found.experiment_id, key, value)
    return found.experiment_id


def experiment_ids() -> dict[str, str]:
    """Both experiments' ids (created, and tagged, if need be)."""
    with store_lock():
        return {name: _connect(name) for name in (EXPERIMENT, LIVE_EXPERIMENT)}


def variant_runs(variant: str, states: list[str] | None = None) -> dict[str, str]:
    """The child runs of one variant across logged pipeline states, newest first: run id -> state name
    (the DVC experiment it came from, or workspace), restricted to the named states if given."""
    import mlflow

    with store_lock():
        runs = mlflow.MlflowClient().search_runs(
            [_connect(EXPERIMENT)], f"tags.role = 'variant' and tags.variant = '{variant}'", order_by=["start_time DESC"])
    named = {r.info.run_id: r.data.tags.get("dvc_exp_name", "?") for r in runs}
    return {run_id: name for run_id, name in named.items() if not states or name in states}


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def tags(**extra: str) -> dict[str, str]:
    commit = _git("rev-parse", "HEAD")
    return {"git_commit": commit, "dvc_exp_name": os.environ.get("DVC_EXP_NAME", "workspace"),
            "baseline_rev": os.environ.get("DVC_EXP_BASELINE_REV", commit), **extra}


def as_params(obj: dict, prefix: str = "") -> dict:
    """Dotted keys for MLflow params: lists become comma-joined text ([392, 64] -> "392,64")."""
    from . import io

    return io.flatten(obj, prefix, lambda value: ",".join(map(str, value)) if isinstance(value, list) else value)


def state_digest(paths: list[Path]) -> str:
    """A digest of every file under paths (names and bytes): equal digests, equal pipeline state."""
    digest = hashlib.sha256()
    for root in paths:
        files = sorted(p for p in (root.rglob("*") if root.is_dir() else [root]) if p.is_file())
        for f in files:
            digest.update(str(f.relative_to(root.parent)).encode())
            digest.update(hashlib.md5(f.read_bytes()).digest())
    return digest.hexdigest()[:16]


class LiveRun:
    """A run in LIVE_EXPERIMENT that shows a variant's loss per epoch while it trains."""

    def __init__(self, variant: str, run_params: dict):
        import mlflow

        self.mlflow = mlflow
        with store_lock():
            experiment = _connect(LIVE_EXPERIMENT)
            self.run = mlflow.start_run(experiment_id=experiment, run_name=f"train {variant}",
                                        tags=tags(variant=variant, stage="train"))
            mlflow.log_params(as_params(run_params))

    def log_epoch(self, row: dict) -> None:
        with store_lock():
            self.mlflow.log_metrics({"train_loss": row["train_loss"], "val_loss": row["val_loss"]}, step=row["epoch"])

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        with store_lock():
            self.mlflow.end_run("FINISHED" if kind is None else "FAILED")
        return False


def publish(state: str, table, params_obj, variants_dir: Path, models_dir: Path, split_dir: Path,
            report_files: list[Path], headline: dict[str, float]) -> str:
    """Log one pipeline state: a parent run with the comparison table and the headline metrics
    (`<variant>.<figure>`, as in reports/metrics.json), one child per variant with all of its figures.

    Idempotent: a state already logged completely is left as it is; a partial one (an interrupted
    earlier attempt) is deleted and logged again. Returns the parent run id.
    """
    with store_lock():  # parallel queue workers take turns on a local SQLite store
        return _publish(state, table, params_obj, variants_dir, models_dir, split_dir, report_files, headline)


def _publish(state: str, table, params_obj, variants_dir: Path, models_dir: Path, split_dir: Path,
             report_files: list[Path], headline: dict[str, float]) -> str:
    import dataclasses

    import mlflow
    from mlflow.tracking import MlflowClient

    from . import data, layout

    experiment = _connect(EXPERIMENT)
    client = MlflowClient()
    for run in client.search_runs([experiment], f"tags.pipeline_state = '{state}' and tags.role = 'pipeline'"):
        if run.data.tags.get("complete") == "true":
            print(f"MLflow already holds pipeline state {state}: run {run.info.run_id}")
            return run.info.run_id
        for child in client.search_runs([experiment], f"tags.mlflow.parentRunId = '{run.info.run_id}'"):
            client.delete_run(child.info.run_id)
        client.delete_run(run.info.run_id)

    train_file = layout.split_file(split_dir, "train")
    train = data.load_npz(train_file)
    dataset = mlflow.data.from_numpy(train["images"], targets=train["labels"], name="mnist-train-split",
                                     source=str(train_file.resolve()),
                                     digest=hashlib.md5(train_file.read_bytes()).hexdigest()[:16])
    example = data.load_split(layout.split_file(split_dir, "test"))[0][:2].numpy()
    shared = {"seed": params_obj.seed, **as_params(dataclasses.asdict(params_obj.data), "data.")}
    name = os.environ.get("DVC_EXP_NAME", "workspace")
    with mlflow.start_run(experiment_id=experiment, run_name=f"pipeline {name}",
                          tags=tags(role="pipeline", pipeline_state=state)) as parent:
        mlflow.log_params({**shared, **as_params({k: dataclasses.asdict(getattr(params_obj, k))
                                                for k in ("classify", "gaussians", "judge")})})
        mlflow.log_table(table.reset_index(), "comparison.json")
        mlflow.log_metrics(headline)
        for f in report_files:
            mlflow.log_artifact(str(f))
        for variant, v in params_obj.variants.items():
            with mlflow.start_run(experiment_id=experiment, run_name=variant, nested=True,
                                  tags=tags(role="variant", variant=variant, family=v.family, pipeline_state=state)):
                mlflow.log_params({**shared, "family": v.family, **as_params(v.arch, "arch."),
                                   **as_params(dataclasses.asdict(v.train), "train.")})
                _log_input(dataset)
                _log_variant(variants_dir / variant, layout.model_file(models_dir, variant), example)
        client.set_tag(parent.info.run_id, "complete", "true")
        return parent.info.run_id


def _log_input(dataset) -> None:
    """Link the training split to the active run. Against a server, two queue workers logging the same
    split at once race inside MLflow (it looks the dataset up, then inserts it): the slower insert
    fails on the datasets table's unique key. The dataset is then there, and a second try links it."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        mlflow.log_input(dataset, context="training")
    except MlflowException as err:
        if "dataset_pk" not in str(err) and "UNIQUE constraint failed: datasets" not in str(err):
            raise
        mlflow.log_input(dataset, context="training")


def _log_variant(folder: Path, checkpoint: Path, example) -> None:
    """Into the active run: the model, the figures, the loss curves and every numeric final metric.

    Against a server every call is a round trip. The model goes first: MLflow's log_model then
    copies the run's metrics onto the model one request per metric (2,800 requests, 130 s of the
    track stage's 150 s against a PostgreSQL-backed server); the final figures are linked to the
    model in the one batch that logs them instead. A checkpoint already exported by an earlier
    pipeline state is linked, not exported again.
    """
    import time

    import mlflow
    import torch
    from mlflow.entities import Metric

    from . import io, layout, models

    run = mlflow.active_run()
    client = mlflow.MlflowClient()
    digest = hashlib.md5(checkpoint.read_bytes()).hexdigest()
    earlier = client.search_runs([run.info.experiment_id], f"tags.checkpoint_md5 = '{digest}'", max_results=1)
    if earlier:
        model_uri, model_id = earlier[0].data.tags["model_uri"], None
    else:
        info = mlflow.pytorch.log_model(models.load_checkpoint(checkpoint), name="model", input_example=example,
                                        serialization_format="pt2", pip_requirements=[f"torch=={torch.__version__}"])
        model_uri, model_id = info.model_uri, info.model_id
    mlflow.log_artifacts(str(folder / layout.FIGURES), "figures")
    mlflow.log_artifact(str(folder / layout.GENERATED), "figures")
    now = int(time.time() * 1000)
    batch = [Metric(key, row[key], now, row["epoch"]) for row in io.read_history(folder / layout.HISTORY)
             for key in ("train_loss", "val_loss")]
    for name in layout.RESULTS:  # train.json's figures as train.*, and so on
        part = Path(name).stem
        batch += [Metric(f"{part}.{k}", float(x), now, 0, model_id=model_id)
                  for k, x in io.flatten(io.read_json(folder / name)).items()
                  if isinstance(x, (int, float)) and not isinstance(x, bool)]
    client.log_batch(run.info.run_id, metrics=batch)
    mlflow.set_tags({"density": io.read_json(folder / layout.GAUSSIANS)["density"],  # the one chosen, a name
                     "model_uri": model_uri, "checkpoint_md5": digest})
