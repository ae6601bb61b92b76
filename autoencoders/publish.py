"""Publishing a pipeline state to MLflow: a parent run with the comparison, one child per variant;
and the queries `python -m autoencoders ui` makes of them. Only the track stage and the command line
run this module."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from pathlib import Path

from .layout import TRAIN_TIME
from .tracking import (
    EXPERIMENT,
    LIVE_EXPERIMENT,
    as_params,
    connect,
    restored_environment,
    server_requests,
    store,
    store_lock,
    tags,
)


def experiment_ids() -> dict[str, str]:
    """Both experiments' ids (created, and tagged, if need be)."""
    with store_lock(), server_requests():
        return {name: connect(name)[1] for name in (EXPERIMENT, LIVE_EXPERIMENT)}


def variant_runs(variant: str, states: list[str] | None = None) -> dict[str, str]:
    """The child runs of one variant across logged pipeline states, newest first: run id -> state name
    (the DVC experiment it came from, or workspace), restricted to the named states if given."""
    with store_lock(), server_requests():
        client, experiment = connect(EXPERIMENT)
        runs = client.search_runs(
            [experiment], f"tags.role = 'variant' and tags.variant = '{variant}'", order_by=["start_time DESC"]
        )
    named = {r.info.run_id: r.data.tags.get("dvc_exp_name", "?") for r in runs}
    return {run_id: name for run_id, name in named.items() if not states or name in states}


def state_digest(paths: list[Path]) -> str:
    """A digest of every file under paths (names and bytes) but the timings: equal digests, equal
    pipeline state. Timings belong to a run, not to the state's identity: re-computing the same
    results (`dvc repro -f`) reaches the same state, however long it took."""
    digest = hashlib.sha256()
    for root in paths:
        files = sorted(
            p for p in (root.rglob("*") if root.is_dir() else [root]) if p.is_file() and p.name != TRAIN_TIME
        )
        for f in files:
            digest.update(str(f.relative_to(root.parent)).encode())
            digest.update(hashlib.md5(f.read_bytes()).digest())
    return digest.hexdigest()[:16]


def publish(
    state: str,
    table,
    params_obj,
    variants_dir: Path,
    models_dir: Path,
    split_dir: Path,
    report_files: list[Path],
    headline: dict[str, float],
    spread_sd: dict[str, float],
) -> tuple[str, dict]:
    """Log one pipeline state: a parent run with the comparison table and the headline metrics
    (reports/metrics.json's `<variant>.<figure>` as `<variant>/<figure>`), one child per variant with all of
    its figures.

    Then every variant's model is registered (registry.py) and given its alias.

    Idempotent: a state already logged completely is left as it is; a partial one (an interrupted
    earlier attempt) is deleted and logged again. Returns (the parent run id, variant -> (registered
    model version, the alias it was given or '')); spread_sd: the seed spread's sd of each headline figure.
    """
    with store_lock(), server_requests():  # parallel queue workers take turns on a local SQLite store
        client, experiment = connect(EXPERIMENT)
        # the registry too: MLflow's SQLite registry finds a models:/m-<id> source through the
        # process-wide tracking URI, not the client's (mlflow/store/model_registry/sqlalchemy_store.py)
        with _fluent(store()[0]):
            parent = _publish(
                client,
                experiment,
                state,
                table,
                params_obj,
                variants_dir,
                models_dir,
                split_dir,
                report_files,
                headline,
            )
            return parent, _register(client, experiment, parent, spread_sd)


def _register(client, experiment: str, parent_id: str, spread_sd: dict[str, float]) -> dict:
    """Register each child run's model (no new version for a checkpoint registered before) and give it
    its alias: variant -> (version, alias or '')."""
    from . import registry
    from .champion import FIGURE

    out = {}
    for child in client.search_runs([experiment], f"tags.mlflow.parentRunId = '{parent_id}'"):
        variant, tags_ = child.data.tags["variant"], child.data.tags
        figure = child.data.metrics["evaluate.sq_error_per_image"]
        version = registry.register(
            client, child, figure, {k: tags_[k] for k in ("git_commit", "dvc_exp_name", "pipeline_state")}
        )
        alias = registry.assign(client, version, tags_["dvc_exp_name"], figure, spread_sd.get(f"{variant}.{FIGURE}"))
        out[variant] = (version.version, alias)
    return out


