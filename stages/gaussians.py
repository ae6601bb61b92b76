"""gaussians@V: a density per digit on the train codes, sampled and decoded into new digits.

Fits every density that applies to the codes (diag, full, gmm; vmf on the unit sphere), scores
each on the validation codes, and picks `gaussians.density` (auto: the best validation
log-likelihood). Every density's samples are judged against the real test images.

Reads: the embeddings parquet, the variant's checkpoint (its decoder), the judge, its reference
(features of the real test images) and metrics (the real-image floor), SPLIT/test.npz;
params seed, gaussians. Writes: the chosen density's parameters (npz), a metrics JSON (per density:
validation log-likelihood, judge accuracy overall and per digit, FJD, FJD / floor, precision and
recall; the chosen density's figures again under `generated`; decoded real test codes under
`reconstructed`, the ceiling) and a PNG of samples, the notebook's diag beside the chosen density.
"""
import argparse
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from autoencoders import checkpoints, data, densities, io, judge, latent, layout, models, params, plots


def judged(referee, images: torch.Tensor, labels: np.ndarray, reference: dict, floor: float) -> dict:
    """Judge accuracy (overall, per digit), Frechet judge distance to the real test images (also
    over the real-image floor) and improved precision and recall against them."""
    preds, feats = judge.judge_outputs(referee, images)
    per_digit = {str(d): float((preds[labels == d] == d).mean()) for d in sorted(set(labels.tolist()))}
    fjd = judge.frechet_distance(judge.feature_stats(feats), (reference["mean"], reference["covariance"]))
    precision, recall = judge.precision_recall(reference["features"], feats, radii_real=reference["radii"])
    return {"judge_accuracy": float((preds == labels).mean()), "per_digit_accuracy": per_digit,
            "fjd": fjd, "fjd_over_floor": fjd / floor, "precision": precision, "recall": recall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--embeddings", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--judge", required=True)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--judge-metrics", required=True)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--densities", required=True)
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--figure", required=True)
    args = parser.parse_args()
    p = params.load(args.params)
    cfg = p.gaussians
    emb = latent.load_embeddings(args.embeddings)
    sphere = latent.codes_on_sphere(emb["train"][0])
    names = densities.applicable(sphere)
    densities.check(cfg.density, sphere, args.variant)  # before any fitting
    model = models.load_checkpoint(args.model)
    referee = checkpoints.load(args.judge, judge.JUDGES)
    test_y = data.load_npz(layout.split_file(args.split, "test"))["labels"].astype(np.int64)
    reference = data.load_npz(args.reference)
    floor = io.read_json(args.judge_metrics)["fjd_floor"]

    fitted, scores = {}, {}
    for name in tqdm(names, desc=f"fit densities ({args.variant})", leave=False):
        fitted[name], scores[name] = densities.fit_per_digit(name, emb["train"], emb["val"], cfg.components, p.seed)
    chosen = densities.choose(scores, sphere) if cfg.density == "auto" else cfg.density

    digits = sorted(set(emb["train"][1].tolist()))
    per_density, shown = {}, {}
    columns = min(10, cfg.samples_per_digit)
    for name in tqdm(names, desc=f"judge samples ({args.variant})", leave=False):
        codes, labels = densities.sample_per_digit(fitted[name], cfg.samples_per_digit, p.seed)
        images = model.decode_codes(codes)  # Gaussian samples go back onto the sphere for the S2 variant
        per_density[name] = {"val_log_likelihood": scores[name], **judged(referee, images, labels, reference, floor)}
        if name == "gmm":
            per_density[name]["components"] = {str(d): f.components for d, f in fitted[name].items()}
        shown[name] = images.view(len(digits), -1, 28, 28)[:, :columns].reshape(-1, 28, 28).numpy()
    metrics = {"density": chosen, "chosen_by": "validation log-likelihood" if cfg.density == "auto" else "params",
               "generated": {"density": chosen, **per_density[chosen]}, "densities": per_density,
               "reconstructed": judged(referee, model.decode_codes(emb["test"][0]), test_y, reference, floor)}

    data.save_npz(args.densities, {f"{d}.{key}": value for d, density in fitted[chosen].items()
                                   for key, value in density.parameters().items()})
    panels = {f"{densities.NOTEBOOK} (the notebook's)": shown[densities.NOTEBOOK], f"{chosen} (chosen)": shown[chosen]}
    plots.save(plots.image_grids(panels, rows=len(digits), row_labels=[str(d) for d in digits],
                                 title=f"{args.variant}: samples of per-digit densities"), args.figure)
    io.write_json(args.metrics, metrics)
    for name, m in per_density.items():
        print(f"{name:>4}: val log-lik {m['val_log_likelihood']:10.2f}, judge accuracy {m['judge_accuracy']:.3f}, "
              f"FJD {m['fjd']:.2f} ({m['fjd_over_floor']:.1f}x floor), precision {m['precision']:.3f}, "
              f"recall {m['recall']:.3f}" + ("  <- chosen" if name == chosen else ""))


if __name__ == "__main__":
    main()
