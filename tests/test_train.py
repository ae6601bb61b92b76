"""The training loop: deterministic by seed, and a diverging loss stops it with a clear error."""

import dataclasses
import sys

import pytest
import torch

from autoencoders import models, params
from autoencoders.train import STRIP, TrainingDiverged, fit, reconstruction_strip, seed_everything
from tests.helpers import ROOT, run, synthetic_digits

SHARED_TRAIN = params.load(ROOT / "params.yaml").train


def shared_train(**changes) -> params.TrainParams:
    """params.yaml's shared training settings, on the CPU, with changes."""
    return dataclasses.replace(SHARED_TRAIN, device="cpu", **changes)


def images(n, seed):
    x, _ = synthetic_digits(n, seed)
    return torch.from_numpy(x).float().div(255).unsqueeze(1)


def train_once(cfg, family="mlp", arch=None):
    seed_everything(0)
    model = models.build(family, arch or {"latent_dim": 4, "hidden": [32]})
    history = fit(model, images(96, 0), images(32, 1), cfg, seed=0, name="tiny")
    return model, history


def untrained_val_loss() -> float:
    """The validation loss of train_once's model before any step."""
    seed_everything(0)
    model = models.build("mlp", {"latent_dim": 4, "hidden": [32]})
    with torch.no_grad():
        return float(model.loss(images(32, 1))[0])


def test_same_seed_same_weights_and_history():
    cfg = shared_train(epochs=2, batch_size=16, schedule="onecycle")
    (a, ha), (b, hb) = train_once(cfg), train_once(cfg)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    strip = lambda h: [{k: v for k, v in row.items() if k != "seconds"} for row in h]
    assert strip(ha) == strip(hb)


def test_training_lowers_validation_loss():
    _, history = train_once(shared_train(epochs=4, batch_size=16, lr=3e-3))
    assert history[-1]["val_loss"] < history[0]["val_loss"]


def test_vae_training_is_deterministic_too():
    cfg = shared_train(epochs=1, batch_size=16)
    arch = {"latent_dim": 2, "hidden": [16]}
    (a, _), (b, _) = train_once(cfg, "vae", arch), train_once(cfg, "vae", arch)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize(
    "family, arch", [("vae", {"latent_dim": 4, "hidden": [16]}), ("ksparse", {"latent_dim": 64, "k": 4, "alpha": 2})]
)
def test_watching_training_leaves_the_weights_as_they_were(family, arch):
    """A strip drawn after every epoch: the same weights, bit for bit, as training unwatched (the VAE
    and the k-sparse model act differently in training mode: the strip must not leave them in eval)."""
    cfg = shared_train(epochs=2, batch_size=32)
    plain, _ = train_once(cfg, family, arch)
    seed_everything(0)
    watched = models.build(family, arch)
    strips, val = [], images(32, 1)
    fit(
        watched,
        images(96, 0),
        val,
        cfg,
        seed=0,
        name="tiny",
        on_epoch=lambda row: strips.append(
            (torch.get_rng_state(), reconstruction_strip(watched, val), torch.get_rng_state())
        ),
    )
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), watched.state_dict().values()))
    assert all(torch.equal(before, after) for before, _, after in strips)  # no random state drawn
    strip = strips[-1][1]
    assert strip.dtype.name == "uint8"
    assert strip.shape == (57, STRIP * 29 - 1) and strip[:28, :28].max() > 0  # digits on top, reconstructions below


def test_the_strip_restores_the_models_mode():
    model = models.build("mlp", {"latent_dim": 2, "hidden": [8]})
    model.train()
    reconstruction_strip(model, images(8, 0))
    assert model.training
    model.eval()
    reconstruction_strip(model, images(8, 0))
    assert not model.training


def test_diverging_loss_names_variant_epoch_and_batch():
    with pytest.raises(TrainingDiverged, match=r"variant tiny: loss became (nan|inf) at epoch 1, batch \d+"):
        train_once(shared_train(epochs=2, batch_size=16, lr=1e30))


def test_notebook_dataloader_feeds_the_same_images_in_its_own_order():
    from autoencoders.train import _batches

    x = images(40, 0)
    labels = torch.arange(40)
    cfg = shared_train(batch_size=16, loader="dataloader")
    batches = list(_batches((x, labels), cfg, torch.Generator().manual_seed(0)))
    assert [len(b[0]) for b in batches] == [16, 16, 8]
    got_x, got_y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    assert sorted(got_y.tolist()) == list(range(40)) and got_y.tolist() != list(range(40))  # shuffled
    torch.testing.assert_close(got_x, x[got_y], atol=0.5 / 255, rtol=0)  # through uint8 and ToTensor
    images_only = next(_batches((x,), cfg, torch.Generator().manual_seed(0)))
    assert len(images_only) == 1 and images_only[0].shape == (16, 1, 28, 28)
    # and it trains: one epoch through the DataLoader lowers the loss below the untrained model's
    _, history = train_once(shared_train(epochs=1, batch_size=16, loader="dataloader"))
    assert history[0]["train_loss"] > 0 and history[0]["val_loss"] < untrained_val_loss()


def _run_python(code: str) -> str:
    """Run code in a fresh interpreter (thread modes and imports are per process)."""
    return run([sys.executable, "-c", code], ROOT).stdout.strip()


def test_every_stage_flushes_denormals_in_every_worker_thread_and_is_deterministic():
    # A tensor large enough for torch to split across its worker threads: if any thread kept the
    # default mode, part of the product would stay denormal instead of becoming zero. A stage imports
    # torch at the top and hands its main to runtime.run, which sets the modes before main computes
    # (torch creates its workers at the first parallel operation, which copy the mode then).
    # Setting the deterministic mode costs no import of torch._dynamo (2 s; runtime.configure_torch).
    code = (
        "import sys, torch; from autoencoders import runtime; x = lambda: torch.full((1 << 22,), 1e-39); "
        "runtime.run(lambda: print(int(((x() * 1.0) != 0).sum()), torch.are_deterministic_algorithms_enabled(), "
        "torch.is_deterministic_algorithms_warn_only_enabled(), 'torch._dynamo' in sys.modules))"
    )
    assert _run_python(code) == "0 True True False"
    assert _run_python("import torch; x = torch.full((1 << 22,), 1e-39); print(int(((x * 1.0) != 0).sum()))") != "0"
