"""The comparison of all variants: one pandas table -> Markdown, HTML and the headline metrics.

The headline figures (HEADLINE) are the few that people compare across experiments: they are the
only DVC metrics (reports/metrics.json, flat `<variant>.<figure>` keys), and `compare` reads them.
Everything else stays in the per-variant files under reports/variants/V/ and in MLflow.
"""

from __future__ import annotations

import html
import json
from collections.abc import Collection
from pathlib import Path

import pandas as pd

from . import champion, layout

# Hinton & Salakhutdinov, Science 313 (2006): average squared reconstruction error per test image.
PAPER_2006 = {"autoencoder 784-1000-500-250-30": 3.00, "PCA, 30 components": 13.87}

HEADLINE = {  # figure -> (file, key path) inside reports/variants/V/
    "test_sq_error_per_image": (layout.EVALUATE, "sq_error_per_image"),
    "test_mse_per_pixel": (layout.EVALUATE, "mse_per_pixel"),
    "head_accuracy": (layout.CLASSIFY, "head.accuracy"),
    "probe_accuracy": (layout.CLASSIFY, "probe.accuracy"),
    "knn_accuracy": (layout.KNN, "accuracy"),
    "generated_judge_accuracy": (layout.GAUSSIANS, "generated.judge_accuracy"),
    "generated_fd_judge": (layout.GAUSSIANS, "generated.fd_judge"),
    "generated_nn_distance_ratio": (layout.GAUSSIANS, "generated.nn_distance_ratio"),  # copying: below 1
}
JUDGE_HEADLINES = {  # the figures that belong to no variant -> key in reports/judge/metrics.json
    "judge.test_accuracy": "test_accuracy",
    "judge.fd_judge_floor": "fd_judge_floor",  # real training images against real test: what generated sets aim at
}

DETAILS = {  # further columns of the comparison table
    "latent_dim": (layout.TRAIN, "latent_dim"),
    "parameters": (layout.TRAIN, "parameters"),
    "train_seconds": (layout.TRAIN_TIME, "seconds"),
    "reconstructed_judge_accuracy": (layout.GAUSSIANS, "reconstructed.judge_accuracy"),
    "collapsed": (layout.EVALUATE, "collapsed"),
    "cluster_accuracy": (layout.CLASSIFY, "kmeans.accuracy"),
    "density": (layout.GAUSSIANS, "density"),
    "test_sq_error_unclipped": (layout.EVALUATE, "sq_error_per_image_unclipped"),
}

LABELS = {  # column -> its heading in the Markdown and HTML tables, in this order
    "family": "family",
    "latent_dim": "latent",
    "parameters": "parameters",
    "train_seconds": "train s",
    "test_sq_error_per_image": "test sq. error / image",
    "ratio_to_pca": "ratio to PCA",
    "test_mse_per_pixel": "test MSE / pixel",
    "head_accuracy": "head acc.",
    "probe_accuracy": "probe acc.",
    "knn_accuracy": "kNN acc.",
    "cluster_accuracy": "k-means acc.",
    "density": "density",
    "generated_judge_accuracy": "generated judge acc.",
    "generated_fd_judge": "generated fd_judge",
    "generated_nn_distance_ratio": "generated NN distance ratio",
    "reconstructed_judge_accuracy": "reconstructed judge acc.",
}
COLLAPSED_MARK = " ⚠"
CHALLENGER_MARK = " (challenger)"


def _get(obj, dotted: str):
    for key in dotted.split("."):
        obj = obj[key]
    return obj


def comparison_table(variants_dir: str | Path, families: dict[str, str]) -> pd.DataFrame:
    """One row per variant (families: variant -> family), with the ratio to PCA of the same latent size."""
    variants_dir = Path(variants_dir)
    sources = {**HEADLINE, **DETAILS}
    rows = []
    for name, family in families.items():
        files = {f: json.loads((variants_dir / name / f).read_text()) for f in {f for f, _ in sources.values()}}
        rows.append(
            {"variant": name, "family": family, **{col: _get(files[f], key) for col, (f, key) in sources.items()}}
        )
    table = pd.DataFrame(rows).set_index("variant")
    pca = table[table.family == "pca"].set_index("latent_dim")["test_sq_error_per_image"]
    table["ratio_to_pca"] = (table["test_sq_error_per_image"] / table["latent_dim"].map(pca)).where(
        table.family != "pca"
    )
    return table