@contextlib.contextmanager
def _fluent(uri: str):
    """MLflow's fluent API (start_run, log_model, log_image: logging a model has no client form) pointed
    at uri for the calls inside, and pointed back after, so nothing outside this module sees the change."""
    import mlflow

    previous = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    # MLflow sets and unsets the variable along with its own setting
    with restored_environment(["MLFLOW_TRACKING_URI"]):
        mlflow.set_tracking_uri(uri)
        try:
            yield
        finally:
            mlflow.set_tracking_uri(previous)  # None: unset, as it was


def _publish(
    client,
    experiment: str,
    state: str,
    table,
    params_obj,
    variants_dir: Path,
    models_dir: Path,
    split_dir: Path,
    report_files: list[Path],
    headline: dict[str, float],
) -> str:
    import dataclasses

    import mlflow

    from . import layout

    for run in client.search_runs([experiment], f"tags.pipeline_state = '{state}' and tags.role = 'pipeline'"):
        if run.data.tags.get("complete") == "true":
            print(f"MLflow already holds pipeline state {state}: run {run.info.run_id}")
            return run.info.run_id
        for child in client.search_runs([experiment], f"tags.mlflow.parentRunId = '{run.info.run_id}'"):
            client.delete_run(child.info.run_id)
        client.delete_run(run.info.run_id)

    shared = {"seed": params_obj.seed, **as_params(dataclasses.asdict(params_obj.data), "data.")}
    name = os.environ.get("DVC_EXP_NAME", "workspace")
    split = _SplitInputs(split_dir)
    with mlflow.start_run(
        experiment_id=experiment, run_name=f"pipeline {name}", tags=tags(role="pipeline", pipeline_state=state)
    ) as parent:
        mlflow.log_params(
            {
                **shared,
                **as_params(
                    {k: dataclasses.asdict(getattr(params_obj, k)) for k in ("classify", "gaussians", "judge")}
                ),
            }
        )
        mlflow.log_table(table.reset_index(), "comparison.json")
        # `variant/figure`: MLflow's chart view gives each prefix before a slash a section of its own
        mlflow.log_metrics({key.replace(".", "/", 1): value for key, value in headline.items()})
        for f in report_files:
            if f.suffix == ".png":  # the gallery: image cards on the pipeline's run
                _log_image(f)
            else:
                mlflow.log_artifact(str(f))
        for variant, v in params_obj.variants.items():
            folder, checkpoint = variants_dir / variant, layout.model_file(models_dir, variant)
            run_params = {
                **shared,
                "family": v.family,
                **as_params(v.arch, "arch."),
                **as_params(dataclasses.asdict(v.train), "train."),
            }
            digest = hashlib.sha256(f"{state_digest([folder, checkpoint])} {sorted(run_params.items())}".encode())
            run_tags = tags(
                role="variant",
                variant=variant,
                family=v.family,
                pipeline_state=state,
                variant_state=digest.hexdigest()[:16],
            )
            earlier = client.search_runs(
                [experiment],
                f"tags.variant_state = '{run_tags['variant_state']}' and tags.complete = 'true'",
                max_results=1,
            )
            if earlier:
                _link_variant(client, parent.info.run_id, variant, earlier[0], run_params, run_tags, folder)
                continue
            with mlflow.start_run(experiment_id=experiment, run_name=variant, nested=True, tags=run_tags):
                mlflow.log_params(run_params)
                _log_input(split.dataset)
                _log_variant(client, folder, checkpoint, split.example)
        client.set_tag(parent.info.run_id, "complete", "true")
        return parent.info.run_id


class _SplitInputs:
    """The training split as an MLflow dataset and two test images as a model's input example, loaded
    on first use: a state whose variants an earlier state logged already needs neither."""

    def __init__(self, split_dir: Path):
        self.split_dir = split_dir

    @functools.cached_property
    def dataset(self):
        import mlflow

        from . import data, layout

        train_file = layout.split_file(self.split_dir, "train")
        train = data.load_npz(train_file)
        return mlflow.data.from_numpy(
            train["images"],
            targets=train["labels"],
            name="mnist-train-split",
            source=str(train_file.resolve()),
            digest=hashlib.md5(train_file.read_bytes()).hexdigest()[:16],
        )

    @functools.cached_property
    def example(self):
        from . import data, layout

        return data.load_split(layout.split_file(self.split_dir, "test"))[0][:2].numpy()


