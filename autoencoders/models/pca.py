"""PCA behind the autoencoder interface: the linear baseline Hinton & Salakhutdinov (2006) compare against."""

from __future__ import annotations

import torch

from .base import Autoencoder, check_positive


class PCA(Autoencoder):
    trainable = False
    output = "linear"

    def __init__(self, latent_dim: int):
        super().__init__()
        check_positive("latent_dim", latent_dim)
        if latent_dim > 784:
            raise ValueError(f"latent_dim: PCA of 784 pixels has at most 784 components, got {latent_dim}")
        self.latent_dim = latent_dim
        self.register_buffer("mean", torch.zeros(784))
        self.register_buffer("components", torch.zeros(latent_dim, 784))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        flat = x.flatten(1).double()
        mean = flat.mean(0)
        centred = flat - mean
        eigvals, eigvecs = torch.linalg.eigh(centred.T @ centred / (len(flat) - 1))
        top = eigvecs[:, eigvals.argsort(descending=True)[: self.latent_dim]].T
        # eigenvectors have no sign of their own: make each one's largest entry positive
        signs = torch.sign(top.gather(1, top.abs().argmax(1, keepdim=True)))
        self.mean.copy_(mean.float())
        self.components.copy_((top * signs).float())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1) - self.mean) @ self.components.T

    def decoder_output(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.components + self.mean).view(-1, 1, 28, 28)
