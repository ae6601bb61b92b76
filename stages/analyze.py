"""analyze@V: everything that follows from one trained variant, in one process that loads it once.

1. Embeddings: every image of train, val and test encoded (the VAE gives its mean).
2. Reconstruction on the official test set, and the figures a user looks at.
3. Generation: a density per digit on the train codes (diag, full, gmm; vmf on the unit sphere),
   each scored on validation data: the log-likelihood of the validation codes, and fd_judge of its
   decoded samples against the real validation images; and checked for copying its training codes
   (autoencoders/copying.py). `gaussians.density` picks one (auto: the best by `gaussians.auto_by`
   among those that do not copy). Every density's decoded samples are judged against the real test
   images, the final figures, which no choice looks at.

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

import numpy as np
import torch
from tqdm import tqdm

from autoencoders import (checkpoints, copying, data, densities, errors, explore, io, judge, latent, layout, models,
                          params, plots)
from autoencoders.models.base import collapse_warning, mean_image_sq_error, reconstruction_errors


# --- 2. reconstruction and figures -------------------------------------------------------------

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
        rows.append(torch.cat([test_x[a:a + 1], path, test_x[b:b + 1]]))
    images = torch.cat(rows).squeeze(1).numpy()
    path = "great circle" if sphere else "straight line"
    return plots.image_grid(images, rows=INTERPOLATION_PAIRS,
                            title=f"{name}: decoded along a {path} between two test digits' codes (ends: the digits)")


def figures(name: str, model, test_x: torch.Tensor, codes: np.ndarray, labels: np.ndarray, history: list[dict],
            view: explore.LatentView):
    """name of PNG -> matplotlib figure; view: where the latent map places the drawn test codes."""
    with torch.no_grad():
        picks = one_of_each_digit(labels)
        recon = model.decode(model.encode(test_x[picks]))
    pairs = torch.cat([test_x[picks], recon]).squeeze(1).numpy()
    out = {
        "reconstructions": plots.image_grid(pairs, rows=2, row_labels=["original", "reconstructed"],
                                            title=f"{name}: test digits and their reconstructions"),
        "latent_map": plots.latent_map(view, labels[view.index], f"{name}: test codes by digit"),
        "code_histograms": plots.code_histograms(codes, f"{name}: distribution of each code dimension"),
        "loss_curves": plots.loss_curves({name: history}, f"{name}: training and validation loss"),
    }
    on_sphere = latent.codes_on_sphere(codes)
    out["interpolations"] = interpolations(name, model, test_x, codes, picks, on_sphere)
    if codes.shape[1] == 2 or (on_sphere and codes.shape[1] == 3):
        out["encoder_decoder"] = plots.encoder_decoder_map(
            codes, labels, lambda z: model.decode_codes(z).squeeze(1).numpy(),
            f"{name}: encoder map and decoder grid" + (" on S2, unwrapped" if on_sphere else ""), sphere=on_sphere)
    return out


def reconstruction(name: str, model, train_x: torch.Tensor, test_x: torch.Tensor) -> tuple[dict, str | None]:
    """(test reconstruction metrics, the collapse warning or None)."""
    metrics = reconstruction_errors(model, test_x)
    metrics["mean_image_sq_error_per_image"] = mean_image_sq_error(train_x, test_x)
    warning = collapse_warning(name, "test", metrics["sq_error_per_image"], metrics["mean_image_sq_error_per_image"])
    metrics["collapsed"] = warning is not None
    return metrics, warning


# --- 3. generation -------------------------------------------------------------------------------

def generation(name: str, model, emb: dict, referee, reference: dict, floor: float,
               cfg: params.GaussiansParams, seed: int) -> tuple[dict, dict, dict]:
    """(metrics, the chosen density's arrays, density -> its first samples of each digit, digit by digit)."""
    sphere = latent.codes_on_sphere(emb["train"][0])
    names = densities.applicable(sphere)
    fitted, scores = {}, {}
    for density in tqdm(names, desc=f"fit densities ({name})", leave=False):
        fitted[density], scores[density] = densities.fit_per_digit(density, emb["train"], emb["val"],
                                                                   cfg.components, seed)
    val_stats = (reference["val_mean"], reference["val_covariance"])
    val_distances = copying.validation_distances(emb["train"], emb["val"])
    digits = sorted(set(emb["train"][1].tolist()))
    per_density, shown = {}, {}
    columns = min(10, cfg.samples_per_digit)
    for density in tqdm(names, desc=f"judge samples ({name})", leave=False):
        codes, labels = densities.sample_per_digit(fitted[density], cfg.samples_per_digit, seed)
        images = model.decode_codes(codes)  # Gaussian samples go back onto the sphere for the S2 variant
        preds, feats = judge.judge_outputs(referee, images)
        checks = copying.copying(codes, labels, emb["train"], val_distances)
        per_density[density] = {
            "val_log_likelihood": scores[density],
            "val_fd_judge": judge.frechet_distance(judge.feature_stats(feats), val_stats),
            **checks, "copies": checks["nn_distance_ratio"] < cfg.copying_threshold,
            **judge.scores(preds, feats, labels, reference, floor)}
        if density == "gmm":
            per_density[density]["components"] = {str(d): f.components for d, f in fitted[density].items()}
            per_density[density]["covariances"] = {str(d): f.kind for d, f in fitted[density].items()}
        shown[density] = images.view(len(digits), -1, 28, 28)[:, :columns].reshape(-1, 28, 28).numpy()
    picks = {rule: densities.choose(per_density, rule, sphere) for rule in densities.AUTO_RULES}
    chosen = picks[cfg.auto_by] if cfg.density == "auto" else cfg.density
    test_codes, test_labels = emb["test"]
    metrics = {"density": chosen, "chosen_by": cfg.auto_by if cfg.density == "auto" else "params",
               "auto_picks": picks, "copying_threshold": cfg.copying_threshold,
               "generated": {"density": chosen, **per_density[chosen]}, "densities": per_density,
               "reconstructed": judge.judged(referee, model.decode_codes(test_codes), test_labels, reference, floor)}
    arrays = {f"{d}.{key}": value for d, density in fitted[chosen].items() for key, value in density.parameters().items()}
    return metrics, arrays, shown


def analyze(name: str, model, splits: dict[str, dict], history: list[dict], referee, reference: dict, floor: float,
            cfg: params.GaussiansParams, seed: int) -> dict:
    """Everything the stage writes, by output: the embeddings frame, the reconstruction metrics and
    figures, the generation metrics, the chosen density's arrays and the grid of samples; and the
    collapse warning (or None). splits: split -> the arrays of its .npz."""
    images = {s: data.images_tensor(a["images"]) for s, a in splits.items()}
    frame, emb = latent.embed_splits(model, {s: (images[s], a["labels"], a["index"]) for s, a in splits.items()})
    densities.check(cfg.density, latent.codes_on_sphere(emb["train"][0]), name)  # before the long part
    recon_metrics, warning = reconstruction(name, model, images.pop("train"), images["test"])  # train: its mean
    codes, labels = emb["test"]
    view, page = explore.explorer(name, model, images["test"], codes, labels, latent.codes_on_sphere(codes), seed)
    pictures = figures(name, model, images["test"], codes, labels, history, view)
    gen_metrics, density_arrays, shown = generation(name, model, emb, referee, reference, floor, cfg, seed)
    chosen = gen_metrics["density"]
    digits = sorted(set(emb["train"][1].tolist()))
    panels = {f"{densities.NOTEBOOK} (the notebook's)": shown[densities.NOTEBOOK], f"{chosen} (chosen)": shown[chosen]}
    samples = plots.image_grids(panels, rows=len(digits), row_labels=[str(d) for d in digits],
                                title=f"{name}: samples of per-digit densities")
    return {"embeddings": frame, "evaluate": recon_metrics, "figures": pictures, "gaussians": gen_metrics,
            "densities": density_arrays, "generated": samples, "explorer": page, "warning": warning,
            "gallery": gallery_arrays(model, images["test"], labels, shown[chosen], len(digits), view)}


GALLERY_PER_DIGIT = 2


def gallery_arrays(model, test_x: torch.Tensor, labels: np.ndarray, samples: np.ndarray, digits: int,
                   view: explore.LatentView) -> dict[str, np.ndarray]:
    """What this variant adds to the report's gallery (gallery.ARRAYS, read by autoencoders/gallery.py): the first
    GALLERY_PER_DIGIT test images of each digit and their reconstructions, as many of the chosen
    density's samples (uint8), and the latent map's points."""
    picks = np.concatenate([np.flatnonzero(labels == d)[:GALLERY_PER_DIGIT] for d in sorted(set(labels.tolist()))])
    with torch.no_grad():
        recon = model.decode(model.encode(test_x[picks])).squeeze(1).numpy()
    generated = samples.reshape(digits, -1, 28, 28)[:, :GALLERY_PER_DIGIT].reshape(-1, 28, 28)
    as_bytes = lambda images: np.clip(np.rint(np.asarray(images) * 255), 0, 255).astype(np.uint8)  # noqa: E731
    return {"test_images": as_bytes(test_x[picks].squeeze(1).numpy()), "reconstructions": as_bytes(recon),
            "generated": as_bytes(generated), "map": view.flat, "map_labels": labels[view.index],
            "map_axes": np.array(view.axes), "map_mode": np.array(view.mode)}


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
    out = analyze(args.variant, models.load_checkpoint(args.model),
                  {s: data.load_npz(layout.split_file(args.split, s)) for s in layout.SPLITS},
                  io.read_history(args.history), checkpoints.load(args.judge, judge.JUDGES),
                  data.load_npz(args.reference), io.read_json(args.floor)["fd_judge_floor"], p.gaussians, p.seed)

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

    recon, gen = out["evaluate"], out["gaussians"]
    print(f"{args.variant}: test squared error per image {recon['sq_error_per_image']:.3f}, "
          f"MSE per pixel {recon['mse_per_pixel']:.5f}")
    for density, m in gen["densities"].items():
        print(f"{density:>4}: val log-lik {m['val_log_likelihood']:10.2f}, val fd_judge {m['val_fd_judge']:.2f}, "
              f"test fd_judge {m['fd_judge']:.2f} ({m['fd_judge_over_floor']:.1f}x floor), judge accuracy "
              f"{m['judge_accuracy']:.3f}, precision {m['precision']:.3f}, recall {m['recall']:.3f}, "
              f"nn distance ratio {m['nn_distance_ratio']:.2f}" + ("  COPIES" if m["copies"] else "")
              + ("  <- chosen" if density == gen["density"] else ""))
    if out["warning"]:
        print(out["warning"], file=sys.stderr)


if __name__ == "__main__":
    errors.run(main)
