"""judge: train the pixel-space CNN that scores generated digits, on real training images only.

Reads: SPLIT/{train,val,test}.npz; params seed, judge, train.device, gaussians.samples_per_digit.
Writes: the checkpoint; the reference every generated set is measured against (its features of the
real test images, their mean and covariance, and each one's distance to its 3rd nearest neighbour,
the radius of precision and recall); and a metrics JSON with its validation and official-test
accuracy and the floor: the figures of real training images, as many as a generated set holds.
"""
import argparse
from pathlib import Path

import numpy as np

import torch

from autoencoders import checkpoints, data, io, judge, layout, params
from autoencoders.train import fit, pick_device, seed_everything


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()
    p = params.load(args.params)
    device = pick_device(p.train.device)
    train, val, test = (data.load_split(layout.split_file(args.split, s), device) for s in layout.SPLITS)
    seed_everything(p.seed)
    model = checkpoints.build("judge", {}, judge.JUDGES).to(device)
    # the judge's own recipe: its three params, a one-cycle schedule, no weight decay, in-memory batches
    cfg = params.TrainParams(device=p.train.device, epochs=p.judge.epochs, batch_size=p.judge.batch_size,
                             lr=p.judge.lr, weight_decay=0.0, schedule="onecycle", loader="tensor")
    fit(model, train, val, cfg, seed=p.seed, name="judge")
    accuracy = {name: float((judge.judge_outputs(model, x)[0] == y.cpu().numpy()).mean())
                for name, (x, y) in (("val", val), ("test", test))}
    features = judge.judge_outputs(model, test[0])[1]
    mean, cov = judge.feature_stats(features)
    radii = judge.knn_radii(torch.from_numpy(features).float(), judge.MANIFOLD_K).numpy()
    floor = real_floor(model, train, (mean, cov), features, radii, p.gaussians.samples_per_digit, p.seed)
    checkpoints.save(model, args.model)
    data.save_npz(args.reference, {"features": features.astype(np.float32), "mean": mean, "covariance": cov,
                                   "radii": radii})
    io.write_json(args.metrics, {"val_accuracy": accuracy["val"], "test_accuracy": accuracy["test"], **floor})
    print(f"judge: val accuracy {accuracy['val']:.4f}, test accuracy {accuracy['test']:.4f}; "
          f"real floor: FJD {floor['fjd_floor']:.3f}, precision {floor['floor_precision']:.3f}, "
          f"recall {floor['floor_recall']:.3f}")


def real_floor(model, train, reference_stats, reference_features, radii, per_digit: int, seed: int) -> dict:
    """FJD, precision and recall of real training images against the real test images: what a
    perfect generator scores. A seeded subset as large as a generated set (per_digit per digit):
    the FJD is biased by sample size, so the floor must be measured at the same size."""
    images, labels = train
    n = min(len(images), per_digit * len(torch.unique(labels)))
    pick = torch.from_numpy(np.sort(np.random.default_rng(seed).choice(len(images), n, replace=False)))
    features = judge.judge_outputs(model, images[pick])[1]
    precision, recall = judge.precision_recall(reference_features, features, radii_real=radii)
    return {"fjd_floor": judge.frechet_distance(judge.feature_stats(features), reference_stats),
            "floor_precision": precision, "floor_recall": recall}


if __name__ == "__main__":
    main()