def headline_metrics(table: pd.DataFrame, judge: dict) -> dict[str, float]:
    """The DVC metrics: flat `<variant>.<figure>` keys, so `dvc exp show` can keep or drop them by name
    (judge: the judge stage's metrics)."""
    out = {f"{name}.{figure}": float(row[figure]) for name, row in table.iterrows() for figure in HEADLINE}
    return {**out, **{key: float(judge[field]) for key, field in JUDGE_HEADLINES.items()}}


DENSITY_FIGURES = {
    "val_log_likelihood": "val log-lik. / code",
    "val_fd_judge": "val fd_judge",
    "fd_judge": "test fd_judge",
    "fd_judge_over_floor": "test fd_judge / floor",
    "judge_accuracy": "judge acc.",
    "precision": "precision",
    "recall": "recall",
    "nn_distance_ratio": "NN distance ratio",
    "meehan_ct": "Meehan C_T",
}
COPIES_MARK = " (copies)"


def density_table(variants_dir: str | Path, variants: list[str], judge: dict) -> pd.DataFrame:
    """variant x density: how each density's samples score, the chosen one marked, real images first."""
    rows = [
        {
            "variant": "real training images",
            "density": "-",
            DENSITY_FIGURES["fd_judge"]: judge["fd_judge_floor"],
            DENSITY_FIGURES["fd_judge_over_floor"]: 1.0,
            DENSITY_FIGURES["precision"]: judge["floor_precision"],
            DENSITY_FIGURES["recall"]: judge["floor_recall"],
        }
    ]
    for name in variants:
        figures = json.loads((Path(variants_dir) / name / layout.GAUSSIANS).read_text())
        for density, scores in figures["densities"].items():
            marks = [f" ({rule})" for rule, pick in figures["auto_picks"].items() if pick == density]
            marks += [" (chosen)"] * (density == figures["density"]) + [COPIES_MARK] * scores["copies"]
            rows.append(
                {
                    "variant": name,
                    "density": density + "".join(marks),
                    **{label: scores[key] for key, label in DENSITY_FIGURES.items()},
                }
            )
    return pd.DataFrame(rows).set_index("variant")


def _format(value) -> str:
    if pd.isna(value):
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def display_table(
    table: pd.DataFrame,
    spread: dict[str, float] | None = None,
    labels: dict[str, str] = LABELS,
    challengers: Collection[str] = (),
) -> pd.DataFrame:
    """Formatted cells under their headings (labels: column -> heading, in order): `value ± sd` where
    spread (`<variant>.<figure>` -> sd over seeds) knows the figure's noise, collapsed variants marked,
    and the figure of each challenger (champion.py) too."""
    spread = spread or {}
    shown = pd.DataFrame(index=[f"{n}{COLLAPSED_MARK if c else ''}" for n, c in table["collapsed"].items()])
    shown.index.name = "variant"
    for column, label in labels.items():
        cells = []
        for name, value in table[column].items():
            sd = spread.get(f"{name}.{column}")
            cells.append(
                _format(value)
                + (f" ± {sd:.2g}" if sd is not None else "")  # the noise's own digits
                + (CHALLENGER_MARK if column == champion.FIGURE and name in challengers else "")
            )
        shown[label] = cells
    return shown


def to_markdown(table: pd.DataFrame) -> str:
    """A table of display cells (display_table, paper_comparison) as Markdown."""
    header = [table.index.name or "", *table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([str(name), *map(_format, row)]) + " |" for name, row in table.iterrows()]
    return "\n".join(lines)


def paper_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """The 2006 paper's 30-d figures beside our 30-d variants, like with like: the paper's PCA
    reconstructs without clipping, so ours is shown both ways where clipping matters."""
    column = LABELS["test_sq_error_per_image"]
    rows = [{"model": f"paper: {k}", column: v} for k, v in PAPER_2006.items()]
    for name, row in table[table.latent_dim == 30].iterrows():
        if row["test_sq_error_unclipped"] == row["test_sq_error_per_image"]:  # an output in [0, 1] already
            rows.append({"model": f"ours: {name}", column: row["test_sq_error_per_image"]})
        else:
            rows.append(
                {"model": f"ours: {name}, output unclipped (as the paper)", column: row["test_sq_error_unclipped"]}
            )
            rows.append(
                {
                    "model": f"ours: {name}, clipped to [0, 1] (as every variant here)",
                    column: row["test_sq_error_per_image"],
                }
            )
    return pd.DataFrame(rows).set_index("model")


