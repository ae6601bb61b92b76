"""analyze@V: everything that follows from one trained variant, in one process that loads it once.

Embeddings of every split, reconstruction on the official test set and its figures, the latent
explorer, and the generation study (autoencoders/analysis.py and generation.py).

Reads: the checkpoint, SPLIT/*.npz, the training history, the judge, its reference (features of the
real test images) and the real-image floor; params seed, gaussians.
Writes: the embeddings parquet (split, index into the official file, label, z0..z(d-1)); a reconstruction
metrics JSON (MSE and BCE per pixel, squared error per image: the 2006 paper's metric, beside the mean
training image's, and whether the model collapsed to it) and FIGURES/*.png (reconstructions,
interpolations, latent map, code histograms, loss curves, and for 2-D or spherical latents the encoder
map beside a decoder grid); the chosen density's parameters (npz), a generation metrics JSON (per
density: validation log-likelihood and fd_judge, nn_distance_ratio, meehan_ct and whether it copies,
judge accuracy overall and per digit, fd_judge and fd_judge / floor on test, precision and recall;
what each auto rule picks; the chosen density's figures again under `generated`; decoded real test codes under
`reconstructed`, the ceiling) and a PNG of samples, the notebook's diag beside the chosen density.
"""

import argparse
import sys
from pathlib import Path

from autoencoders import analysis, checkpoints, data, io, judge, layout, models, params, plots, runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--model", required=True)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--history", required=True)
    parser.add_argument("--judge", required=True)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--floor", required=True, help="the floor stage's JSON: real images' figures")
    parser.add_argument("--embeddings", required=True, help="out: the parquet of codes")
    parser.add_argument("--evaluate", required=True, help="out: reconstruction metrics JSON")
    parser.add_argument("--figures", type=Path, required=True, help="out: folder of PNGs")
    parser.add_argument("--densities", required=True, help="out: the chosen density's arrays (npz)")
    parser.add_argument("--gaussians", required=True, help="out: generation metrics JSON")
    parser.add_argument("--generated", required=True, help="out: PNG of samples")
    parser.add_argument("--explorer", required=True, help="out: the latent explorer (HTML)")
    parser.add_argument("--gallery", required=True, help="out: this variant's part of the report's gallery (npz)")
    args = parser.parse_args()
    p = params.load(args.params)
    out = analysis.analyze(
        args.variant,
        models.load_checkpoint(args.model),
        {s: data.load_npz(layout.split_file(args.split, s)) for s in layout.SPLITS},
        io.read_history(args.history),
        checkpoints.load(args.judge, judge.JUDGES),
        data.load_npz(args.reference),
        io.read_json(args.floor)["fd_judge_floor"],
        p.gaussians,
        p.seed,
    )

    with io.atomic_path(args.embeddings) as tmp:
        out["embeddings"].to_parquet(tmp, index=False)
    with io.atomic_dir(args.figures) as tmp:
        for fig_name, fig in out["figures"].items():
            plots.save(fig, tmp / f"{fig_name}.png")
    io.write_json(args.evaluate, out["evaluate"])
    data.save_npz(args.densities, out["densities"])
    plots.save(out["generated"], args.generated)
    io.write_json(args.gaussians, out["gaussians"])
    io.write_text(args.explorer, out["explorer"])
    data.save_npz(args.gallery, out["gallery"])

    print(analysis.summary(args.variant, out["evaluate"], out["gaussians"]))
    if out["warning"]:
        print(out["warning"], file=sys.stderr)


if __name__ == "__main__":
    runtime.run(main)
