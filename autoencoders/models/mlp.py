"""Fully connected autoencoders: the mlp, deep2d, prelu and sphere notebooks' models."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import ACTIVATIONS, Autoencoder, check_choice, check_output_loss, check_positive, mlp


class MLPAutoencoder(Autoencoder):
    """784 -> hidden... -> latent_dim -> reversed(hidden)... -> 784.

    latent_activation follows the bottleneck (tanh in the mlp notebook, PReLU in the prelu one);
    sphere=True then projects codes onto the unit sphere (the spherical-latent notebook's S2).
    """

    def __init__(
        self,
        latent_dim: int,
        hidden: list[int],
        activation: str = "relu",
        latent_activation: str = "none",
        output: str = "sigmoid",
        loss: str = "mse",
        init: str = "default",
        sphere: bool = False,
    ):
        super().__init__()
        check_positive("latent_dim", latent_dim)
        check_positive("hidden", hidden)
        check_choice("activation", activation, ACTIVATIONS)
        check_choice("latent_activation", latent_activation, ACTIVATIONS)
        check_choice("init", init, ("default", "kaiming_normal"))
        check_output_loss(output, loss)
        self.latent_dim, self.output, self.loss_name, self.sphere = latent_dim, output, loss, sphere
        self.encoder = mlp([784, *hidden, latent_dim], activation, latent_activation)
        self.decoder = mlp([latent_dim, *reversed(hidden), 784], activation)
        if init == "kaiming_normal":  # as the prelu notebook: every Linear but the output layer
            for layer in [*self.encoder, *self.decoder][:-1]:
                if isinstance(layer, nn.Linear):
                    nn.init.kaiming_normal_(layer.weight)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.encoder(x.flatten(1)))

    def project(self, z: torch.Tensor) -> torch.Tensor:
        return F.normalize(z, dim=1) if self.sphere else z

    def decoder_output(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, 1, 28, 28)
