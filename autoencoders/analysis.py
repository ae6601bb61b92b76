"""Everything that follows from one trained variant, computed in the one process that loads it (the
analyze@V stage): its embeddings, its reconstruction on the official test set and the figures a user
looks at, its latent explorer, the generation study (generation.py) and its part of the gallery.
"""

from __future__ import annotations

import numpy as np
import torch

from . import data, densities, explore, generation, latent, params, plots
from .images import to_bytes
from .models.base import collapse_warning, mean_image_sq_error, reconstruction_errors

INTERPOLATION_PAIRS, INTERPOLATION_STEPS = 8, 10


def one_of_each_digit(labels: np.ndarray) -> np.ndarray:
    return np.array([np.flatnonzero(labels == d)[0] for d in sorted(set(labels.tolist()))])


def interpolations(name: str, model, test_x: torch.Tensor, codes: np.ndarray, picks: np.ndarray, sphere: bool):
    """Rows of: a test digit, 10 decoded codes on the way to another digit's code, that digit.

    Pairs are consecutive digits' first test images (0 to 1, 1 to 2, ...); the path is a straight
    line, or the great circle for codes on the sphere."""
    rows = []
    for k in range(INTERPOLATION_PAIRS):
        a, b = picks[k % len(picks)], picks[(k + 1) % len(picks)]
        path = model.decode_codes(latent.interpolate(codes[a], codes[b], INTERPOLATION_STEPS, sphere))
        rows.append(torch.cat([test_x[a : a + 1], path, test_x[b : b + 1]]))
    images = torch.cat(rows).squeeze(1).numpy()
    path = "great circle" if sphere else "straight line"
    return plots.image_grid(
        images,
        rows=INTERPOLATION_PAIRS,
        title=f"{name}: decoded along a {path} between two test digits' codes (ends: the digits)",
    )


def figures(
    name: str,
    model,
    test_x: torch.Tensor,
    codes: np.ndarray,
    labels: np.ndarray,
    history: list[dict],
    view: explore.LatentView,
):
    """name of PNG -> matplotlib figure; view: where the latent map places the drawn test codes."""
    with torch.no_grad():
        picks = one_of_each_digit(labels)
        recon = model.decode(model.encode(test_x[picks]))
    pairs = torch.cat([test_x[picks], recon]).squeeze(1).numpy()
    out = {
        "reconstructions": plots.image_grid(
            pairs,
            rows=2,
            row_labels=["original", "reconstructed"],
            title=f"{name}: test digits and their reconstructions",
        ),
        "latent_map": plots.latent_map(view, labels[view.index], f"{name}: test codes by digit"),
        "code_histograms": plots.code_histograms(codes, f"{name}: distribution of each code dimension"),
        "loss_curves": plots.loss_curves({name: history}, f"{name}: training and validation loss"),
    }
    on_sphere = latent.codes_on_sphere(codes)
    out["interpolations"] = interpolations(name, model, test_x, codes, picks, on_sphere)
    if codes.shape[1] == 2 or (on_sphere and codes.shape[1] == 3):
        out["encoder_decoder"] = plots.encoder_decoder_map(
            codes,
            labels,
            lambda z: model.decode_codes(z).squeeze(1).numpy(),
            f"{name}: encoder map and decoder grid" + (" on S2, unwrapped" if on_sphere else ""),
            sphere=on_sphere,
        )
    return out


def reconstruction(name: str, model, train_x: torch.Tensor, test_x: torch.Tensor) -> tuple[dict, str | None]:
    """(test reconstruction metrics, the collapse warning or None)."""
    metrics = reconstruction_errors(model, test_x)
    metrics["mean_image_sq_error_per_image"] = mean_image_sq_error(train_x, test_x)
    warning = collapse_warning(name, "test", metrics["sq_error_per_image"], metrics["mean_image_sq_error_per_image"])
    metrics["collapsed"] = warning is not None
    return metrics, warning


