"""The generation study of one trained variant: a density per digit on its training codes (diag,
full, gmm; vmf on the unit sphere), each scored on validation data, the log-likelihood of the
validation codes and fd_judge of its decoded samples against the real validation images, and
checked for copying its training codes (copying.py). `gaussians.density` picks one (auto: the best
by `gaussians.auto_by` among those that do not copy). Every density's decoded samples are judged
against the real test images, the final figures, which no choice looks at.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from . import copying, densities, judge, latent, params, plots


def validation_figures(
    codes: np.ndarray,
    labels: np.ndarray,
    features: np.ndarray,
    train: tuple,
    val_stats: tuple,
    val_distances: np.ndarray,
    copying_threshold: float,
) -> dict:
    """What a choice may look at of one density's samples (codes, their digits, the judge's features of
    their decoded images): fd_judge against the validation images (val_stats: their feature mean and
    covariance), the copying checks against the training codes, and whether it copies."""
    checks = copying.copying(codes, labels, train, val_distances)
    return {
        "val_fd_judge": judge.frechet_distance(judge.feature_stats(features), val_stats),
        **checks,
        "copies": checks["nn_distance_ratio"] < copying_threshold,
    }


def study(
    name: str, model, emb: dict, referee, reference: dict, floor: float, cfg: params.GaussiansParams, seed: int
) -> tuple[dict, dict, dict]:
    """(metrics, the chosen density's arrays, density -> its first samples of each digit, digit by digit)."""
    sphere = latent.codes_on_sphere(emb["train"][0])
    names = densities.applicable(sphere)
    fitted, scores = {}, {}
    for density in tqdm(names, desc=f"fit densities ({name})", leave=False):
        fitted[density], scores[density] = densities.fit_per_digit(
            density, emb["train"], emb["val"], cfg.components, seed
        )
    val_stats = (reference["val_mean"], reference["val_covariance"])
    val_distances = copying.validation_distances(emb["train"], emb["val"])
    digits = sorted(set(emb["train"][1].tolist()))
    per_density, shown = {}, {}
    columns = min(10, cfg.samples_per_digit)
    for density in tqdm(names, desc=f"judge samples ({name})", leave=False):
        codes, labels = densities.sample_per_digit(fitted[density], cfg.samples_per_digit, seed)
        images = model.decode_codes(codes)  # Gaussian samples go back onto the sphere for the S2 variant
        preds, feats = judge.judge_outputs(referee, images)
        per_density[density] = {
            "val_log_likelihood": scores[density],
            **validation_figures(codes, labels, feats, emb["train"], val_stats, val_distances, cfg.copying_threshold),
            **judge.score_outputs(preds, feats, labels, reference, floor),
        }
        if density == "gmm":
            per_density[density]["components"] = {str(d): f.components for d, f in fitted[density].items()}
            per_density[density]["covariances"] = {str(d): f.kind for d, f in fitted[density].items()}
        shown[density] = images.view(len(digits), -1, 28, 28)[:, :columns].reshape(-1, 28, 28).numpy()
    picks = {rule: densities.choose(per_density, rule, sphere) for rule in densities.AUTO_RULES}
    chosen = picks[cfg.auto_by] if cfg.density == "auto" else cfg.density
    test_codes, test_labels = emb["test"]
    metrics = {
        "density": chosen,
        "chosen_by": cfg.auto_by if cfg.density == "auto" else "params",
        "auto_picks": picks,
        "copying_threshold": cfg.copying_threshold,
        "generated": {"density": chosen, **per_density[chosen]},
        "densities": per_density,
        "reconstructed": judge.score_images(referee, model.decode_codes(test_codes), test_labels, reference, floor),
    }
    arrays = {
        f"{d}.{key}": value for d, density in fitted[chosen].items() for key, value in density.parameters().items()
    }
    return metrics, arrays, shown


def samples_figure(name: str, shown: dict[str, np.ndarray], chosen: str, digits: list[int]):
    """The grid of samples: the notebook's density beside the chosen one, a row per digit."""
    panels = {f"{densities.NOTEBOOK} (the notebook's)": shown[densities.NOTEBOOK], f"{chosen} (chosen)": shown[chosen]}
    return plots.image_grids(
        panels, rows=len(digits), row_labels=[str(d) for d in digits], title=f"{name}: samples of per-digit densities"
    )