def _link_variant(
    client, parent_id: str, variant: str, earlier, run_params: dict, run_tags: dict, folder: Path
) -> None:
    """A child run for a variant whose results and params an earlier state logged already (same
    variant_state): its params, metrics and tags again in one batch, its dataset input again, and its
    model and figures by reference (tag figures_run_id: the run that holds them). An experiment that
    changed one variant so costs about one variant's logging, not ten."""
    from mlflow.entities import Param, RunTag

    kept = {k: earlier.data.tags[k] for k in ("model_uri", "checkpoint_md5", "density")}
    run = client.create_run(
        earlier.info.experiment_id,
        run_name=variant,
        tags={
            **run_tags,
            **kept,
            "mlflow.parentRunId": parent_id,
            "figures_run_id": earlier.data.tags.get("figures_run_id", earlier.info.run_id),
        },
    )
    client.log_batch(
        run.info.run_id,
        metrics=_variant_metrics(folder, model_id=None),
        params=[Param(k, str(v)) for k, v in run_params.items()],
        tags=[RunTag("complete", "true")],
    )
    client.log_inputs(run.info.run_id, datasets=earlier.inputs.dataset_inputs)
    client.set_terminated(run.info.run_id)


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


def _log_variant(client, folder: Path, checkpoint: Path, example) -> None:
    """Into the active run: the model, the figures, the loss curves and every numeric final metric.

    Against a server every call is a round trip. The model goes first: MLflow's log_model then
    copies the run's metrics onto the model one request per metric (most of the track stage's time
    against a PostgreSQL-backed server, measured in docs/team.md); the final figures are linked to the
    model in the one batch that logs them instead. A checkpoint already exported by an earlier
    pipeline state is linked, not exported again.
    """
    import mlflow
    import torch

    from . import io, layout, models

    run = mlflow.active_run()
    digest = hashlib.md5(checkpoint.read_bytes()).hexdigest()
    earlier = client.search_runs([run.info.experiment_id], f"tags.checkpoint_md5 = '{digest}'", max_results=1)
    if earlier:
        model_uri, model_id = earlier[0].data.tags["model_uri"], None
    else:
        info = mlflow.pytorch.log_model(
            models.load_checkpoint(checkpoint),
            name="model",
            input_example=example,
            serialization_format="pt2",
            pip_requirements=[f"torch=={torch.__version__}"],
        )
        model_uri, model_id = info.model_uri, info.model_id
    for png in sorted((folder / layout.FIGURES).glob("*.png")) + [folder / layout.GENERATED]:
        _log_image(png)
    for page in sorted(folder.glob("*.html")):  # the latent explorer: MLflow's artifact view shows the page
        mlflow.log_artifact(str(page))
    client.log_batch(run.info.run_id, metrics=_variant_metrics(folder, model_id))
    mlflow.set_tags(
        {
            "density": io.read_json(folder / layout.GAUSSIANS)["density"],  # the one chosen, a name
            "model_uri": model_uri,
            "checkpoint_md5": digest,
            "complete": "true",
        }
    )


def _log_image(png: Path) -> None:
    """An image card in the active run's view, not only a file among its artifacts."""
    import mlflow
    from PIL import Image

    with Image.open(png) as image:
        # synchronous: MLflow's default queues the image's tag on a thread that the run's end then
        # waits up to a second for, and whose failures are only logged, after `complete` is set
        mlflow.log_image(image.convert("RGB"), key=png.stem, step=0, synchronous=True)


def _variant_metrics(folder: Path, model_id: str | None) -> list:
    """The loss curves (one step per epoch) and every numeric final figure of a variant's results,
    `train.json`'s as train.*, and so on; linked to the logged model where there is one."""
    import time

    from mlflow.entities import Metric

    from . import io, layout

    now = int(time.time() * 1000)
    batch = [
        Metric(key, row[key], now, row["epoch"])
        for row in io.read_history(folder / layout.HISTORY)
        for key in ("train_loss", "val_loss")
    ]
    for name in layout.RESULTS:
        part = Path(name).stem
        batch += [
            Metric(f"{part}.{k}", float(x), now, 0, model_id=model_id)
            for k, x in io.flatten(io.read_json(folder / name)).items()
            if isinstance(x, (int, float)) and not isinstance(x, bool)
        ]
    return batch