def analyze(
    name: str,
    model,
    splits: dict[str, dict],
    history: list[dict],
    referee,
    reference: dict,
    floor: float,
    cfg: params.GaussiansParams,
    seed: int,
) -> dict:
    """Everything the stage writes, by output: the embeddings frame, the reconstruction metrics and
    figures, the generation metrics, the chosen density's arrays and the grid of samples; and the
    collapse warning (or None). splits: split -> the arrays of its .npz."""
    images = {s: data.images_tensor(a["images"]) for s, a in splits.items()}
    frame, emb = latent.embed_splits(model, {s: (images[s], a["labels"], a["index"]) for s, a in splits.items()})
    densities.check(cfg.density, latent.codes_on_sphere(emb["train"][0]), name)  # before the long part
    codes, labels = emb["test"]
    view_ahead = explore.latent_view_ahead(codes, latent.codes_on_sphere(codes), seed)  # t-SNE beside the study
    recon_metrics, warning = reconstruction(name, model, images.pop("train"), images["test"])  # train: its mean
    gen_metrics, density_arrays, shown = generation.study(name, model, emb, referee, reference, floor, cfg, seed)
    view = view_ahead()
    page = explore.explorer(name, model, images["test"], codes, labels, view)
    pictures = figures(name, model, images["test"], codes, labels, history, view)
    chosen = gen_metrics["density"]
    digits = sorted(set(emb["train"][1].tolist()))
    samples = generation.samples_figure(name, shown, chosen, digits)
    return {
        "embeddings": frame,
        "evaluate": recon_metrics,
        "figures": pictures,
        "gaussians": gen_metrics,
        "densities": density_arrays,
        "generated": samples,
        "explorer": page,
        "warning": warning,
        "gallery": gallery_arrays(model, images["test"], labels, shown[chosen], len(digits), view),
    }


GALLERY_PER_DIGIT = 2


def gallery_arrays(
    model, test_x: torch.Tensor, labels: np.ndarray, samples: np.ndarray, digits: int, view: explore.LatentView
) -> dict[str, np.ndarray]:
    """What this variant adds to the report's gallery (gallery.ARRAYS, read by autoencoders/gallery.py): the first
    GALLERY_PER_DIGIT test images of each digit and their reconstructions, as many of the chosen
    density's samples (uint8), and the latent map's points."""
    picks = np.concatenate([np.flatnonzero(labels == d)[:GALLERY_PER_DIGIT] for d in sorted(set(labels.tolist()))])
    with torch.no_grad():
        recon = model.decode(model.encode(test_x[picks])).squeeze(1).numpy()
    generated = samples.reshape(digits, -1, 28, 28)[:, :GALLERY_PER_DIGIT].reshape(-1, 28, 28)
    return {
        "test_images": to_bytes(test_x[picks].squeeze(1).numpy()),
        "reconstructions": to_bytes(recon),
        "generated": to_bytes(generated),
        "map": view.flat,
        "map_labels": labels[view.index],
        "map_axes": np.array(view.axes),
        "map_mode": np.array(view.mode),
    }


def summary(name: str, recon: dict, gen: dict) -> str:
    """What analyze@V prints: the test reconstruction error, and each density's figures (recon, gen: the
    reconstruction and generation metrics)."""
    lines = [
        f"{name}: test squared error per image {recon['sq_error_per_image']:.3f}, "
        f"MSE per pixel {recon['mse_per_pixel']:.5f}"
    ]
    for density, m in gen["densities"].items():
        lines.append(
            f"{density:>4}: val log-lik {m['val_log_likelihood']:10.2f}, val fd_judge {m['val_fd_judge']:.2f}, "
            f"test fd_judge {m['fd_judge']:.2f} ({m['fd_judge_over_floor']:.1f}x floor), judge accuracy "
            f"{m['judge_accuracy']:.3f}, precision {m['precision']:.3f}, recall {m['recall']:.3f}, "
            f"nn distance ratio {m['nn_distance_ratio']:.2f}"
            + ("  COPIES" if m["copies"] else "")
            + ("  <- chosen" if density == gen["density"] else "")
        )
    return "\n".join(lines)
