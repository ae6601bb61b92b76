"""The whole pipeline, end to end, through the real dvc CLI and a real MLflow store.

Runs on SMALL_SET (mlp, sphere, pca) of tiny synthetic data to stay quick.
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from autoencoders import data, report
from tests.browser import Chromium
from tests.helpers import BIN, SMALL_SET, free_port, run, wait_http

pytestmark = pytest.mark.slow  # the marker's meaning: pyproject.toml


@pytest.fixture
def mlflow_server(tmp_path):
    """A real `mlflow server` on 127.0.0.1 with its own SQLite backend and artifact folder."""
    port = free_port()
    store = tmp_path / "server"
    store.mkdir()
    log = store / "server.log"
    proc = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{store / 'mlflow.db'}",
            "--artifacts-destination",
            str(store / "artifacts"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{uri}/health", "mlflow server", timeout=90, log=log)
        yield uri
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.browser
def test_the_report_fits_the_window_and_every_image_loads_in_chromium(finished_project, chromium):
    """At 1400 px: no horizontal scroll; the gallery first; every image, folded ones too, decoded."""
    page = finished_project / "reports" / "index.html"
    with Chromium(chromium, width=1400, height=900, offline=True) as browser:
        browser.open(page.as_uri())
        assert browser.evaluate("document.documentElement.scrollWidth") <= 1400
        images = browser.evaluate(
            "[...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0])"
        )
        assert len(images) >= 3 + 5 * len(SMALL_SET) and all(loaded for _, loaded in images), images
        assert images[0][0].startswith("gallery/")  # the page shows before it tells
        opened = browser.evaluate(
            "document.querySelectorAll('details').forEach(d => d.open = true); document.documentElement.scrollWidth"
        )
        assert opened <= 1400  # the wide tables scroll inside their own box


def image_keys(client, run_id: str) -> set[str]:
    """The keys of the images a run logged with mlflow.log_image (the image cards of its view)."""
    return {Path(a.path).name.split("+step+")[0] for a in client.list_artifacts(run_id, "images")}


def runs(client, experiment: str, where: str = ""):
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], where) if exp else []


def test_pipeline_reports_and_mlflow_server(finished_project, mlflow_server):
    # The session's reproduced pipeline; its training stages run again against the server (the live
    # runs), and the new timings they write make the report and track run again (the state's runs).
    project = finished_project
    env = {"MLFLOW_TRACKING_URI": mlflow_server}
    run(["dvc", "repro", "--force", "--single-item"] + [f"train@{name}" for name in SMALL_SET], project, env=env)
    result = run(["dvc", "repro"], project, env=env)
    assert "Running stage 'track'" in result.stdout and "Running stage 'analyze@mlp'" not in result.stdout

    # latent-space stages; the judge's floor: real training images against real test images
    floor = json.loads((project / "reports" / "judge" / "floor.json").read_text())
    assert floor["fd_judge_floor"] > 0 and 0 < floor["floor_precision"] <= 1
    test_labels = data.load_npz(project / "data" / "split" / "test.npz")["labels"]
    knn_grid = yaml.safe_load((project / "params.yaml").read_text())["classify"]["knn_k"]
    for name in SMALL_SET:
        folder = project / "reports" / "variants" / name
        classify = json.loads((folder / "classify.json").read_text())
        assert set(classify) == {"head", "probe", "kmeans"}
        assert {"accuracy", "macro_f1", "per_digit"} <= set(classify["probe"])
        assert 0 <= classify["kmeans"]["accuracy"] <= 1 and 0 <= classify["kmeans"]["nmi"] <= 1
        knn = json.loads((folder / "knn.json").read_text())
        assert knn["k"] in knn_grid and {"accuracy", "macro_f1", "per_digit"} <= set(knn)
        for confusion in (folder / "confusion" / "probe.csv", folder / "knn_confusion.csv"):
            rows = confusion.read_text().splitlines()
            assert rows[0] == "actual,predicted" and len(rows) == 1 + len(test_labels), confusion
        gaussians = json.loads((folder / "gaussians.json").read_text())
        tried = {"diag", "full", "gmm", "vmf"} if name == "sphere" else {"diag", "full", "gmm"}
        assert set(gaussians["densities"]) == tried and gaussians["density"] in tried
        honest = [d for d, scores in gaussians["densities"].items() if not scores["copies"]] or list(tried)
        assert (
            gaussians["density"]
            == gaussians["auto_picks"]["val_fd_judge"]
            == (  # auto: the best val fd_judge
                min(honest, key=lambda d: gaussians["densities"][d]["val_fd_judge"])
            )
        )
        assert gaussians["auto_picks"]["val_log_likelihood"] in tried
        assert gaussians["generated"] == {
            "density": gaussians["density"],
            **gaussians["densities"][gaussians["density"]],
        }
        for scores in gaussians["densities"].values():
            assert 0 <= scores["judge_accuracy"] <= 1 and scores["fd_judge"] >= 0
            assert 0 <= scores["precision"] <= 1 and 0 <= scores["recall"] <= 1 and scores["val_fd_judge"] >= 0
            assert scores["copies"] == (scores["nn_distance_ratio"] < gaussians["copying_threshold"])
            assert scores["nn_distance_ratio"] > 0 and np.isfinite(scores["meehan_ct"])
            assert scores["fd_judge_over_floor"] == pytest.approx(scores["fd_judge"] / floor["fd_judge_floor"])
        assert (folder / "generated.png").read_bytes()[:4] == b"\x89PNG"
        figures = {p.stem for p in (folder / "figures").glob("*.png")}
        assert {"reconstructions", "interpolations", "latent_map", "code_histograms", "loss_curves"} <= figures
    assert "encoder_decoder" in {p.stem for p in (project / "reports/variants/sphere/figures").glob("*.png")}
    embeddings = pd.read_parquet(project / "data/embeddings/sphere.parquet")  # a row per image of every split
    sizes = {s: len(data.load_npz(project / "data" / "split" / f"{s}.npz")["labels"]) for s in ("train", "val", "test")}
    assert embeddings.groupby("split").size().to_dict() == sizes
    codes = embeddings[["z0", "z1", "z2"]].to_numpy()
    assert np.allclose(np.linalg.norm(codes, axis=1), 1, atol=1e-4)  # the sphere variant's codes on S2

    # report: every linked image exists, the summary is a DVC metric
    page = (project / "reports" / "index.html").read_text()
    links = re.findall(r'<img src="([^"]+)"', page)
    assert len(links) >= 5 * len(SMALL_SET)
    assert all((project / "reports" / link).is_file() for link in links)  # and they load: the browser test
    gallery = sorted(p.name for p in (project / "reports" / "gallery").iterdir())
    assert gallery == ["generated.png", "latent_maps.png", "reconstructions.png"]
    assert [f"gallery/{name}" for name in ("reconstructions.png", "generated.png", "latent_maps.png")] == links[:3]
    assert all(f'href="variants/{name}/explorer.html"' in page for name in SMALL_SET)
    # the headline figures are the only DVC metrics: flat `<variant>.<figure>` keys
    headline = json.loads((project / "reports" / "metrics.json").read_text())
    assert set(headline) == {f"{v}.{f}" for v in SMALL_SET for f in report.HEADLINE} | set(report.JUDGE_HEADLINES)
    assert "| real training images | - |" in (project / "reports" / "summary.md").read_text()
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], project).stdout)
    assert list(shown[""]["data"]) == ["reports/metrics.json"]
    assert shown[""]["data"]["reports/metrics.json"]["data"] == headline

    # MLflow: one parent, one child per variant with everything on it
    mlflow.set_tracking_uri(mlflow_server)
    client = MlflowClient()
    parents = runs(client, "autoencoders", "tags.role = 'pipeline'")
    assert len(parents) == 1 and parents[0].data.tags["complete"] == "true"
    parent_id = parents[0].info.run_id
    # headline metrics as `variant/figure`: one section per variant in MLflow's chart view
    assert parents[0].data.metrics == pytest.approx({k.replace(".", "/", 1): v for k, v in headline.items()})
    for name in ("autoencoders", "autoencoders-training"):  # opened as model training, not GenAI
        assert client.get_experiment_by_name(name).tags["mlflow.experimentKind"] == "custom_model_development"
    children = runs(client, "autoencoders", f"tags.mlflow.parentRunId = '{parent_id}'")
    assert sorted(c.data.tags["variant"] for c in children) == sorted(SMALL_SET)
    assert "comparison.json" in {a.path for a in client.list_artifacts(parent_id)}
    assert {"reconstructions", "generated", "latent_maps"} <= image_keys(client, parent_id)  # the gallery
    for child in children:
        tags, metrics, params = child.data.tags, child.data.metrics, child.data.params
        assert {"git_commit", "dvc_exp_name", "baseline_rev", "variant"} <= set(tags)
        assert {
            "evaluate.sq_error_per_image",
            "classify.probe.accuracy",
            "knn.accuracy",
            "gaussians.generated.fd_judge",
        } <= set(metrics)
        assert params["arch.latent_dim"] in {"100", "3"} and "train.lr" in params
        assert {"latent_map", "generated"} <= image_keys(client, child.info.run_id)
        assert "explorer.html" in {a.path for a in client.list_artifacts(child.info.run_id)}
        assert child.inputs.dataset_inputs[0].dataset.name == "mnist-train-split"
    sphere = next(c for c in children if c.data.tags["variant"] == "sphere")
    model = mlflow.pytorch.load_model(sphere.data.tags["model_uri"])
    import torch

    out = model(torch.rand(2, 1, 28, 28))
    assert tuple(out.shape) == (2, 1, 28, 28)
    live = runs(client, "autoencoders-training")
    assert len(live) == len(SMALL_SET)
    assert (
        len(client.get_metric_history(next(r for r in live if r.data.tags["variant"] == "mlp").info.run_id, "val_loss"))
        == 2
    )  # one point per epoch

    # nothing changed: nothing runs, MLflow gains nothing
    again = run(["dvc", "repro"], project, env=env)
    assert "Running stage" not in again.stdout
    assert len(runs(client, "autoencoders", "tags.role = 'pipeline'")) == 1

    # the decode command on the pipeline's own model
    out_png = project / "point.png"
    run([sys.executable, "-m", "autoencoders", "decode", "sphere", "--z", "0,0,1", "-o", str(out_png)], project)
    assert out_png.read_bytes()[:4] == b"\x89PNG"


def test_experiments_log_to_the_repository_sqlite_store(finished_project):
    project = finished_project  # the baseline is logged as 'workspace'; the experiments retrain mlp only
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "baseline results"], project)
    run(["dvc", "exp", "run", "-n", "wide", "-S", "variants.mlp.latent_dim=8"], project)
    run(["dvc", "exp", "run", "--temp", "-n", "narrow", "-S", "variants.mlp.latent_dim=4"], project)
    assert (project / "mlflow.db").is_file() and (project / "mlartifacts").is_dir()
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    parents = runs(client, "autoencoders", "tags.role = 'pipeline'")
    assert sorted(r.data.tags["dvc_exp_name"] for r in parents) == ["narrow", "wide", "workspace"]
    # an experiment logs its changed variant in full; the others are linked to the runs holding them
    children = {
        (r.data.tags["dvc_exp_name"], r.data.tags["variant"]): r
        for r in runs(client, "autoencoders", "tags.role = 'variant'")
    }
    assert len(children) == 3 * len(SMALL_SET)
    for name in SMALL_SET:
        baseline, wide = children[("workspace", name)], children[("wide", name)]
        assert wide.data.tags["mlflow.parentRunId"] != baseline.data.tags["mlflow.parentRunId"]
        if name == "mlp":
            assert "figures_run_id" not in wide.data.tags and wide.data.metrics != baseline.data.metrics
            assert {"latent_map", "generated"} <= image_keys(client, wide.info.run_id)
        else:
            assert wide.data.tags["figures_run_id"] == baseline.info.run_id
            assert wide.data.tags["model_uri"] == baseline.data.tags["model_uri"]
            assert wide.data.metrics == baseline.data.metrics and wide.data.params == baseline.data.params
            assert wide.inputs.dataset_inputs[0].dataset.digest == baseline.inputs.dataset_inputs[0].dataset.digest
    narrow = runs(client, "autoencoders", "tags.dvc_exp_name = 'narrow' and tags.variant = 'mlp'")
    assert narrow[0].data.params["arch.latent_dim"] == "4"
    # artifacts of the --temp run live at the repository root, not in the deleted temporary copy
    assert Path(narrow[0].info.artifact_uri.removeprefix("file://")).is_relative_to(project / "mlartifacts")
    # a link to the two states' mlp runs side by side in MLflow's UI
    links = run(
        [sys.executable, "-m", "autoencoders", "ui", "--links-only", "--compare", "mlp", "--states", "wide", "narrow"],
        project,
    ).stdout.splitlines()
    ids = [
        r.info.run_id
        for name in ("narrow", "wide")
        for r in runs(client, "autoencoders", f"tags.dvc_exp_name = '{name}' and tags.variant = 'mlp'")
    ]
    assert links[-1] == (
        f"mlp in narrow, wide: http://127.0.0.1:5000/#/compare-runs?runs=%5B%22{ids[0]}%22%2C%20%22"
        f"{ids[1]}%22%5D&experiments=%5B%22{narrow[0].info.experiment_id}%22%5D"
    )


def test_unreachable_tracking_server_fails_before_training(small_project):
    project, _ = small_project
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    run(["dvc", "repro", "split"], project)
    result = run(["dvc", "repro", "train@mlp"], project, env={"MLFLOW_TRACKING_URI": uri}, check=False, timeout=120)
    assert result.returncode != 0
    assert f"error: MLflow tracking server {uri} is unreachable" in result.stderr and "Traceback" not in result.stderr
    assert "epoch 1" not in result.stderr
    assert not (project / "models" / "mlp" / "model.pt").exists()


@contextlib.contextmanager
def mlflow_ui(project: Path):
    """`python -m autoencoders ui` on the project's store: the links it prints, once the server answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "autoencoders", "ui", "--port", str(port)],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        links = dict(proc.stdout.readline().strip().split(": ", 1) for _ in range(2))
        # polled at /health: a client call against a server still starting retries with back-off
        wait_http(f"http://127.0.0.1:{port}/health", "mlflow ui", timeout=90)
        yield f"http://127.0.0.1:{port}", links
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the UI's server and its workers
        proc.wait(timeout=30)


def test_ui_links_open_the_runs_table(finished_project):
    """`python -m autoencoders ui` serves the project's store and prints links that open each
    experiment on its runs table (MLflow 3.17.2 would open a new browser on its GenAI overview)."""
    with mlflow_ui(finished_project) as (uri, links):
        assert set(links) == {"autoencoders", "autoencoders-training"}
        assert all(
            link.startswith(f"{uri}/#/experiments/") and link.endswith("?workflowType=machine_learning")
            for link in links.values()
        )
        experiment = MlflowClient(uri).get_experiment_by_name("autoencoders")
        assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


@pytest.mark.browser
def test_the_ui_link_shows_the_parent_runs_in_chromium(finished_project, chromium):
    with mlflow_ui(finished_project) as (_, links), Chromium(chromium) as browser:
        browser.open(links["autoencoders"])
        page = browser.text_with("pipeline workspace")
    assert "Run Name" in page and "pipeline workspace" in page
