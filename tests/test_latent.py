"""Embeddings, classifiers on codes, per-digit densities, clustering, interpolation, the Frechet judge
distance, the decode command."""

import typing

import numpy as np
import pytest
import torch

from autoencoders import __main__ as cli
from autoencoders import classifiers, densities, judge, latent, models, params, scoring


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


CLASSIFY = params.ClassifyParams(
    head_hidden=32,
    head_epochs=3,
    head_batch_size=25,
    head_lr=1e-2,
    probe_c=[0.1, 1.0],
    probe_tolerance=1e-4,
    knn_k=[1],
    knn_neighbours=1,
    kmeans_restarts=1,
)


@pytest.mark.parametrize("name, choices", [("head", [1, 2, 3]), ("probe", CLASSIFY.probe_c)])
def test_each_registered_classifier_beats_chance_with_a_setting_from_its_grid(name, choices):
    train, val, (z_test, y_test) = (separable_codes(40, 6, s) for s in (1, 2, 3))
    fit, _ = classifiers.CLASSIFIERS[name]
    predict, chosen = fit(train, val, CLASSIFY, 0)
    metrics = scoring.classification_metrics(predict(z_test), y_test)
    assert metrics["accuracy"] > 0.9 and chosen in choices
    assert set(metrics["per_digit"]) == {str(d) for d in range(10)}


def test_the_probe_stops_once_no_gradient_entry_per_code_exceeds_its_tolerance():
    z, labels = separable_codes(200, 20, 1, spread=3.0)  # overlapping digits: no solution in a few steps
    x, y = torch.from_numpy(z), torch.from_numpy(labels)

    def fitted(tolerance):
        with classifiers.seeded(0):
            linear = torch.nn.Linear(20, 10)
        iterations = classifiers.fit_logistic(linear, x, y, 1.0, tolerance)
        loss = torch.nn.functional.cross_entropy(linear(x), y) + linear.weight.pow(2).sum() / (2 * len(x))
        return iterations, torch.autograd.grad(loss, list(linear.parameters())), linear(x).argmax(1)

    loose_iterations, loose_grads, loose_predictions = fitted(1e-3)
    never_iterations, _, never_predictions = fitted(0.0)
    assert max(g.abs().max().item() for g in loose_grads) <= 1e-3
    assert loose_iterations < never_iterations == classifiers.PROBE_MAX_ITER
    assert (loose_predictions == never_predictions).float().mean() > 0.98


def test_knn_votes_among_neighbours_found_once():
    train, val, test = (separable_codes(40, 6, s) for s in (1, 2, 3))
    found = classifiers.find_neighbours(train, val, test, k=7)
    assert found["val_nearest"].shape == (len(val[0]), 7) and found["test_nearest"].shape == (len(test[0]), 7)
    k, predictions = scoring.choose_k(found, [1, 5])
    assert k in {1, 5} and scoring.accuracy(predictions, test[1]) > 0.9


def test_knn_vote_breaks_ties_towards_the_nearest():
    nearest = np.array([[3, 4, 4, 3], [2, 2, 5, 5], [7, 1, 1, 1]])  # labels of neighbours, closest first
    votes = scoring.knn_votes(nearest, [1, 4])
    assert votes[1].tolist() == [3, 2, 7]
    assert votes[4].tolist() == [3, 2, 1]  # two-two ties go to the closest's label; three beat one


def test_classification_metrics_match_a_hand_count():
    labels = np.array([0, 0, 1, 1])
    m = scoring.classification_metrics(np.array([0, 1, 1, 1]), labels)
    assert m["accuracy"] == 0.75
    assert m["per_digit"]["0"] == {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2}
    assert m["per_digit"]["1"]["precision"] == 2 / 3


def per_digit_codes(n: int, dim: int, seed: int, sphere: bool = False):
    """Three digits' codes: Gaussian clouds around different means, or those pushed onto the sphere."""
    rng = np.random.default_rng(seed)
    true_cov = np.diag(np.linspace(1.0, 2.0, dim)) + 0.4 * (np.ones((dim, dim)) - np.eye(dim)) / dim
    codes = np.concatenate([rng.multivariate_normal(MEANS[d, :dim], true_cov, n) for d in range(3)])
    if sphere:
        codes = codes / np.linalg.norm(codes, axis=1, keepdims=True)
    return codes, np.repeat(np.arange(3), n), true_cov


MEANS = 4 * np.eye(3) + 1  # digit d's mean: far out along axis d


