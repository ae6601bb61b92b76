"""matplotlib figures, each written to a PNG (Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

from .images import tiled
from .io import atomic_path


def save(fig, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def image_grid(images: np.ndarray, rows: int, row_labels: list[str] | None = None, title: str = ""):
    """images (rows * cols, 28, 28) in [0, 1] laid out row by row, one labelled row per group."""
    return image_grids({title: images}, rows, row_labels)


def image_grids(panels: dict[str, np.ndarray], rows: int, row_labels: list[str] | None = None, title: str = ""):
    """Grids side by side, one per titled panel, sharing their labelled rows."""
    cols = len(next(iter(panels.values()))) // rows
    fig, axes = plt.subplots(
        1, len(panels), figsize=(max(4, cols * 0.45) * len(panels), max(2, rows * 0.45)), squeeze=False
    )
    for ax, (panel_title, images) in zip(axes[0], panels.items()):
        ax.imshow(tiled(images, rows), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([r * 29 + 14 for r in range(rows)] if row_labels else [])
        if row_labels:
            ax.set_yticklabels(row_labels)
        ax.set_title(panel_title)
    if title:
        fig.suptitle(title)
    return fig


def single_image(image: np.ndarray, title: str = ""):
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    ax.axis("off")
    ax.set_title(title)
    return fig


def _scatter_by_digit(ax, xy: np.ndarray, labels: np.ndarray, **kw) -> None:
    cmap = plt.get_cmap("tab10")
    for d in sorted(set(labels.tolist())):
        pts = xy[labels == d]
        ax.scatter(*pts.T, s=4, alpha=0.6, color=cmap(d % 10), label=str(d), **kw)
    ax.legend(markerscale=3, fontsize=7, loc="best", ncol=2)


def subsample(n: int, limit: int = 3000, seed: int = 0) -> np.ndarray:
    """At most `limit` indices out of n, the same ones every run."""
    return np.sort(np.random.default_rng(seed).permutation(n)[:limit]) if n > limit else np.arange(n)


def latent_map(view, labels: np.ndarray, title: str):
    """The drawn test codes by digit (view: explore.LatentView; labels follow view.index): 2-D codes
    as they are, codes on the sphere as a 3-D scatter, higher dimensions where t-SNE places them."""
    fig = plt.figure(figsize=(6, 5.5))
    if view.mode == "sphere":
        ax = fig.add_subplot(projection="3d")
        _scatter_by_digit(ax, view.points, labels)
        ax.set_xlabel("z0"), ax.set_ylabel("z1"), ax.set_zlabel("z2")
    else:
        ax = fig.add_subplot()
        _scatter_by_digit(ax, view.flat, labels)
        ax.set_xlabel(view.axes[0]), ax.set_ylabel(view.axes[1])
    ax.set_title(title + (" (t-SNE)" if view.mode == "map" else ""))
    return fig


def to_sphere_angles(codes: np.ndarray) -> np.ndarray:
    """Unit 3-vectors -> (phi, theta), the spherical-latent notebook's unwrapping of S2."""
    x, y, z = codes.T
    theta = np.arccos(np.clip(z / np.linalg.norm(codes, axis=1), -1, 1))
    return np.c_[np.arctan2(x, y), theta]


def from_sphere_angles(angles: np.ndarray) -> np.ndarray:
    phi, theta = angles.T
    return np.c_[np.sin(theta) * np.sin(phi), np.sin(theta) * np.cos(phi), np.cos(theta)]


def encoder_decoder_map(codes: np.ndarray, labels: np.ndarray, decode, title: str, sphere: bool = False, n: int = 16):
    """Encoder map (codes coloured by digit) beside a decoder grid over the same range.

    For a spherical latent both panels use the unwrapped (phi, theta) coordinates.
    decode maps latent points (M, d) to images (M, 28, 28).
    """
    points = to_sphere_angles(codes) if sphere else codes
    keep = subsample(len(points))
    lo, hi = points.min(0), points.max(0)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 6))
    _scatter_by_digit(left, points[keep], labels[keep])
    left.set_title("Encoder map")
    left.set_xlabel(r"$\varphi$" if sphere else "z0"), left.set_ylabel(r"$\theta$" if sphere else "z1")
    xs = np.linspace(lo[0], hi[0], n)
    ys = np.linspace(hi[1], lo[1], n)  # top row = largest z1, as on the scatter
    grid = np.array([[x, y] for y in ys for x in xs], dtype=np.float64)
    latent = from_sphere_angles(grid) if sphere else grid
    images = decode(latent.astype(np.float32))
    canvas = images.reshape(n, n, 28, 28).transpose(0, 2, 1, 3).reshape(n * 28, n * 28)
    right.imshow(canvas, cmap="gray", vmin=0, vmax=1, extent=(lo[0], hi[0], lo[1], hi[1]), aspect="auto")
    right.set_title("Decoder grid")
    right.set_xlabel(left.get_xlabel()), right.set_ylabel(left.get_ylabel())
    fig.suptitle(title)
    return fig


def code_histograms(codes: np.ndarray, title: str, max_dims: int = 16):
    """One histogram per latent dimension (the first max_dims), as the conv notebook plotted."""
    d = min(codes.shape[1], max_dims)
    cols = min(d, 4)
    rows = -(-d // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.2 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < d:
            ax.hist(codes[:, i], bins=50, color="C0")
            ax.set_title(f"z{i}", fontsize=9)
        else:
            ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def loss_curves(curves: dict[str, list[dict]], title: str):
    """curves: name -> history rows (epoch, train_loss, val_loss); one pair of lines per name."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (name, rows) in enumerate(curves.items()):
        epochs, train, val = ([row[k] for row in rows] for k in ("epoch", "train_loss", "val_loss"))
        ax.plot(epochs, train, "--", color=f"C{i}", label=f"{name} train")
        ax.plot(epochs, val, "-", color=f"C{i}", label=f"{name} val")
    ax.set_xlabel("epoch"), ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    ax.set_title(title)
    return fig


def sweep_plot(points: dict[str, list[tuple]], x_label: str, y_label: str, title: str):
    """One line per name through (x, mean, sd or None, n) points, seed sd as error bars; log axes
    where the values span a decade or more (code sizes, errors), as Hinton & Salakhutdinov plot them."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    xs = sorted({p[0] for series in points.values() for p in series})
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)
    where = (lambda x: x) if numeric else {x: i for i, x in enumerate(xs)}.get
    for i, (name, series) in enumerate(points.items()):
        ax.errorbar(
            [where(p[0]) for p in series],
            [p[1] for p in series],
            yerr=[p[2] or 0 for p in series],
            marker="o",
            capsize=3,
            color=f"C{i}",
            label=name,
        )
    ys = [p[1] for series in points.values() for p in series]
    if numeric and min(xs) > 0 and max(xs) >= 10 * min(xs):
        ax.set_xscale("log")
    if min(ys) > 0 and max(ys) >= 10 * min(ys):
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1, 2, 5)))  # 1, 2, 5, 10, 20, ...
        ax.yaxis.set_major_formatter(ticker.ScalarFormatter())
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xticks([where(x) for x in xs], [str(x) for x in xs])  # the values swept, nothing between
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.set_xlabel(x_label), ax.set_ylabel(y_label)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    return fig
