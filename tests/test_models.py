"""Every family behind the one interface: shapes, ranges, finite loss, bit-identical checkpoints."""

import pytest
import torch

from autoencoders import models, params
from tests.helpers import ROOT

VARIANTS = params.load(ROOT / "params.yaml").variants


@pytest.fixture(scope="module")
def batch():
    torch.manual_seed(0)
    return torch.rand(6, 1, 28, 28)


def build(name, batch):
    v = VARIANTS[name]
    torch.manual_seed(0)
    model = models.build(v.family, v.arch)
    if not model.trainable:
        model.fit(torch.rand(50, 1, 28, 28))
    return model.eval()


def test_every_family_has_a_default_variant():
    assert {v.family for v in VARIANTS.values()} == set(models.FAMILIES)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_interface_shapes_range_and_loss(name, batch):
    model = build(name, batch)
    z = model.encode(batch)
    assert z.shape == (6, VARIANTS[name].arch["latent_dim"]) == (6, model.latent_dim)
    x_hat = model.decode(z)
    assert x_hat.shape == (6, 1, 28, 28)
    assert x_hat.min() >= 0 and x_hat.max() <= 1
    loss, parts = model.loss(batch)
    assert loss.ndim == 0 and torch.isfinite(loss) and parts


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_checkpoint_round_trip_is_bit_identical(name, batch, tmp_path):
    model = build(name, batch).to(memory_format=torch.channels_last)  # the layout fit trains in and load restores
    models.save_checkpoint(model, tmp_path / "m.pt")
    again = models.load_checkpoint(tmp_path / "m.pt")
    assert type(again) is type(model) and again.arch == model.arch
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k
    with torch.no_grad():
        assert torch.equal(model.decode(model.encode(batch)), again.decode(again.encode(batch)))
    # a plain weights_only load works too: the file holds tensors and primitives, no code
    assert torch.load(tmp_path / "m.pt", weights_only=True)["family"] == VARIANTS[name].family


def test_sphere_codes_have_unit_norm(batch):
    z = build("sphere", batch).encode(batch)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(6))


def test_vae_encodes_to_its_mean_and_samples_in_loss(batch):
    model = build("vae", batch)
    mu, logvar = model.posterior(batch)
    assert torch.equal(model.encode(batch), mu) and (logvar.exp() > 0).all()  # the code is the mean, no noise
    losses = []
    for seed in (1, 1, 2):
        torch.manual_seed(seed)
        loss, parts = model.loss(batch)
        losses.append(float(loss))
    assert set(parts) == {"recon", "kl"} and parts["kl"] >= 0
    assert losses[0] == losses[1] != losses[2]  # a reparameterised sample per call: the seed decides it


def test_ksparse_keeps_k_units_in_training_and_alpha_k_when_encoding(batch):
    model = models.build("ksparse", {"latent_dim": 50, "k": 4, "alpha": 3})
    assert ((model.sparse_code(batch, 4) != 0).sum(1) <= 4).all()
    z = model.encode(batch)
    assert ((z != 0).sum(1) <= 12).all() and (z >= 0).all()
    # the decoder is the encoder's weight transposed (tied), so there is one weight matrix only
    assert [name for name, _ in model.named_parameters()] == ["decoder_bias", "encoder.weight", "encoder.bias"]
    with pytest.raises(ValueError, match=r"k: alpha \* k \(3 \* 20\) must not exceed latent_dim \(50\)"):
        models.build("ksparse", {"latent_dim": 50, "k": 20, "alpha": 3})


def test_pca_reconstructs_exactly_inside_its_span():
    model = models.build("pca", {"latent_dim": 3})
    basis = torch.linalg.qr(torch.randn(784, 3)).Q.T
    x = (torch.randn(200, 3) @ basis * 0.1 + 0.5).view(-1, 1, 28, 28)
    model.fit(x)
    torch.testing.assert_close(model.decoder_output(model.encode(x)), x, atol=1e-4, rtol=0)


def test_bad_architecture_and_checkpoint_errors(tmp_path):
    with pytest.raises(ValueError, match="loss: bce needs output: sigmoid"):
        models.build("mlp", {"latent_dim": 2, "hidden": [4], "output": "linear", "loss": "bce"})
    with pytest.raises(ValueError, match="latent_dim: must be >= 1, got 0"):
        models.build("vae", {"latent_dim": 0, "hidden": [4]})
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(models.CheckpointError, match="bad.pt: not a valid checkpoint"):
        models.load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(models.CheckpointError, match="checkpoint not found"):
        models.load_checkpoint(tmp_path / "missing.pt")


def test_clipping_a_linear_output_only_lowers_the_error():
    torch.manual_seed(0)
    x = (torch.rand(64, 1, 28, 28) < 0.2).float()  # mostly 0: a PCA reconstruction undershoots below 0
    model = models.build("pca", {"latent_dim": 3})
    model.fit(x)
    errors = models.base.reconstruction_errors(model, x)
    assert errors["sq_error_per_image_unclipped"] > errors["sq_error_per_image"] > 0
    sigmoid = models.build("mlp", {"latent_dim": 2, "hidden": [8]})
    errors = models.base.reconstruction_errors(sigmoid, x)
    assert errors["sq_error_per_image_unclipped"] == errors["sq_error_per_image"]


def test_a_model_that_ignores_its_input_is_called_collapsed():
    x = torch.rand(64, 1, 28, 28)
    model = models.build("pca", {"latent_dim": 3})
    model.fit(x)
    mean_error = models.base.mean_image_sq_error(x, x)
    # PCA's zero code decodes to the mean image: exactly the error of predicting the mean
    zero_code = (x - model.decode(torch.zeros(64, 3))).pow(2).flatten(1).sum(1).mean().item()
    assert zero_code == pytest.approx(mean_error, rel=1e-5)
    assert models.base.collapse_warning("pca", "test", zero_code, mean_error).startswith(
        "warning: variant pca has collapsed to the mean image: test squared error per image"
    )
    assert models.base.collapse_warning("pca", "test", 0.94 * mean_error, mean_error) is None  # 6% better


def test_a_vae_saved_with_the_old_loss_key_still_loads(tmp_path):
    """The VAE's reconstruction loss was `recon` (in params and checkpoints) until v0.1.0, `loss` since."""
    torch.manual_seed(0)
    old = models.build("vae", {"latent_dim": 2, "hidden": [8], "recon": "bce", "beta": 1.0})
    models.save_checkpoint(old, tmp_path / "model.pt")
    loaded = models.load_checkpoint(tmp_path / "model.pt")
    assert loaded.loss_name == "bce" and models.build("vae", {"latent_dim": 2, "hidden": [8]}).loss_name == "mse"
    torch.testing.assert_close(loaded.decode(torch.zeros(1, 2)), old.decode(torch.zeros(1, 2)))
