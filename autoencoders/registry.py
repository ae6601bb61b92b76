"""MLflow's model registry: each variant's model under one name, `autoencoders-<variant>`, whatever
pipeline state logged it.

A version is one checkpoint (its MD5 in the tag checkpoint_md5), so logging the same state again, or
a state whose variant did not change, adds no version. Aliases say which version to use:
- `champion`: the version of the main branch's workspace state (set whenever track logs it), or the
  one a user chose with `autoencoders champion VARIANT STATE`;
- `challenger`: the newest version from an experiment that beats the champion by champion.py's rule
  (its test squared error per image lower by more than 2 seed sd, reports/seed_spread.json).
Only the track stage and the command line run this module.
"""

from __future__ import annotations

import os
import subprocess

from .champion import FIGURE, beats

PREFIX = "AUTOENCODERS_MODEL_PREFIX"  # the environment variable that renames every registered model
DEFAULT_PREFIX = "autoencoders-"
CHAMPION_BRANCH = "main"


def model_name(variant: str) -> str:
    return os.environ.get(PREFIX, DEFAULT_PREFIX) + variant


def on_champion_branch() -> bool:
    branch = subprocess.run(["git", "branch", "--show-current"], capture_output=True, text=True).stdout
    return branch.strip() == CHAMPION_BRANCH


def version_of(client, name: str, checkpoint_md5: str):
    """The registered version of a checkpoint, or None."""
    found = client.search_model_versions(f"name = '{name}' and tag.checkpoint_md5 = '{checkpoint_md5}'")
    return min(found, key=lambda v: int(v.version)) if found else None


def register(client, run, figure: float, state_tags: dict[str, str]):
    """The version holding a variant child run's model (run: its MLflow run; figure: its FIGURE),
    registered if it is not yet. state_tags: git_commit, dvc_exp_name and pipeline_state."""
    from mlflow.exceptions import MlflowException

    name, md5 = model_name(run.data.tags["variant"]), run.data.tags["checkpoint_md5"]
    if found := version_of(client, name, md5):
        return found
    try:
        client.create_registered_model(name, tags={"variant": run.data.tags["variant"]})
    except MlflowException as err:
        if "already exists" not in str(err).lower() and "RESOURCE_ALREADY_EXISTS" not in str(err):
            raise
    source = run.data.tags["model_uri"]  # models:/m-<id>: a tracking server wants that id beside it
    model_id = source.removeprefix("models:/") if source.startswith("models:/m-") else None
    return client.create_model_version(
        name,
        source=source,
        run_id=run.info.run_id,
        model_id=model_id,
        tags={**state_tags, "checkpoint_md5": md5, FIGURE: repr(figure)},
    )


def champion(client, name: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        return None


def assign(client, version, state: str, figure: float, sd: float | None) -> str:
    """Give a version its alias as the rules above say; returns the alias given ('' for none)."""
    if state == "workspace" and on_champion_branch():
        client.set_registered_model_alias(version.name, "champion", version.version)
        return "champion"
    current = champion(client, version.name)
    if current is None or current.version == version.version:
        return ""
    if beats(float(current.tags[FIGURE]), figure, sd):
        client.set_registered_model_alias(version.name, "challenger", version.version)
        return "challenger"
    return ""


def crown(client, experiment: str, variant: str, state: str):
    """Move `champion` to the version holding a variant's model in a pipeline state (a DVC experiment's
    name, or workspace; its newest logging), whichever state registered that checkpoint first;
    returns that version."""
    from .errors import UserError

    runs = client.search_runs(
        [experiment],
        f"tags.role = 'variant' and tags.variant = '{variant}' and tags.dvc_exp_name = '{state}'",
        order_by=["start_time DESC"],
        max_results=1,
    )
    name = model_name(variant)
    version = version_of(client, name, runs[0].data.tags["checkpoint_md5"]) if runs else None
    if version is None:
        raise UserError(f"no registered version of {name} in pipeline state {state!r} (track registers it)")
    client.set_registered_model_alias(name, "champion", version.version)
    return version
