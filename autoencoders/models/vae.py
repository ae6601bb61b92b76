"""The VAE notebook's model: 784-64-32-(mu, logvar), decoder d-32-64-784, loss = reconstruction + beta * KL."""

from __future__ import annotations

import torch

from .base import Autoencoder, check_output_loss, check_positive, mlp


class VAE(Autoencoder):
    RENAMED_ARGS = {"recon": "loss"}  # loss was `recon` to v0.1.0: old params and checkpoints still load

    def __init__(self, latent_dim: int, hidden: list[int], loss: str = "mse", beta: float = 1.0):
        super().__init__()
        check_positive("latent_dim", latent_dim)
        check_positive("hidden", hidden)
        check_output_loss("sigmoid", loss)
        if beta < 0:
            raise ValueError(f"beta: must be >= 0, got {beta}")
        self.latent_dim, self.loss_name, self.beta = latent_dim, loss, beta
        self.encoder = mlp([784, *hidden, 2 * latent_dim], "relu")
        self.decoder = mlp([latent_dim, *reversed(hidden), 784], "relu")

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x.flatten(1)).chunk(2, dim=1)
        return mu, logvar

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]  # the mean: a deterministic code for downstream use

    def decoder_output(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, 1, 28, 28)

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        mu, logvar = self.posterior(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)  # reparameterisation
        n = len(x)
        # summed over pixels and latent dims as in the notebook, averaged over the batch
        recon = self.reconstruction_loss(self.decoder_output(z), x, reduction="sum") / n
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
        return recon + self.beta * kl, {"recon": recon.item(), "kl": kl.item()}
