"""judge: train the pixel-space CNN that scores generated digits, on real training images only.

Reads: SPLIT/{train,val,test}.npz; params seed, judge, train.device.
Writes: the checkpoint; the reference every generated set is measured against (its features of the
real test images, their mean and covariance, and each one's distance to its 3rd nearest neighbour,
the radius of precision and recall; and the mean and covariance of the real validation images'
features, which `auto` compares densities with, so that the test images serve the final figures
alone); and a metrics JSON with its validation and official-test accuracy. The floor stage scores
real images against the reference.
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from autoencoders import checkpoints, data, io, judge, layout, params, runtime
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
    cfg = params.TrainParams(
        device=p.train.device,
        epochs=p.judge.epochs,
        batch_size=p.judge.batch_size,
        lr=p.judge.lr,
        weight_decay=0.0,
        schedule="onecycle",
        loader="tensor",
    )
    fit(model, train, val, cfg, seed=p.seed, name="judge")
    outputs = {name: judge.judge_outputs(model, x) for name, (x, _) in (("val", val), ("test", test))}  # judged once
    accuracy = {
        name: float((outputs[name][0] == y.cpu().numpy()).mean()) for name, (_, y) in (("val", val), ("test", test))
    }
    features = outputs["test"][1]
    mean, cov = judge.feature_stats(features)
    val_mean, val_cov = judge.feature_stats(outputs["val"][1])
    radii = judge.knn_radii(torch.from_numpy(features).float(), judge.MANIFOLD_K).numpy()
    checkpoints.save(model, args.model)
    data.save_npz(
        args.reference,
        {
            "features": features.astype(np.float32),
            "mean": mean,
            "covariance": cov,
            "radii": radii,
            "val_mean": val_mean,
            "val_covariance": val_cov,
        },
    )
    io.write_json(args.metrics, {"val_accuracy": accuracy["val"], "test_accuracy": accuracy["test"]})
    print(f"judge: val accuracy {accuracy['val']:.4f}, test accuracy {accuracy['test']:.4f}")


if __name__ == "__main__":
    runtime.run(main)