def notes(table: pd.DataFrame, spread_seeds: int | None, challengers: Collection[str] = ()) -> list[str]:
    """Sentences under the table: what ± means, which variants collapsed, which are challengers."""
    out = []
    if spread_seeds:
        out.append(
            f"± is the standard deviation of a figure over {spread_seeds} seeds of the default params "
            "(reports/seed_spread.json, measured with `autoencoders compare`): a difference "
            "smaller than that is noise."
        )
    collapsed = [name for name, c in table["collapsed"].items() if c]
    if collapsed:
        out.append(
            f"{COLLAPSED_MARK.strip()} collapsed to the mean image (test error within 5% of predicting the "
            f"mean training image; its codes carry almost nothing): {', '.join(collapsed)}."
        )
    if challengers:
        out.append(
            f"{CHALLENGER_MARK.strip()}: beats the champion (main's figure in {champion.FILE}) by more than "
            f"{champion.CHALLENGE_SDS:g} seed sd, as the registry's @challenger does: {', '.join(challengers)}."
        )
    return out


INTRO = (
    "All figures on the official 10k test set. Squared error per image is summed over the 784 pixels "
    "in [0, 1] (the 2006 paper's metric); accuracies of the classifiers on frozen codes were chosen on "
    "validation; generated digits are scored by an independent CNN judge (test accuracy {judge:.4f}). "
    "fd_judge is the Frechet distance in the judge's feature space, not comparable to Inception FID "
    "(called FJD until v0.3; renamed as FJD is the Frechet Joint Distance of DeVries et al. 2019)."
)


GENERATION_INTRO = (
    "Each variant fits a density per digit to its training codes and decodes samples of it. "
    "`auto` chooses by `gaussians.auto_by` on validation data only, among the densities that do not "
    "copy: val_fd_judge (decoded samples against the real validation images, the default) or "
    "val_log_likelihood (on the sphere, among densities on the sphere); the density column names "
    "what each rule picks. NN distance ratio: the median distance from a sample to its nearest "
    "training code over the same for real validation codes; below `gaussians.copying_threshold` "
    "a density copies its training codes (marked; never auto's). Meehan C_T: Meehan et al. 2020's "
    "three-sample statistic, far below 0 for copying. The floor is real training images against the real test images, "
    "as many as a generated set holds: a perfect generator's fd_judge. Precision: the share of samples "
    "inside the real images' k-NN manifold (fidelity); recall: the share of real images inside "
    "the samples' (diversity); Kynkaanniemi et al. 2019, k = 3, in the judge's feature space."
)


def summary_markdown(
    table: pd.DataFrame,
    judge: dict,
    densities: pd.DataFrame,
    spread: dict | None = None,
    challengers: Collection[str] = (),
) -> str:
    spread = spread or {}
    return (
        "\n\n".join(
            [
                "# Autoencoders on MNIST: summary",
                INTRO.format(judge=judge["test_accuracy"]),
                to_markdown(display_table(table, spread.get("sd"), challengers=challengers)),
                *notes(table, spread.get("n"), challengers),
                "## Generated digits: densities per digit",
                GENERATION_INTRO,
                to_markdown(densities),
                "## Against Hinton & Salakhutdinov (2006)",
                to_markdown(paper_comparison(table)),
            ]
        )
        + "\n"
    )


FIGURE_TITLES = {
    "reconstructions": "Reconstructions",
    "interpolations": "Interpolations",
    "latent_map": "Latent map",
    "encoder_decoder": "Encoder map and decoder grid",
    "code_histograms": "Code histograms",
    "loss_curves": "Loss curves",
    "generated": "Generated: the notebook's diag and the chosen density",
}

AT_A_GLANCE = {  # the columns of the report's first table, narrow enough for a laptop's window
    "latent_dim": "latent",
    "test_sq_error_per_image": "test sq. error / image",
    "probe_accuracy": "probe acc.",
    "knn_accuracy": "kNN acc.",
    "density": "density",
    "generated_fd_over_floor": "generated fd_judge / floor",
    "generated_judge_accuracy": "generated judge acc.",
}


