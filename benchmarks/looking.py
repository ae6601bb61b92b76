"""What the pictures cost: the latent explorer of every variant (t-SNE placement, decoding, the page)
and the report's gallery, as analyze@V and report add them to a reproduction; t-SNE on one thread
(ours) beside scikit-learn's default threads (the baseline), and PCA, which the latent maps used
before, for scale.

  python -m benchmarks.looking          (after `dvc repro`; about 2 minutes on 2 cores)
"""

import argparse
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from autoencoders import data, explore, gallery, io, latent, layout, models, params, plots, report
from benchmarks.pipeline import cpu_model


def seconds(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def tsne_default_threads(codes: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    return TSNE(
        n_components=2, perplexity=30, init="pca", learning_rate="auto", max_iter=500, random_state=seed
    ).fit_transform(codes.astype(np.float64))


def explored(name, model, x, codes, labels, sphere, seed):
    """(the view, the explorer page): what analyze@V computes for its explorer, the map waited for."""
    view = explore.latent_view(codes, sphere, seed)
    return view, explore.explorer(name, model, x, codes, labels, view)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    p = params.load(args.params)
    test = data.load_npz(layout.split_file("data/split", "test"))
    x = data.images_tensor(test["images"])
    print(f"# {date.today()}, {cpu_model()}, {platform.python_version()}\n")
    print(
        "| variant | codes | placement | t-SNE, 1 thread (s) | t-SNE, default threads (s) | PCA (s) "
        "| explorer in all (s) | page (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    total = 0.0
    for name in p.variants:
        codes = latent.load_embeddings(f"data/embeddings/{name}.parquet")["test"][0]
        model = models.load_checkpoint(layout.model_file("models", name))
        sphere = latent.codes_on_sphere(codes)
        spent, (view, page) = seconds(lambda: explored(name, model, x, codes, test["labels"], sphere, p.seed))
        total += spent
        drawn = codes[view.index]
        tsne = base = pca = "-"
        if view.mode == "map":
            tsne = f"{seconds(lambda: explore.neighbour_map(drawn, p.seed))[0]:.1f}"
            base = f"{seconds(lambda: tsne_default_threads(drawn, p.seed))[0]:.1f}"
            centred = drawn - drawn.mean(0)
            pca = f"{seconds(lambda: centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T)[0]:.2f}"
        print(
            f"| {name} | {codes.shape[1]}-d | {view.mode} | {tsne} | {base} | {pca} | {spent:.1f} | "
            f"{len(page) / 1e6:.1f} |"
        )
    variants = Path("reports/variants")
    table = report.comparison_table(variants, {name: v.family for name, v in p.variants.items()})
    arrays = {name: data.load_npz(variants / name / gallery.ARRAYS) for name in p.variants}
    fd_floor = io.read_json("reports/judge/floor.json")["fd_judge_floor"]
    out = Path(tempfile.mkdtemp())

    def draw():
        for png, fig in gallery.figures(arrays, table, fd_floor).items():
            plots.save(fig, out / f"{png}.png")

    drawing, _ = seconds(draw)
    size = sum(f.stat().st_size for f in out.glob("*.png")) / 1e6
    print(f"\nexplorers, every variant: {total:.1f} s; the gallery drawn by report: {drawing:.1f} s, {size:.2f} MB")


if __name__ == "__main__":
    main()
