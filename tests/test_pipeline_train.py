"""The real `dvc repro` of the train stages on synthetic data in a temporary git repository."""

import json

import pytest

from autoencoders import models
from tests.helpers import run, set_param

pytestmark = pytest.mark.slow  # the marker's meaning: pyproject.toml


def test_train_stages_write_checkpoint_history_and_metrics(dvc_project):
    project, _ = dvc_project
    run(["dvc", "repro", "train@mlp", "train@vae", "train@pca30"], project)
    for name in ("mlp", "vae", "pca30"):
        model = models.load_checkpoint(project / "models" / name / "model.pt")
        metrics = json.loads((project / "reports" / "variants" / name / "train.json").read_text())
        assert metrics["latent_dim"] == model.latent_dim
        assert metrics["val_sq_error_per_image"] > 0 and metrics["val_mean_image_sq_error_per_image"] > 0
        assert not any(key.startswith("test") for key in metrics)  # the test split is analyze's alone
        timing = json.loads((project / "reports" / "variants" / name / "train_time.json").read_text())
        assert timing["images_per_second"] > 0 and timing["device"] == "cpu"
    history = (project / "reports" / "variants" / "mlp" / "history.csv").read_text().splitlines()
    assert history[0] == "epoch,train_loss,val_loss" and len(history) == 3  # header + 2 epochs

    # a variant's params touch only its own stage
    set_param(project, "variants.vae.epochs", 3)
    status = run(["dvc", "status", "--json"], project).stdout
    changed = set(json.loads(status))
    assert "train@vae" in changed
    assert not changed & {"train@mlp", "train@pca30", "split", "download"}  # never-run stages are listed too


def test_diverging_training_fails_with_a_clear_error_and_no_checkpoint(dvc_project):
    project, _ = dvc_project
    set_param(project, "variants.deep2d.lr", 1e30)  # deep2d's linear output lets the loss overflow
    result = run(["dvc", "repro", "train@deep2d"], project, check=False)
    assert result.returncode != 0
    assert "error: variant deep2d: loss became" in result.stderr and "Traceback" not in result.stderr
    assert not (project / "models" / "deep2d" / "model.pt").exists()
    assert not (project / "reports" / "variants" / "deep2d" / "train.json").exists()


def test_a_collapsed_model_is_called_out_by_train_and_analyze(dvc_project):
    project, _ = dvc_project
    set_param(project, "variants.mlp.lr", 1e-9)  # the weights hardly move: outputs stay near 0.5, worse than the mean
    result = run(["dvc", "repro", "analyze@mlp"], project)
    assert "warning: variant mlp has collapsed to the mean image: validation squared error" in result.stderr
    assert "warning: variant mlp has collapsed to the mean image: test squared error" in result.stderr
    evaluate = json.loads((project / "reports" / "variants" / "mlp" / "evaluate.json").read_text())
    assert evaluate["collapsed"] is True and evaluate["sq_error_per_image"] > evaluate["mean_image_sq_error_per_image"]
