import copy
import dataclasses
import re

import pytest
import yaml

from autoencoders import models, params
from tests.helpers import ROOT, key_parent, set_key

DEFAULTS = yaml.safe_load((ROOT / "params.yaml").read_text())


def with_change(path: str, value):
    return set_key(copy.deepcopy(DEFAULTS), path, value)


def test_default_params_load_into_typed_objects():
    p = params.load(ROOT / "params.yaml")
    assert p.data.val_size == 10000 and p.data.digits is None
    conv = p.variants["conv"]
    assert conv.family == "conv" and conv.arch == {"latent_dim": 100, "loss": "mse"}
    assert (conv.train.batch_size, conv.train.epochs) == (25, 2)
    assert p.variants["mlp"].train.lr == p.train.lr  # not overridden: the shared default


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("data.val_size", 70000, "data.val_size: must be < 60000, got 70000"),
        ("data.val_size", "ten", "data.val_size: must be int, got 'ten'"),
        ("data.digits", [1, 12], "data.digits[1]: must be <= 9, got 12"),
        ("data.colour", "red", "data.colour: unknown key"),
        ("train.epochs", 0, "train.epochs: must be >= 1, got 0"),
        ("train.lr", 0, "train.lr: must be > 0, got 0"),
        ("train.schedule", "linear", "train.schedule: must be one of 'constant', 'onecycle' or 'cosine', got 'linear'"),
        ("train.batch_size", True, "train.batch_size: must be int, got True"),
        ("variants.vae.epochs", -3, "variants.vae.epochs: must be >= 1, got -3"),
        ("variants.mlp.hiden", [10], "variants.mlp.hiden: unknown key"),
        ("variants.mlp.hidden", "100", "variants.mlp.hidden: must be a list, got '100'"),
        ("variants.conv.family", "transformer", "variants.conv.family: unknown family 'transformer'"),
        ("classify.knn_k", [0], "classify.knn_k[0]: must be >= 1, got 0"),
        ("classify.knn_k", [1, 60], "classify.knn_k[1]: must be <= classify.knn_neighbours (50), got 60"),
        ("classify.knn_neighbours", 0, "classify.knn_neighbours: must be >= 1, got 0"),
        ("gaussians.density", "kde", "gaussians.density: must be one of 'auto', 'diag', 'full', 'gmm' or 'vmf'"),
        ("gaussians.components", [], "gaussians.components: must list at least 1 value, got []"),
        ("gaussians.components", [2, 0], "gaussians.components[1]: must be >= 1, got 0"),
        (
            "gaussians.samples_per_digit",
            4,
            "gaussians.samples_per_digit: must be >= the largest of gaussians.components (16), got 4",
        ),
        (
            "gaussians.auto_by",
            "fjd",
            "gaussians.auto_by: must be one of 'val_fd_judge' or 'val_log_likelihood', got 'fjd'",
        ),
        ("gaussians.copying_threshold", -0.5, "gaussians.copying_threshold: must be >= 0, got -0.5"),
        ("gaussians.copying_threshold", "high", "gaussians.copying_threshold: must be float, got 'high'"),
        ("seed", -1, "seed: must be >= 0, got -1"),
        ("seed", 2**40, "seed: must be <= 4294967295, got 1099511627776"),
        ("sed", 1, "sed: unknown key"),
        ("train.device", "gpu", "train.device: must be auto, cpu, mps, cuda or cuda:N, got 'gpu'"),
        ("variants.mlp.device", "tpu", "variants.mlp.device: must be auto, cpu, mps, cuda or cuda:N, got 'tpu'"),
        ("classify.probe_c", [], "classify.probe_c: must list at least 1 value, got []"),
        ("classify.probe_tolerance", -1e-4, "classify.probe_tolerance: must be >= 0, got -0.0001"),
        ("classify.knn_k", [], "classify.knn_k: must list at least 1 value, got []"),
        ("variants.a/b", {"family": "pca", "latent_dim": 3}, "variants.a/b: a variant name may hold only letters"),
        # the families' own checks, named by their full key
        ("variants.mlp.latent_dim", 0, "variants.mlp.latent_dim: must be >= 1, got 0"),
        ("variants.mlp.activation", "swish", "variants.mlp.activation: must be one of relu"),
        ("variants.deep2d.loss", "bce", "variants.deep2d.loss: bce needs output: sigmoid"),
        ("variants.vae.loss", "l1", "variants.vae.loss: must be one of mse, bce, got 'l1'"),
        ("variants.conv30.channels", [32], "variants.conv30.channels: must list two widths"),
        ("variants.ksparse.k", 2000, "variants.ksparse.k: alpha * k (12 * 2000) must not exceed latent_dim (1000)"),
        ("variants.pca.latent_dim", 1000, "variants.pca.latent_dim: PCA of 784 pixels has at most 784 components"),
    ],
)
def test_bad_params_name_the_key(path, value, message):
    with pytest.raises(params.ParamsError) as err:
        params.parse(with_change(path, value), models.FAMILIES)
    assert str(err.value).startswith(message)


