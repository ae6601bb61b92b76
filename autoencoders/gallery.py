"""The report's gallery: a few composite PNGs, one variant per row, that git keeps (the report stage
draws them from each variant's gallery.npz, which analyze writes): the eye compares across variants
where the per-variant figures would need scrolling between sections.

The same arrays give the same bytes (plots.save writes no timestamp), so an unchanged study leaves
the committed pictures unchanged.
"""

from __future__ import annotations

import numpy as np

from . import plots
from .images import tiled

# beside each variant's results (reports/variants/V/, dvc.yaml spells the same names): the variant's part
# of the gallery, and its latent explorer, which the report links. Here rather than in layout.py, which
# every stage imports: only analyze (given the paths) and report use them.
ARRAYS = "gallery.npz"
EXPLORER = "explorer.html"

SCALE = 2  # screen pixels per image pixel: crisp digits at the size a README shows them
DPI = 100
LABEL_WIDTH = 2.6  # inches left of the digits for the row labels


def digit_rows(rows: dict[str, np.ndarray], title: str):
    """A figure of labelled rows of 28x28 uint8 images (label -> images), drawn pixel for pixel."""
    cols = max(len(images) for images in rows.values())
    tiles = np.zeros((len(rows) * cols, 28, 28))
    for r, images in enumerate(rows.values()):
        tiles[r * cols : r * cols + len(images)] = images / 255.0
    canvas = tiled(tiles, len(rows))
    height, width = canvas.shape[0] * SCALE / DPI, canvas.shape[1] * SCALE / DPI
    fig = plots.plt.figure(figsize=(width + LABEL_WIDTH, height + 0.45))
    ax = fig.add_axes((LABEL_WIDTH / (width + LABEL_WIDTH), 0, width / (width + LABEL_WIDTH), height / (height + 0.45)))
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([r * 29 + 14 for r in range(len(rows))], list(rows), fontsize=9)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    fig.suptitle(title, x=0.5, y=1.0, va="top", fontsize=11)
    return fig


def reconstructions(arrays: dict[str, dict], sq_error: dict[str, float]):
    first = next(iter(arrays.values()))
    rows = {
        "test digits": first["test_images"],
        **{f"{name}  {sq_error[name]:.2f}": a["reconstructions"] for name, a in arrays.items()},
    }
    return digit_rows(rows, "Test digits and each variant's reconstructions (label: test squared error per image)")


def generated(arrays: dict[str, dict], figures: dict[str, dict]):
    """figures: variant -> density, fd_over_floor, judge_accuracy of its chosen density."""
    first = next(iter(arrays.values()))
    rows = {"real test digits": first["test_images"]}
    for name, a in arrays.items():
        f = figures[name]
        rows[f"{name}: {f['density']}, {f['fd_over_floor']:.1f}x floor, judge {f['judge_accuracy']:.2f}"] = a[
            "generated"
        ]
    return digit_rows(
        rows,
        "Digits generated from each variant's chosen per-digit density, decoded "
        "(label: fd_judge / the real-image floor, the judge's accuracy)",
    )


def latent_maps(arrays: dict[str, dict], latent_dims: dict[str, int], per_row: int = 5):
    """Every variant's map of its test codes, side by side: 2-d codes as they are, the sphere unwrapped,
    larger codes by t-SNE."""
    names = list(arrays)
    rows = -(-len(names) // per_row)
    fig, axes = plots.plt.subplots(rows, per_row, figsize=(3.1 * per_row, 3.2 * rows), squeeze=False)
    cmap = plots.plt.get_cmap("tab10")
    how = {"plane": "as they are", "sphere": "on S2, unwrapped", "map": "t-SNE"}
    for ax, name in zip(axes.flat, names):
        a = arrays[name]
        for d in sorted(set(a["map_labels"].tolist())):
            pts = a["map"][a["map_labels"] == d]
            ax.scatter(*pts.T, s=1.5, alpha=0.6, color=cmap(d % 10), label=str(d))
        mode = str(a["map_mode"].reshape(-1)[0])  # saved 0-d, read back 1-d
        if mode == "plane":  # 2-d codes: a few far-flung ones would squeeze the rest into a corner
            lo, hi = np.percentile(a["map"], [0.5, 99.5], axis=0)
            pad = (hi - lo) * 0.05
            ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0]), ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
        ax.set_title(f"{name} ({latent_dims[name]}-d, {how[mode]})", fontsize=10)
        ax.set_xticks([]), ax.set_yticks([])
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), markerscale=6, frameon=False)
    fig.suptitle("Test codes by digit, every variant")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


NAMES = {
    "reconstructions": "Reconstructions",
    "generated": "Generated digits",  # PNG -> heading, in the
    "latent_maps": "Latent spaces",
}  # order the report shows them


def figures(arrays: dict[str, dict], table, floor: float) -> dict[str, object]:
    """PNG name -> figure (arrays: variant -> its gallery.npz; table: report.comparison_table)."""
    chosen = {
        name: {
            "density": row["density"],
            "fd_over_floor": row["generated_fd_judge"] / floor,
            "judge_accuracy": row["generated_judge_accuracy"],
        }
        for name, row in table.iterrows()
    }
    return {
        "reconstructions": reconstructions(arrays, table["test_sq_error_per_image"].to_dict()),
        "generated": generated(arrays, chosen),
        "latent_maps": latent_maps(arrays, table["latent_dim"].astype(int).to_dict()),
    }
