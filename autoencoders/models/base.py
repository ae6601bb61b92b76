"""The interface every autoencoder shares, so later stages never ask which variant they hold."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "prelu": nn.PReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
               "elu": nn.ELU, "gelu": nn.GELU, "none": nn.Identity}
LOSSES = ("mse", "bce")


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name}: must be one of {', '.join(map(str, choices))}, got {value!r}")


def check_positive(name: str, value) -> None:
    values = value if isinstance(value, (list, tuple)) else [value]
    if any(v < 1 for v in values):
        raise ValueError(f"{name}: must be >= 1, got {value!r}")


class Autoencoder(nn.Module):
    """encode(x) -> z; decode(z) -> x_hat in [0, 1]; loss(x) -> (scalar, parts).

    x is a float batch (N, 1, 28, 28) in [0, 1]. Subclasses implement `encode` and `decoder_output`,
    which returns logits when `output == "sigmoid"` (so BCE can use the stable logits form) and
    pixel values otherwise (clamped to [0, 1] by `decode`, as the notebooks' linear outputs are unbounded).
    """

    latent_dim: int
    output: str = "sigmoid"
    recon: str = "mse"
    trainable = True  # False for closed-form models (PCA), which implement fit(x) instead

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decoder_output(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """Map any point onto the set of codes the encoder can produce (identity but for the sphere)."""
        return z

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        out = self.decoder_output(z)
        return torch.sigmoid(out) if self.output == "sigmoid" else out.clamp(0, 1)

    @torch.no_grad()
    def decode_codes(self, codes, batch_size: int = 1000) -> torch.Tensor:
        """Images (N, 1, 28, 28) for latent points (array-like (N, d)), projected onto the code set first."""
        z = self.project(torch.as_tensor(codes, dtype=torch.float32))
        return torch.cat([self.decode(z[i:i + batch_size]) for i in range(0, len(z), batch_size)])

    def reconstruction_loss(self, out: torch.Tensor, x: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        if self.recon == "bce":
            return F.binary_cross_entropy_with_logits(out, x, reduction=reduction)
        x_hat = torch.sigmoid(out) if self.output == "sigmoid" else out
        return F.mse_loss(x_hat, x, reduction=reduction)

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        value = self.reconstruction_loss(self.decoder_output(self.encode(x)), x)
        return value, {self.recon: value.item()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def check_output_loss(output: str, recon: str) -> None:
    check_choice("output", output, ("sigmoid", "linear"))
    check_choice("loss", recon, LOSSES)
    if recon == "bce" and output != "sigmoid":
        raise ValueError("loss: bce needs output: sigmoid (a linear output is not a probability)")


def mlp(sizes: list[int], activation: str, last_activation: str | None = None) -> nn.Sequential:
    """Linear layers through sizes with `activation` between them (and `last_activation` after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        act = activation if i < len(sizes) - 2 else last_activation
        if act and act != "none":
            layers.append(ACTIVATIONS[act]())
    return nn.Sequential(*layers)
