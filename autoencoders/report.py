"""The comparison of all variants: one pandas table -> Markdown, HTML and a flat metrics JSON."""
from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

# Hinton & Salakhutdinov, Science 313 (2006): average squared reconstruction error per test image.
PAPER_2006 = {"autoencoder 784-1000-500-250-30": 3.00, "PCA, 30 components": 13.87}

COLUMNS = {  # column -> (file, key path) inside reports/variants/V/
    "latent": ("train.json", "latent_dim"),
    "parameters": ("train.json", "parameters"),
    "train s": ("train_time.json", "seconds"),
    "test sq. error / image": ("evaluate.json", "sq_error_per_image"),
    "test MSE / pixel": ("evaluate.json", "mse_per_pixel"),
    "head acc.": ("classify.json", "head.accuracy"),
    "probe acc.": ("classify.json", "probe.accuracy"),
    "kNN acc.": ("classify.json", "knn.accuracy"),
    "generated judge acc.": ("gaussians.json", "generated.judge_accuracy"),
    "generated FJD": ("gaussians.json", "generated.fjd"),
    "reconstructed judge acc.": ("gaussians.json", "reconstructed.judge_accuracy"),
}


def _get(obj, dotted: str):
    for key in dotted.split("."):
        obj = obj[key]
    return obj


def comparison_table(variants_dir: str | Path, families: dict[str, str]) -> pd.DataFrame:
    """One row per variant (families: variant -> family), with the ratio to PCA of the same latent size."""
    variants_dir = Path(variants_dir)
    rows = []
    for name, family in families.items():
        files = {f: json.loads((variants_dir / name / f).read_text()) for f in {f for f, _ in COLUMNS.values()}}
        rows.append({"variant": name, "family": family,
                     **{col: _get(files[f], key) for col, (f, key) in COLUMNS.items()}})
    table = pd.DataFrame(rows).set_index("variant")
    pca = table[table.family == "pca"].set_index("latent")["test sq. error / image"]
    ratio = table["test sq. error / image"] / table["latent"].map(pca)
    table.insert(table.columns.get_loc("test MSE / pixel"), "ratio to PCA", ratio.where(table.family != "pca"))
    return table


def summary_metrics(table: pd.DataFrame) -> dict:
    """variant -> {metric: value}: flat enough for `dvc metrics show` and `dvc exp show`."""
    keys = {"test sq. error / image": "test_sq_error", "ratio to PCA": "ratio_to_pca", "head acc.": "head_acc",
            "probe acc.": "probe_acc", "kNN acc.": "knn_acc", "generated judge acc.": "gen_judge_acc",
            "generated FJD": "gen_fjd"}
    return {name: {short: (None if pd.isna(row[col]) else round(float(row[col]), 5)) for col, short in keys.items()}
            for name, row in table.iterrows()}


def _format(value) -> str:
    if pd.isna(value):
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def to_markdown(table: pd.DataFrame) -> str:
    header = [table.index.name or "", *table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([name, *map(_format, row)]) + " |" for name, row in table.iterrows()]
    return "\n".join(lines)


def paper_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """The 2006 paper's 30-d figures beside our 30-d variants."""
    ours = table[table.latent == 30]["test sq. error / image"]
    rows = [{"model": f"paper: {k}", "test sq. error / image": v} for k, v in PAPER_2006.items()]
    rows += [{"model": f"ours: {name}", "test sq. error / image": v} for name, v in ours.items()]
    return pd.DataFrame(rows).set_index("model")


def summary_markdown(table: pd.DataFrame, judge_accuracy: float) -> str:
    return "\n\n".join([
        "# Autoencoders on MNIST: summary",
        "All figures on the official 10k test set. Squared error per image is summed over the 784 pixels "
        "in [0, 1] (the 2006 paper's metric); accuracies of the classifiers on frozen codes were chosen on "
        "validation; generated digits are scored by an independent CNN judge "
        f"(test accuracy {judge_accuracy:.4f}). FJD is the Frechet distance in the judge's feature space, "
        "not comparable to Inception FID.",
        to_markdown(table),
        "## Against Hinton & Salakhutdinov (2006)",
        to_markdown(paper_comparison(table)),
    ]) + "\n"


FIGURE_TITLES = {"reconstructions": "Reconstructions", "latent_map": "Latent map",
                 "encoder_decoder": "Encoder map and decoder grid", "code_histograms": "Code histograms",
                 "loss_curves": "Loss curves", "generated": "Generated from per-digit Gaussians"}


def summary_html(table: pd.DataFrame, judge_accuracy: float, figures: dict[str, list[str]]) -> str:
    """A self-contained page apart from images, linked relatively (figures: variant -> relative paths)."""
    fmt = {c: _format for c in table.columns}
    sections = []
    for name, paths in figures.items():
        imgs = "".join(f'<figure><img src="{html.escape(p)}" alt="{html.escape(name)} {html.escape(Path(p).stem)}">'
                       f"<figcaption>{FIGURE_TITLES.get(Path(p).stem, Path(p).stem)}</figcaption></figure>"
                       for p in paths)
        sections.append(f'<section id="{html.escape(name)}"><h2>{html.escape(name)}</h2>{imgs}</section>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Autoencoders on MNIST</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }} th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }}
figure {{ display: inline-block; margin: 0.5em; vertical-align: top; }} img {{ max-width: 520px; }}
</style></head><body>
<h1>Autoencoders on MNIST</h1>
<p>Official test set. Squared error per image sums over 784 pixels in [0, 1]. Judge test accuracy
{judge_accuracy:.4f}; FJD is a Frechet distance in the judge's feature space, not comparable to Inception FID.</p>
{table.to_html(formatters=fmt, na_rep="-")}
<h2>Against Hinton &amp; Salakhutdinov (2006)</h2>
{paper_comparison(table).to_html(float_format=lambda v: f"{v:.3f}")}
{"".join(sections)}
</body></html>
"""
