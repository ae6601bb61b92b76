"""The gallery git keeps: one row per variant, the same bytes for the same figures, and every picture
the README and docs/ show tracked by git (a clone shows them before anything has run)."""

import re
import subprocess

import numpy as np
import pandas as pd

from autoencoders import data, gallery, plots
from tests.helpers import ROOT


def variant_arrays(seed: int, mode: str = "map") -> dict:
    rng = np.random.default_rng(seed)
    images = lambda: rng.integers(0, 256, size=(20, 28, 28)).astype(np.uint8)
    return {
        "test_images": images(),
        "reconstructions": images(),
        "generated": images(),
        "map": rng.normal(size=(200, 2)).astype(np.float32),
        "map_labels": np.arange(200) % 10,
        "map_axes": np.array(["t-SNE 1", "t-SNE 2"]),
        "map_mode": np.array(mode),
    }


def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "test_sq_error_per_image": [3.1, 12.6, 25.0],
            "latent_dim": [30, 30, 3],
            "density": ["gmm", "gmm", "vmf"],
            "generated_fd_judge": [15.0, 340.0, 480.0],
            "generated_judge_accuracy": [0.98, 0.95, 0.74],
        },
        index=["conv30", "pca30", "sphere"],
    )


def drawn(tmp_path, name: str) -> dict[str, bytes]:
    folder = tmp_path / name
    folder.mkdir()
    arrays = {}
    for seed, (variant, mode) in enumerate([("conv30", "map"), ("pca30", "map"), ("sphere", "sphere")]):
        data.save_npz(folder / f"{variant}.npz", variant_arrays(seed, mode))  # as analyze writes them
        arrays[variant] = data.load_npz(folder / f"{variant}.npz")
        (folder / f"{variant}.npz").unlink()
    for png, fig in gallery.figures(arrays, table(), floor=3.0).items():
        plots.save(fig, folder / f"{png}.png")
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_the_same_figures_give_the_same_bytes(tmp_path):
    first, second = drawn(tmp_path, "a"), drawn(tmp_path, "b")
    assert sorted(first) == sorted(f"{name}.png" for name in gallery.NAMES)
    assert first == second
    assert all(b"tIME" not in png and b"Software" not in png for png in first.values())  # no timestamp, no version


def test_rows_are_labelled_by_variant_with_its_figures():
    arrays = {"conv30": variant_arrays(0), "pca30": variant_arrays(1)}
    fig = gallery.generated(
        arrays,
        {
            "conv30": {"density": "gmm", "fd_over_floor": 4.94, "judge_accuracy": 0.981},
            "pca30": {"density": "full", "fd_over_floor": 115.1, "judge_accuracy": 0.951},
        },
    )
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == [
        "real test digits",
        "conv30: gmm, 4.9x floor, judge 0.98",
        "pca30: full, 115.1x floor, judge 0.95",
    ]


def tracked_files() -> set[str]:
    return set(subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split())


def test_every_image_the_readme_and_docs_show_is_tracked_by_git():
    tracked = tracked_files()
    shown = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"", doc.read_text()):
            target = next(t for t in target if t)
            path = (doc.parent / target).resolve().relative_to(ROOT).as_posix()
            shown.append(path)
            assert path in tracked, f"{doc.name} shows {target}, which git does not track"
    assert {f"reports/gallery/{name}.png" for name in gallery.NAMES} <= set(shown)  # the README shows the gallery