@pytest.mark.parametrize("name", ["diag", "full", "gmm"])
def test_each_density_fits_and_samples_the_declared_shape(name):
    codes, labels, true_cov = per_digit_codes(20000, 3, seed=0)
    val = per_digit_codes(500, 3, seed=1)[:2]
    fitted, val_ll = densities.fit_per_digit(name, (codes, labels), val, [1, 2], seed=0)
    assert set(fitted) == {0, 1, 2} and np.isfinite(val_ll)
    samples, sample_labels = densities.sample_per_digit(fitted, 20000, seed=1)
    assert samples.shape == (60000, 3) and samples.dtype == np.float32
    assert np.bincount(sample_labels).tolist() == [20000] * 3
    expected = np.diag(np.diag(true_cov)) if name == "diag" else true_cov
    for d in range(3):
        np.testing.assert_allclose(samples[sample_labels == d].mean(0), MEANS[d], atol=0.1)
        np.testing.assert_allclose(np.cov(samples[sample_labels == d], rowvar=False), expected, atol=0.1)
    again, _ = densities.sample_per_digit(fitted, 20000, seed=1)
    np.testing.assert_array_equal(samples, again)


def test_the_full_covariance_wins_on_validation_when_dimensions_correlate():
    rng = np.random.default_rng(0)
    cov = np.array([[1.0, 0.9], [0.9, 1.0]])
    codes = rng.multivariate_normal([0, 0], cov, 3000)
    val = rng.multivariate_normal([0, 0], cov, 1000)
    labels, val_labels = np.zeros(3000, int), np.zeros(1000, int)
    scores = {
        n: densities.fit_per_digit(n, (codes, labels), (val, val_labels), [1, 2], 0)[1]
        for n in densities.applicable(sphere=False)
    }
    assert scores["full"] > scores["diag"] + 0.5
    figures = {n: {"val_log_likelihood": v, "copies": False} for n, v in scores.items()}
    assert densities.choose(figures, "val_log_likelihood", sphere=False) in ("full", "gmm")


def test_gmm_picks_two_components_for_two_clusters():
    rng = np.random.default_rng(0)
    two = lambda n: np.concatenate([rng.normal(-4, 1, (n, 2)), rng.normal(4, 1, (n, 2))])
    fitted, _ = densities.fit_per_digit(
        "gmm", (two(2000), np.zeros(4000, int)), (two(500), np.zeros(1000, int)), [1, 2], seed=0
    )
    assert fitted[0].components == 2


def test_von_mises_fisher_samples_have_unit_norm_and_the_fitted_direction():
    codes, labels, _ = per_digit_codes(3000, 3, seed=0, sphere=True)
    assert latent.codes_on_sphere(codes) and densities.applicable(sphere=True)[-1] == "vmf"
    fitted, val_ll = densities.fit_per_digit("vmf", (codes, labels), (codes, labels), [1], seed=0)  # one vMF
    samples, sample_labels = densities.sample_per_digit(fitted, 4000, seed=2)
    np.testing.assert_allclose(np.linalg.norm(samples, axis=1), 1.0, atol=1e-6)
    for d in range(3):
        real_direction = codes[labels == d].mean(0) / np.linalg.norm(codes[labels == d].mean(0))
        sampled = samples[sample_labels == d].mean(0)
        assert sampled / np.linalg.norm(sampled) @ real_direction > 0.999
    # a density on S2: it integrates to 1 over the sphere (Monte Carlo with uniform points)
    uniform = np.random.default_rng(3).normal(size=(400000, 3))
    uniform /= np.linalg.norm(uniform, axis=1, keepdims=True)
    mass = np.exp(fitted[1].log_likelihood(uniform)).mean() * 4 * np.pi
    assert mass == pytest.approx(1.0, abs=0.03)
    figures = {
        "diag": {"val_log_likelihood": val_ll + 100, "val_fd_judge": 1.0, "copies": False},
        "vmf": {"val_log_likelihood": val_ll, "val_fd_judge": 2.0, "copies": False},
    }
    assert densities.choose(figures, "val_log_likelihood", sphere=True) == "vmf"  # same measure only
    assert densities.choose(figures, "val_fd_judge", sphere=True) == "diag"  # images compare across measures


def test_a_density_on_the_sphere_for_codes_off_it_is_an_error_naming_the_key():
    from autoencoders.params import ParamsError

    with pytest.raises(ParamsError, match=r"gaussians.density: vmf needs codes on the unit sphere; variant mlp's"):
        densities.check("vmf", sphere=False, variant="mlp")
    densities.check("vmf", sphere=True, variant="sphere")
    densities.check("diag", sphere=True, variant="sphere")  # the notebook's Gaussian, projected by the decoder


