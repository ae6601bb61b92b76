"""The interface every autoencoder shares, so later stages never ask which variant they hold."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "prelu": nn.PReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "none": nn.Identity,
}
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

    x is a float batch (N, 1, 28, 28) in [0, 1]. Subclasses build `encoder` and `decoder`, and override
    `encode` and `decoder_output` where the modules need the batch reshaped. `decoder_output` returns
    logits when `output == "sigmoid"` (so BCE can use the stable logits form) and pixel values otherwise
    (clamped to [0, 1] by `decode`, as the notebooks' linear outputs are unbounded).
    """

    latent_dim: int
    output: str = "sigmoid"
    loss_name: str = "mse"  # the reconstruction loss: arch key `loss`, one of LOSSES
    trainable = True  # False for closed-form models (PCA), which implement fit(x) instead

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # families whose encoder takes images as they are
        return self.encoder(x)

    def decoder_output(self, z: torch.Tensor) -> torch.Tensor:  # and whose decoder gives them back so
        return self.decoder(z)

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """Map any point onto the set of codes the encoder can produce (identity but for the sphere)."""
        return z

    def decode(self, z: torch.Tensor, clip: bool = True) -> torch.Tensor:
        """Images for codes; a linear output is clamped to [0, 1] unless clip=False."""
        out = self.decoder_output(z)
        if self.output == "sigmoid":
            return torch.sigmoid(out)
        return out.clamp(0, 1) if clip else out

    @torch.no_grad()
    def decode_codes(self, codes, batch_size: int = 1000) -> torch.Tensor:
        """Images (N, 1, 28, 28) for latent points (array-like (N, d)), projected onto the code set first."""
        z = self.project(torch.as_tensor(codes, dtype=torch.float32))
        return torch.cat([self.decode(z[i : i + batch_size]) for i in range(0, len(z), batch_size)])

    def reconstruction_loss(self, out: torch.Tensor, x: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        if self.loss_name == "bce":
            return F.binary_cross_entropy_with_logits(out, x, reduction=reduction)
        x_hat = torch.sigmoid(out) if self.output == "sigmoid" else out
        return F.mse_loss(x_hat, x, reduction=reduction)

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        value = self.reconstruction_loss(self.decoder_output(self.encode(x)), x)
        return value, {self.loss_name: value.item()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def check_output_loss(output: str, loss: str) -> None:
    check_choice("output", output, ("sigmoid", "linear"))
    check_choice("loss", loss, LOSSES)
    if loss == "bce" and output != "sigmoid":
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


# --- how well an autoencoder reconstructs ---------------------------------------------------

COLLAPSE_MARGIN = 0.05  # an error within 5% of the mean image's: the code carries (almost) nothing


@torch.no_grad()
def reconstruction_errors(model: Autoencoder, x: torch.Tensor, batch_size: int = 1000) -> dict[str, float]:
    """Squared error per image (summed over 784 pixels, the 2006 paper's metric), MSE and BCE per pixel,
    and the squared error of the decoder's output as it is (a linear output unclipped, as the paper's
    PCA); the figures every variant is compared by clip to [0, 1], where every pixel lies."""
    model.eval()
    sq, sq_unclipped, bce = 0.0, 0.0, 0.0
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        z = model.encode(batch)
        x_hat = model.decode(z)
        sq += (x_hat - batch).pow(2).sum().item()
        unclipped = x_hat if model.output == "sigmoid" else model.decode(z, clip=False)
        sq_unclipped += (unclipped - batch).pow(2).sum().item()
        bce += F.binary_cross_entropy(x_hat.clamp(1e-6, 1 - 1e-6), batch, reduction="sum").item()
    pixels = x[0].numel()
    return {
        "sq_error_per_image": sq / len(x),
        "mse_per_pixel": sq / (len(x) * pixels),
        "bce_per_pixel": bce / (len(x) * pixels),
        "sq_error_per_image_unclipped": sq_unclipped / len(x),
    }


@torch.no_grad()
def mean_image_sq_error(train_x: torch.Tensor, x: torch.Tensor) -> float:
    """Squared error per image of x when every image is predicted by the mean training image:
    what a model that ignores its input (a collapsed one) achieves at best."""
    return (x - train_x.mean(0)).pow(2).flatten(1).sum(1).mean().item()


def collapse_warning(variant: str, split: str, sq_error: float, mean_image_error: float) -> str | None:
    """A warning when the model does hardly better than the mean image, else None."""
    if sq_error < (1 - COLLAPSE_MARGIN) * mean_image_error:
        return None
    return (
        f"warning: variant {variant} has collapsed to the mean image: {split} squared error per image "
        f"{sq_error:.3f}, the mean training image's {mean_image_error:.3f} (within "
        f"{COLLAPSE_MARGIN:.0%}); its codes carry almost nothing about the input"
    )
