"""A strided convolutional autoencoder: our 30-d model that beats Hinton & Salakhutdinov (2006)."""

from __future__ import annotations

from torch import nn

from .base import ACTIVATIONS, Autoencoder, check_choice, check_output_loss, check_positive


def _block(conv: nn.Module, channels: int, activation: str) -> list[nn.Module]:
    return [conv, nn.BatchNorm2d(channels), ACTIVATIONS[activation]()]


class ConvNetAutoencoder(Autoencoder):
    """Two stride-2 convolutions (28 -> 14 -> 7), a linear bottleneck, and the mirror image back."""

    def __init__(self, latent_dim: int, channels: list[int], activation: str = "relu", loss: str = "mse"):
        super().__init__()
        check_positive("latent_dim", latent_dim)
        check_positive("channels", channels)
        if len(channels) != 2:
            raise ValueError(f"channels: must list two widths (28->14->7), got {channels!r}")
        check_choice("activation", activation, ACTIVATIONS)
        check_output_loss("sigmoid", loss)
        self.latent_dim, self.loss_name = latent_dim, loss
        c1, c2 = channels
        self.encoder = nn.Sequential(
            *_block(nn.Conv2d(1, c1, 3, stride=2, padding=1), c1, activation),
            *_block(nn.Conv2d(c1, c2, 3, stride=2, padding=1), c2, activation),
            nn.Flatten(),
            nn.Linear(c2 * 49, latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, c2 * 49),
            nn.Unflatten(1, (c2, 7, 7)),
            nn.BatchNorm2d(c2),
            ACTIVATIONS[activation](),
            *_block(nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), c1, activation),
            nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1),
        )