def float_keys(node, path=""):
    """The full key of every float in params.yaml, list items included (classify.probe_c[0])."""
    if isinstance(node, dict):
        return [k for key, value in node.items() for k in float_keys(value, f"{path}.{key}" if path else key)]
    if isinstance(node, list):
        return [k for i, value in enumerate(node) for k in float_keys(value, f"{path}[{i}]")]
    return [path] if isinstance(node, float) else []


FLOAT_KEYS = float_keys(DEFAULTS)


def test_every_kind_of_float_is_covered():
    assert {"train.lr", "variants.vae.beta", "classify.probe_c[0]", "gaussians.copying_threshold"} <= set(FLOAT_KEYS)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("path", FLOAT_KEYS)
def test_a_non_finite_float_names_its_key(path, bad):
    raw = copy.deepcopy(DEFAULTS)
    *parents, last = [int(k) if k.isdigit() else k for k in re.split(r"[.\[\]]+", path.rstrip("]"))]
    node = raw
    for key in parents:
        node = node[key]
    node[last] = bad
    with pytest.raises(params.ParamsError, match=rf"^{re.escape(path)}: must be a finite number, got {bad}$"):
        params.parse(raw, models.FAMILIES)


def test_without_the_registry_architectures_wait_for_the_stages_that_build_models():
    raw = with_change("variants.mlp.latent_dim", 0)
    assert params.parse(raw).variants["mlp"].arch["latent_dim"] == 0  # download and split need no torch
    with pytest.raises(params.ParamsError, match=r"^variants\.mlp\.latent_dim: must be >= 1"):
        params.parse(raw, models.FAMILIES)


def test_a_setting_is_named_where_it_is_written():
    p = params.parse(with_change("variants.mlp.device", "cpu"))
    assert p.variants["mlp"].key("device") == "variants.mlp.device"
    assert p.variants["vae"].key("device") == "train.device"  # inherited from the shared section


def test_missing_required_architecture_argument_is_named():
    raw = copy.deepcopy(DEFAULTS)
    del raw["variants"]["mlp"]["hidden"]
    with pytest.raises(params.ParamsError, match=r"^variants\.mlp\.hidden: missing$"):
        params.parse(raw, models.FAMILIES)


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(params.ParamsError, match="params file not found"):
        params.load(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("data: [unclosed\n")
    with pytest.raises(params.ParamsError, match="not valid YAML"):
        params.load(tmp_path / "bad.yaml")


def test_exponent_floats_read_as_dvc_writes_them(tmp_path):
    # `dvc exp run -S variants.vae.lr=1e-4` writes `lr: 1e-4`, a string to YAML 1.1 readers
    text = (ROOT / "params.yaml").read_text().replace("  lr: 0.001", "  lr: 1e-4")
    (tmp_path / "params.yaml").write_text(text)
    assert params.load(tmp_path / "params.yaml").variants["mlp"].train.lr == 1e-4
    assert yaml.safe_load("a: 1e+30")["a"] == "1e+30"  # why the loader is needed


@pytest.mark.parametrize("path", ["train.loader", "classify.knn_k", "judge.lr", "data.digits", "seed", "gaussians"])
def test_a_key_missing_from_params_yaml_is_named(path):
    raw = copy.deepcopy(DEFAULTS)
    node, last = key_parent(raw, path)
    del node[last]
    with pytest.raises(params.ParamsError, match=rf"^{re.escape(path)}: missing$"):
        params.parse(raw)


def test_values_live_in_params_yaml_only():
    """The dataclasses declare types and bounds; no default value is written a second time there."""
    for cls in (
        params.DataParams,
        params.TrainParams,
        params.ClassifyParams,
        params.GaussiansParams,
        params.JudgeParams,
    ):
        for f in dataclasses.fields(cls):
            assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, (cls, f.name)