def test_a_von_mises_fisher_mixture_finds_two_clusters_on_the_sphere():
    rng = np.random.default_rng(0)
    two = lambda n: np.concatenate([rng.normal([0, 0, 5], 1, (n, 3)), rng.normal([5, 0, 0], 1, (n, 3))])
    unit = lambda z: z / np.linalg.norm(z, axis=1, keepdims=True)
    train, val = unit(two(2000)), unit(two(500))
    fitted, two_ll = densities.fit_per_digit(
        "vmf", (train, np.zeros(4000, int)), (val, np.zeros(1000, int)), [1, 2], seed=0
    )
    one_ll = densities.fit_per_digit("vmf", (train, np.zeros(4000, int)), (val, np.zeros(1000, int)), [1], 0)[1]
    assert fitted[0].components == 2 and two_ll > one_ll + 0.5
    directions = sorted(np.round(part.mu).tolist() for part in fitted[0].parts)
    assert directions == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    samples, _ = densities.sample_per_digit(fitted, 1000, seed=1)
    np.testing.assert_allclose(np.linalg.norm(samples, axis=1), 1.0, atol=1e-6)


def test_interpolation_ends_at_both_codes_and_stays_on_the_sphere():
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.6, 0.8])
    for sphere in (False, True):
        path = latent.interpolate(a, b, 10, sphere)
        np.testing.assert_allclose(path[[0, -1]], [a, b], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(latent.interpolate(a, b, 10, True), axis=1), 1.0)
    np.testing.assert_allclose(latent.interpolate(a, b, 3, False)[1], (a + b) / 2)


def test_cluster_probe_finds_separated_digits_under_any_labelling():
    codes, labels = separable_codes(50, 4, seed=0)
    permuted = (labels * 3 + 1) % 10  # cluster ids never equal digits: the matching must find them
    probe = classifiers.cluster_probe(codes, permuted, restarts=3, seed=0)
    assert probe["accuracy"] > 0.95 and probe["nmi"] > 0.9
    noise = classifiers.cluster_probe(np.random.default_rng(0).normal(size=(500, 4)), labels, restarts=2, seed=0)
    assert noise["accuracy"] < 0.4 and noise["nmi"] < 0.2


def test_frechet_distance_is_zero_on_itself_and_grows_with_a_shift():
    feats = np.random.default_rng(0).normal(size=(2000, 8))
    stats = judge.feature_stats(feats)
    assert judge.frechet_distance(stats, stats) == pytest.approx(0, abs=1e-6)
    shifts = [judge.frechet_distance(stats, judge.feature_stats(feats + s)) for s in (0.5, 1.0, 2.0)]
    assert shifts == sorted(shifts) and shifts[0] > 0
    assert shifts[1] == pytest.approx(8 * 1.0**2, rel=1e-6)  # a pure shift adds |delta mu|^2


def singular_stats(seed: int):
    """Covariances with dead features (constant zero columns), as the judge's ReLU features have."""
    feats = np.random.default_rng(seed).normal(size=(1000, 64)) * np.linspace(0.5, 2, 64)
    feats[:, seed * 5 : seed * 5 + 12] = 0
    return judge.feature_stats(feats + seed * 0.1)


def test_frechet_distance_is_symmetric_and_stable_to_one_ulp():
    a, b = singular_stats(1), singular_stats(2)
    value = judge.frechet_distance(a, b)
    assert value > 1 and judge.frechet_distance(b, a) == pytest.approx(value, rel=1e-12)
    ulp = [tuple(np.nextafter(x, np.inf) for x in stats) for stats in (a, b)]
    assert abs(judge.frechet_distance(*ulp) - value) / value < 1e-9


def test_precision_and_recall_of_a_set_against_itself_are_one_and_fall_for_a_narrow_set():
    real = np.random.default_rng(0).normal(size=(3000, 2)).astype(np.float32)
    assert judge.precision_recall(real, real) == (1.0, 1.0)
    narrow = real[real[:, 0] < -1]  # real samples (faithful), but only a tail of the distribution (16%)
    precision, recall = judge.precision_recall(real, narrow)
    assert precision == 1.0 and recall < 0.3
    far = real + 10
    assert judge.precision_recall(real, far) == (0.0, 0.0)


@pytest.fixture
def deep2d_models(tmp_path):
    """A models folder holding an untrained 2-d MLP under the name deep2d: the decode command needs no training."""
    torch.manual_seed(0)
    model = models.build("mlp", {"latent_dim": 2, "hidden": [16], "output": "linear"})
    models.save_checkpoint(model, tmp_path / "models" / "deep2d" / "model.pt")
    return tmp_path / "models"


