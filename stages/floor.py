"""floor: what a perfect generator scores. Real training images, as many as a generated set holds,
judged against the real test images: fd_judge, precision and recall.

A stage apart from judge so that `gaussians.samples_per_digit` re-runs this alone, not the judge's
training. fd_judge is biased by sample size, so the floor is measured at the generated sets' size.

Reads: SPLIT/train.npz, the judge and its reference; params seed, gaussians.samples_per_digit.
Writes: a JSON of fd_judge_floor, floor_precision, floor_recall.
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from autoencoders import checkpoints, data, io, judge, layout, params, runtime


def real_floor(referee, images: torch.Tensor, reference: dict, per_digit: int, digits: int, seed: int) -> dict:
    """The figures of a seeded subset of real images, per_digit per digit, against the reference."""
    n = min(len(images), per_digit * digits)
    pick = torch.from_numpy(np.sort(np.random.default_rng(seed).choice(len(images), n, replace=False)))
    features = judge.judge_outputs(referee, images[pick])[1]
    precision, recall = judge.precision_recall(reference["features"], features, radii_real=reference["radii"])
    fd = judge.frechet_distance(judge.feature_stats(features), (reference["mean"], reference["covariance"]))
    return {"fd_judge_floor": fd, "floor_precision": precision, "floor_recall": recall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--judge", required=True)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    p = params.load(args.params)
    images, labels = data.load_split(layout.split_file(args.split, "train"))
    referee = checkpoints.load(args.judge, judge.JUDGES)
    floor = real_floor(
        referee, images, data.load_npz(args.reference), p.gaussians.samples_per_digit, len(torch.unique(labels)), p.seed
    )
    io.write_json(args.out, floor)
    print(
        f"real floor: fd_judge {floor['fd_judge_floor']:.3f}, precision {floor['floor_precision']:.3f}, "
        f"recall {floor['floor_recall']:.3f}"
    )


if __name__ == "__main__":
    runtime.run(main)
