"""evaluate@V: reconstruction quality on the official test set, and the figures a user looks at.

Reads: the checkpoint, the embeddings parquet (test codes), SPLIT/test.npz (and train.npz for its mean
image), the training history.
Writes: a metrics JSON (MSE and BCE per pixel, squared error per image: the 2006 paper's metric, beside
the mean training image's, and whether the model collapsed to it) and
FIGURES/*.png: reconstructions, interpolations, latent map, code histograms, loss curves, and for
2-D or spherical latents the encoder map beside a decoder grid.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from autoencoders import data, io, latent, layout, models, plots
from autoencoders.models.base import collapse_warning, mean_image_sq_error, reconstruction_errors


def one_of_each_digit(labels: np.ndarray) -> np.ndarray:
    return np.array([np.flatnonzero(labels == d)[0] for d in sorted(set(labels.tolist()))])


INTERPOLATION_PAIRS, INTERPOLATION_STEPS = 8, 10


def interpolations(name: str, model, test_x: torch.Tensor, codes: np.ndarray, picks: np.ndarray, sphere: bool):
    """Rows of: a test digit, 10 decoded codes on the way to another digit's code, that digit.

    Pairs are consecutive digits' first test images (0 to 1, 1 to 2, ...); the path is a straight
    line, or the great circle for codes on the sphere."""
    rows = []
    for k in range(INTERPOLATION_PAIRS):
        a, b = picks[k % len(picks)], picks[(k + 1) % len(picks)]
        path = model.decode_codes(latent.interpolate(codes[a], codes[b], INTERPOLATION_STEPS, sphere))
        rows.append(torch.cat([test_x[a:a + 1], path, test_x[b:b + 1]]))
    images = torch.cat(rows).squeeze(1).numpy()
    path = "great circle" if sphere else "straight line"
    return plots.image_grid(images, rows=INTERPOLATION_PAIRS,
                            title=f"{name}: decoded along a {path} between two test digits' codes (ends: the digits)")


def figures(name: str, model, test_x: torch.Tensor, codes: np.ndarray, labels: np.ndarray, history: list[dict]):
    """name of PNG -> matplotlib figure."""
    with torch.no_grad():
        picks = one_of_each_digit(labels)
        recon = model.decode(model.encode(test_x[picks]))
    pairs = torch.cat([test_x[picks], recon]).squeeze(1).numpy()
    out = {
        "reconstructions": plots.image_grid(pairs, rows=2, row_labels=["original", "reconstructed"],
                                            title=f"{name}: test digits and their reconstructions"),
        "latent_map": plots.latent_map(codes, labels, f"{name}: test codes by digit"),
        "code_histograms": plots.code_histograms(codes, f"{name}: distribution of each code dimension"),
        "loss_curves": plots.loss_curves({name: history}, f"{name}: training and validation loss"),
    }
    on_sphere = latent.codes_on_sphere(codes)
    out["interpolations"] = interpolations(name, model, test_x, codes, picks, on_sphere)
    if codes.shape[1] == 2 or (on_sphere and codes.shape[1] == 3):
        out["encoder_decoder"] = plots.encoder_decoder_map(
            codes, labels, lambda z: model.decode_codes(z).squeeze(1).numpy(), f"{name}: encoder map and decoder grid" + (" on S2, unwrapped" if on_sphere else ""),
            sphere=on_sphere)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant")
    parser.add_argument("--model", required=True)
    parser.add_argument("--embeddings", required=True)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--history", required=True)
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--figures", type=Path, required=True)
    args = parser.parse_args()
    model = models.load_checkpoint(args.model)
    test_x, test_y = data.load_split(layout.split_file(args.split, "test"))
    codes, labels = latent.load_embeddings(args.embeddings)["test"]
    history = io.read_history(args.history)
    metrics = reconstruction_errors(model, test_x)
    metrics["mean_image_sq_error_per_image"] = mean_image_sq_error(data.load_split(layout.split_file(args.split, "train"))[0], test_x)
    warning = collapse_warning(args.variant, "test", metrics["sq_error_per_image"], metrics["mean_image_sq_error_per_image"])
    metrics["collapsed"] = warning is not None
    with io.atomic_dir(args.figures) as tmp:
        for fig_name, fig in figures(args.variant, model, test_x, codes, labels, history).items():
            plots.save(fig, tmp / f"{fig_name}.png")
    io.write_json(args.metrics, metrics)
    print(f"{args.variant}: test squared error per image {metrics['sq_error_per_image']:.3f}, "
          f"MSE per pixel {metrics['mse_per_pixel']:.5f}")
    if warning:
        print(warning, file=sys.stderr)


if __name__ == "__main__":
    main()
