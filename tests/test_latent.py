"""Embeddings, classifiers on codes, per-digit Gaussians, the Frechet judge distance, the decode command."""
import numpy as np
import pytest
import torch

from autoencoders import __main__ as cli
from autoencoders import data, judge, latent, models


def separable_codes(n_per_digit: int, dim: int, seed: int, spread: float = 0.5):
    """Codes around ten well-separated centres (fixed by seed 0) with labels 0..9."""
    centres = np.random.default_rng(0).normal(0, 3, size=(10, dim))
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), n_per_digit)
    return (centres[labels] + rng.normal(0, spread, size=(len(labels), dim))).astype(np.float32), labels


def test_embeddings_frame_rows_follow_the_split_files(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    x = torch.from_numpy(images).float().div(255).unsqueeze(1)
    model = models.build("pca", {"latent_dim": 3})
    model.fit(x)
    codes = latent.embed(model, x, batch_size=3)
    assert codes.shape == (7, 3) and codes.dtype == np.float32
    np.testing.assert_allclose(codes, model.encode(x).detach().numpy(), rtol=0, atol=1e-5)  # batching may round
    frame = latent.embeddings_frame("val", codes, np.arange(7) % 10, np.array([5, 9, 11, 2, 3, 4, 40]))
    assert list(frame.columns) == ["split", "index", "label", "z0", "z1", "z2"]
    assert frame["index"].tolist() == [5, 9, 11, 2, 3, 4, 40]
    frame.to_parquet(tmp_path / "e.parquet")
    loaded = latent.load_embeddings(tmp_path / "e.parquet")
    np.testing.assert_array_equal(loaded["val"][0], codes)
    assert len(loaded["train"][0]) == 0


@pytest.mark.parametrize("fit", [
    lambda tr, va: latent.fit_head(tr, va, hidden=32, epochs=3, batch_size=25, lr=1e-2, seed=0),
    lambda tr, va: latent.fit_probe(tr, va, grid=[0.1, 1.0], seed=0),
    lambda tr, va: latent.fit_knn(tr, va, grid=[1, 5]),
], ids=["head", "probe", "knn"])
def test_classifiers_beat_chance_on_separable_codes(fit):
    train, val, (z_test, y_test) = (separable_codes(40, 6, s) for s in (1, 2, 3))
    predict, chosen = fit(train, val)
    metrics = latent.classification_metrics(predict(z_test), y_test)
    assert metrics["accuracy"] > 0.9 and chosen is not None
    assert set(metrics["per_digit"]) == {str(d) for d in range(10)}


def test_classification_metrics_match_a_hand_count():
    labels = np.array([0, 0, 1, 1])
    m = latent.classification_metrics(np.array([0, 1, 1, 1]), labels)
    assert m["accuracy"] == 0.75
    assert m["per_digit"]["0"] == {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2}
    assert m["per_digit"]["1"]["precision"] == 2 / 3


@pytest.mark.parametrize("covariance", ["diag", "full"])
def test_gaussians_recover_known_means_and_covariances(covariance):
    rng = np.random.default_rng(0)
    true_cov = np.array([[1.0, 0.6], [0.6, 2.0]])
    codes = np.concatenate([rng.multivariate_normal([d, -d], true_cov, 20000) for d in range(3)])
    labels = np.repeat(np.arange(3), 20000)
    fitted = latent.fit_gaussians(codes, labels, covariance)
    expected = true_cov if covariance == "full" else np.diag(np.diag(true_cov))
    for d, (mean, cov) in fitted.items():
        np.testing.assert_allclose(mean, [d, -d], atol=0.05)
        np.testing.assert_allclose(cov, expected, atol=0.06)
    samples, sample_labels = latent.sample_gaussians(fitted, 20000, seed=1)
    np.testing.assert_allclose(np.cov(samples[sample_labels == 2], rowvar=False), expected, atol=0.08)
    again, _ = latent.sample_gaussians(fitted, 20000, seed=1)
    np.testing.assert_array_equal(samples, again)


def test_frechet_distance_is_zero_on_itself_and_grows_with_a_shift():
    feats = np.random.default_rng(0).normal(size=(2000, 8))
    stats = judge.feature_stats(feats)
    assert judge.frechet_distance(stats, stats) == pytest.approx(0, abs=1e-6)
    shifts = [judge.frechet_distance(stats, judge.feature_stats(feats + s)) for s in (0.5, 1.0, 2.0)]
    assert shifts == sorted(shifts) and shifts[0] > 0
    assert shifts[1] == pytest.approx(8 * 1.0**2, rel=1e-6)  # a pure shift adds |delta mu|^2


@pytest.fixture
def trained_deep2d(tmp_path):
    torch.manual_seed(0)
    model = models.build("mlp", {"latent_dim": 2, "hidden": [16], "output": "linear"})
    models.save_checkpoint(model, tmp_path / "models" / "deep2d" / "model.pt")
    return tmp_path / "models"


def test_decode_command_writes_a_png(trained_deep2d, tmp_path, capsys):
    out = tmp_path / "digit.png"
    assert cli.main(["decode", "deep2d", "--z", "2,-4", "-o", str(out), "--models", str(trained_deep2d)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, message", [
    (["deep2d", "--z", "1,2,3"], "variant deep2d has a 2-d latent space, got 3 values"),
    (["deep2d", "--z", "2,x"], "--z: expected comma-separated numbers such as 2,-4, got '2,x'"),
    (["nosuch", "--z", "2,-4"], "no trained variant 'nosuch' in"),
])
def test_decode_command_errors_are_clear(trained_deep2d, tmp_path, capsys, args, message):
    out = tmp_path / "digit.png"
    assert cli.main(["decode", *args, "-o", str(out), "--models", str(trained_deep2d)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_report_marks_collapsed_variants_and_shows_the_seed_spread():
    import pandas as pd

    from autoencoders import report

    table = pd.DataFrame({"family": ["mlp", "pca"], "latent_dim": [8, 8], "parameters": [10, 0],
                          "train_seconds": [1.0, 1.0], "collapsed": [True, False],
                          **{figure: [52.9, 20.0] for figure in report.HEADLINE},
                          "reconstructed_judge_accuracy": [0.1, 0.9], "ratio_to_pca": [2.6, None],
                          "test_sq_error_unclipped": [52.9, 21.0]},
                         index=pd.Index(["mlp", "pca"], name="variant"))
    markdown = report.summary_markdown(table, 0.99, {"n": 3, "sd": {"pca.test_sq_error_per_image": 0.25}})
    assert "| mlp ⚠ | mlp |" in markdown and "⚠ collapsed to the mean image" in markdown and ": mlp." in markdown
    assert "| 20.000 ± 0.25 |" in markdown and "over 3 seeds" in markdown
    assert report.headline_metrics(table, 0.99)["pca.test_sq_error_per_image"] == 20.0


def test_paper_comparison_sets_like_beside_like():
    import pandas as pd

    from autoencoders import report

    table = pd.DataFrame({"latent_dim": [30, 30, 100], "test_sq_error_per_image": [2.95, 12.59, 3.6],
                          "test_sq_error_unclipped": [2.95, 13.87, 3.9]}, index=["conv30", "pca30", "pca"])
    rows = report.paper_comparison(table)[report.LABELS["test_sq_error_per_image"]].to_dict()
    assert rows == {"paper: autoencoder 784-1000-500-250-30": 3.00, "paper: PCA, 30 components": 13.87,
                    "ours: conv30": 2.95, "ours: pca30, output unclipped (as the paper)": 13.87,
                    "ours: pca30, clipped to [0, 1] (as every variant here)": 12.59}
