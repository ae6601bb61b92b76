"""gaussians@V: one Gaussian per digit on the train codes, sampled and decoded into new digits.

Reads: the embeddings parquet, the variant's checkpoint (its decoder), the judge and its reference
statistics of the real test images, SPLIT/test.npz;
params seed, gaussians. Writes: the Gaussians (npz), a metrics JSON (judge accuracy of the samples,
overall and per digit, their Frechet judge distance to the real test images, and the same two
figures for decoded real test codes as the ceiling) and a 10 x N grid PNG of generated digits.
"""
import argparse
from pathlib import Path

import numpy as np
import torch

from autoencoders import checkpoints, data, io, judge, latent, layout, models, params, plots


def judged(referee, images: torch.Tensor, labels: np.ndarray, reference) -> dict:
    """Judge accuracy (overall, per digit) and Frechet judge distance of images to the real ones."""
    preds, feats = judge.judge_outputs(referee, images)
    per_digit = {str(d): float((preds[labels == d] == d).mean()) for d in sorted(set(labels.tolist()))}
    return {"judge_accuracy": float((preds == labels).mean()), "per_digit_accuracy": per_digit,
            "fjd": judge.frechet_distance(judge.feature_stats(feats), reference)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--embeddings", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--judge", required=True)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--gaussians", required=True)
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--figure", required=True)
    args = parser.parse_args()
    p = params.load(args.params)
    emb = latent.load_embeddings(args.embeddings)
    model = models.load_checkpoint(args.model)
    referee = checkpoints.load(args.judge, judge.JUDGES)
    test_y = data.load_npz(layout.split_file(args.split, "test"))["labels"].astype(np.int64)
    stats = data.load_npz(args.reference)
    reference = (stats["mean"], stats["covariance"])

    gaussians = latent.fit_gaussians(*emb["train"], p.gaussians.covariance)
    codes, labels = latent.sample_gaussians(gaussians, p.gaussians.samples_per_digit, p.seed)
    generated = model.decode_codes(codes)  # samples go back onto the sphere for the S2 variant
    metrics = {"generated": judged(referee, generated, labels, reference),
               "reconstructed": judged(referee, model.decode_codes(emb["test"][0]), test_y, reference)}

    digits = list(gaussians)
    data.save_npz(args.gaussians, {"digits": np.array(digits), "means": np.stack([gaussians[d][0] for d in digits]),
                                   "covariances": np.stack([gaussians[d][1] for d in digits])})
    columns = min(10, p.gaussians.samples_per_digit)
    shown = generated.view(len(digits), -1, 28, 28)[:, :columns].reshape(-1, 28, 28).numpy()
    plots.save(plots.image_grid(shown, rows=len(digits), row_labels=[str(d) for d in digits],
                                title=f"{args.variant}: samples of per-digit Gaussians"), args.figure)
    io.write_json(args.metrics, metrics)
    g, r = metrics["generated"], metrics["reconstructed"]
    print(f"generated: judge accuracy {g['judge_accuracy']:.3f}, FJD {g['fjd']:.2f}; "
          f"reconstructed: {r['judge_accuracy']:.3f}, FJD {r['fjd']:.2f}")


if __name__ == "__main__":
    main()
