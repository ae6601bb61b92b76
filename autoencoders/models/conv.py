"""The conv notebook's autoencoder: three small convolutions, then a 1296-128-32-d linear stack."""

from __future__ import annotations

from torch import nn

from .base import Autoencoder, check_output_loss, check_positive


class ConvAutoencoder(Autoencoder):
    def __init__(self, latent_dim: int, loss: str = "mse"):
        super().__init__()
        check_positive("latent_dim", latent_dim)
        check_output_loss("linear", loss)
        self.latent_dim, self.output, self.loss_name = latent_dim, "linear", loss
        # layer for layer as in the notebook, including its missing activation after Linear(1296, 128)
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 10, 3),
            nn.Conv2d(10, 8, 3),
            nn.ReLU(),
            nn.Conv2d(8, 4, 7),
            nn.Flatten(),
            nn.Linear(4 * 18 * 18, 128),
            nn.Linear(128, 32),
            nn.ReLU(),
            nn.Linear(32, latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, 32),
            nn.ReLU(),
            nn.Linear(32, 128),
            nn.ReLU(),
            nn.Linear(128, 4 * 18 * 18),
            nn.Unflatten(1, (4, 18, 18)),
            nn.ConvTranspose2d(4, 8, 7),
            nn.ReLU(),
            nn.ConvTranspose2d(8, 10, 3),
            nn.ReLU(),
            nn.ConvTranspose2d(10, 1, 3),
        )
