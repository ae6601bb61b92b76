"""A k-sparse autoencoder (Makhzani & Frey, ICLR 2014): overcomplete codes a linear probe can read.

One linear layer into `latent_dim` units keeps only the k largest (ReLU) activations per image;
the decoder is the same weight matrix transposed (tied weights), as in the paper. Encoding for
downstream use keeps alpha * k units, the paper's trick for features that classify better.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import Autoencoder, check_output_loss, check_positive


class KSparseAutoencoder(Autoencoder):
    def __init__(self, latent_dim: int, k: int, alpha: int = 3, loss: str = "mse"):
        super().__init__()
        check_positive("latent_dim", latent_dim)
        check_positive("k", k)
        check_positive("alpha", alpha)
        if alpha * k > latent_dim:
            raise ValueError(f"k: alpha * k ({alpha} * {k}) must not exceed latent_dim ({latent_dim})")
        check_output_loss("sigmoid", loss)
        self.latent_dim, self.k, self.alpha, self.loss_name = latent_dim, k, alpha, loss
        self.encoder = nn.Linear(784, latent_dim)
        self.decoder_bias = nn.Parameter(torch.zeros(784))

    def sparse_code(self, x: torch.Tensor, k: int) -> torch.Tensor:
        pre = self.encoder(x.flatten(1))
        top, where = pre.topk(k, dim=1)
        return torch.zeros_like(pre).scatter(1, where, top.relu())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.sparse_code(x, self.alpha * self.k)

    def decoder_output(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.encoder.weight + self.decoder_bias).view(-1, 1, 28, 28)

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        value = self.reconstruction_loss(self.decoder_output(self.sparse_code(x, self.k)), x)
        return value, {self.loss_name: value.item()}