def at_a_glance(
    table: pd.DataFrame, floor: float, spread: dict[str, float] | None = None, challengers: Collection[str] = ()
) -> pd.DataFrame:
    """The headline figures a reader compares first, `± sd` where the seed spread knows the figure;
    generated fd_judge as a multiple of the real-image floor."""
    spread = dict(spread or {})
    table = table.assign(generated_fd_over_floor=table["generated_fd_judge"] / floor)
    for name in table.index:
        sd = spread.get(f"{name}.generated_fd_judge")
        if sd is not None:
            spread[f"{name}.generated_fd_over_floor"] = sd / floor
    return display_table(table, spread, AT_A_GLANCE, challengers)


def _img(src: str, alt: str) -> str:
    return f'<img src="{html.escape(src)}" alt="{html.escape(alt)}">'


def _folded(summary: str, body: str, anchor: str = "") -> str:
    ident = f' id="{html.escape(anchor)}"' if anchor else ""
    return f"<details{ident}><summary>{summary}</summary>{body}</details>"


STYLE = """body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1320px; padding: 0 1em; }
img { max-width: 100%; height: auto; } .gallery img { display: block; margin: 0.5em 0 1.5em; }
table { border-collapse: collapse; font-size: 0.9em; } th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
.scroll { overflow-x: auto; max-width: 100%; } details { margin: 0.6em 0; } summary { cursor: pointer; font-weight: 600; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; max-width: 620px; } nav a { margin-right: 1em; }"""


def summary_html(
    table: pd.DataFrame,
    judge: dict,
    densities: pd.DataFrame,
    figures: dict[str, list[str]],
    gallery: dict[str, str],
    explorers: dict[str, str],
    spread: dict | None = None,
    challengers: Collection[str] = (),
) -> str:
    """The report page: the gallery and the figures at a glance first; every figure, the densities and
    each variant's pictures folded below. Images and explorers are linked relatively (figures: variant
    -> its PNGs; gallery: PNG -> heading; explorers: variant -> its explorer page)."""
    spread = spread or {}
    glance = at_a_glance(table, judge["fd_judge_floor"], spread.get("sd"), challengers)
    glance["explore"] = [f'<a href="{html.escape(explorers[name])}">explorer</a>' for name in table.index]
    pictures = "".join(f"<h2>{html.escape(title)}</h2>{_img(p, title)}" for p, title in gallery.items())
    variants = "".join(
        _folded(
            f'{html.escape(name)}: its figures (<a href="{html.escape(explorers[name])}">explorer</a>)',
            "".join(
                f"<figure>{_img(p, f'{name} {Path(p).stem}')}<figcaption>"
                f"{FIGURE_TITLES.get(Path(p).stem, Path(p).stem)}</figcaption></figure>"
                for p in paths
            ),
            name,
        )
        for name, paths in figures.items()
    )
    paragraphs = "".join(f"<p>{html.escape(n)}</p>" for n in notes(table, spread.get("n"), challengers))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Autoencoders on MNIST</title><style>
{STYLE}
</style></head><body>
<h1>Autoencoders on MNIST</h1>
<nav><a href="#gallery">gallery</a><a href="#glance">at a glance</a><a href="#all-figures">every figure</a>
<a href="#densities">densities</a><a href="#paper">the 2006 paper</a><a href="#variants">each variant</a></nav>
<section id="gallery" class="gallery">{pictures}</section>
<h2 id="glance">At a glance</h2>
<div class="scroll">{glance.to_html(escape=False, index_names=False)}</div>
{paragraphs}
<p>{html.escape(INTRO.format(judge=judge["test_accuracy"]))}</p>
{
        _folded(
            "Every figure of every variant",
            f'<div class="scroll">{display_table(table, spread.get("sd"), challengers=challengers).to_html()}</div>',
            "all-figures",
        )
    }
{
        _folded(
            "Generated digits: every density of every variant",
            f"<p>{html.escape(GENERATION_INTRO)}</p>"
            f'<div class="scroll">{densities.to_html(float_format=lambda v: f"{v:.3f}", na_rep="-")}</div>',
            "densities",
        )
    }
{
        _folded(
            "Against Hinton &amp; Salakhutdinov (2006)",
            paper_comparison(table).to_html(float_format=lambda v: f"{v:.3f}"),
            "paper",
        )
    }
<h2 id="variants">Each variant</h2>
<p>Each variant's figures are DVC outputs: they appear once the pipeline has run (<code>make repro</code>).</p>
{variants}
</body></html>
"""