def test_decode_command_writes_a_png(deep2d_models, tmp_path, capsys):
    out = tmp_path / "digit.png"
    assert cli.main(["decode", "deep2d", "--z", "2,-4", "-o", str(out), "--models", str(deep2d_models)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (["deep2d", "--z", "1,2,3"], "variant deep2d has a 2-d latent space, got 3 values"),
        (["deep2d", "--z", "2,x"], "--z: expected comma-separated numbers such as 2,-4, got '2,x'"),
        (["nosuch", "--z", "2,-4"], "no trained variant 'nosuch' in"),
    ],
)
def test_decode_command_errors_are_clear(deep2d_models, tmp_path, capsys, args, message):
    out = tmp_path / "digit.png"
    assert cli.main(["decode", *args, "-o", str(out), "--models", str(deep2d_models)]) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_report_marks_collapsed_variants_and_shows_the_seed_spread():
    import pandas as pd

    from autoencoders import report

    table = pd.DataFrame(
        {
            "family": ["mlp", "pca"],
            "latent_dim": [8, 8],
            "parameters": [10, 0],
            "train_seconds": [1.0, 1.0],
            "collapsed": [True, False],
            **{figure: [52.9, 20.0] for figure in report.HEADLINE},
            "reconstructed_judge_accuracy": [0.1, 0.9],
            "ratio_to_pca": [2.6, None],
            "test_sq_error_unclipped": [52.9, 21.0],
            "cluster_accuracy": [0.2, 0.6],
            "density": ["diag", "gmm"],
        },
        index=pd.Index(["mlp", "pca"], name="variant"),
    )
    judge_metrics = {"test_accuracy": 0.99, "fd_judge_floor": 2.5}
    densities_table = pd.DataFrame({"density": ["-"]}, index=pd.Index(["real training images"], name="variant"))
    markdown = report.summary_markdown(
        table, judge_metrics, densities_table, {"n": 3, "sd": {"pca.test_sq_error_per_image": 0.25}}
    )
    assert "| mlp ⚠ | mlp |" in markdown and "⚠ collapsed to the mean image" in markdown and ": mlp." in markdown
    assert "| 20.000 ± 0.25 |" in markdown and "over 3 seeds" in markdown
    marked = report.summary_markdown(
        table,
        judge_metrics,
        densities_table,
        {"n": 3, "sd": {"pca.test_sq_error_per_image": 0.25}},
        challengers=["pca"],
    )
    assert "| 20.000 ± 0.25 (challenger) |" in marked and "seed sd, as the registry's @challenger does: pca." in marked
    headline = report.headline_metrics(table, judge_metrics)
    assert headline["pca.test_sq_error_per_image"] == 20.0 and headline["judge.fd_judge_floor"] == 2.5


def test_paper_comparison_sets_like_beside_like():
    import pandas as pd

    from autoencoders import report

    table = pd.DataFrame(
        {
            "latent_dim": [30, 30, 100],
            "test_sq_error_per_image": [2.95, 12.59, 3.6],
            "test_sq_error_unclipped": [2.95, 13.87, 3.9],
        },
        index=["conv30", "pca30", "pca"],
    )
    rows = report.paper_comparison(table)[report.LABELS["test_sq_error_per_image"]].to_dict()
    assert rows == {
        "paper: autoencoder 784-1000-500-250-30": 3.00,
        "paper: PCA, 30 components": 13.87,
        "ours: conv30": 2.95,
        "ours: pca30, output unclipped (as the paper)": 13.87,
        "ours: pca30, clipped to [0, 1] (as every variant here)": 12.59,
    }


def test_classification_metrics_equal_scikit_learns():
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 2000)
    pred = np.where(rng.random(2000) < 0.7, labels, rng.integers(0, 10, 2000))
    pred[pred == 3] = 4  # a digit never predicted: precision 0, as scikit-learn's zero_division=0
    ours = scoring.classification_metrics(pred, labels)
    precision, recall, f1, support = precision_recall_fscore_support(labels, pred, labels=range(10), zero_division=0)
    for d in range(10):
        row = ours["per_digit"][str(d)]
        assert [row["precision"], row["recall"], row["f1"]] == pytest.approx(
            [precision[d], recall[d], f1[d]], abs=1e-12
        )
        assert row["support"] == support[d]
    assert ours["accuracy"] == accuracy_score(labels, pred)
    assert ours["macro_f1"] == pytest.approx(f1.mean(), abs=1e-12)


def test_the_density_param_names_exactly_the_registered_densities():
    density = typing.get_type_hints(params.GaussiansParams)["density"]
    assert set(typing.get_args(density)) == {"auto", *densities.DENSITIES}
