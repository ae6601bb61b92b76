"""report: compare every variant in one table; write the headline metrics, summary.md and index.html.

Reads: VARIANTS/V/*.json and figures for every variant in params.yaml, the judge's metrics and floor, and the
seed spread of the headline figures (measured by `autoencoders compare --save-spread`) and main's
champion figures (reports/champion.json), which mark an experiment's challengers.
Writes: metrics.json (the only DVC metrics: `<variant>.<figure>` headline figures), summary.md and
index.html, which links the figures relatively, so the reports folder can be opened or moved as it is.
"""

import argparse
import os
from pathlib import Path

import pandas as pd

from autoencoders import champion, data, gallery, io, layout, params, plots, report, runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--variants", type=Path, required=True)
    parser.add_argument("--judge-metrics", required=True)
    parser.add_argument("--floor", required=True, help="the floor stage's JSON: real images' figures")
    parser.add_argument("--spread", required=True, help="sd of the headline figures over seeds (JSON)")
    parser.add_argument("--champion", required=True, help="main's figures a challenger must beat (champion.py)")
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--markdown", required=True)
    parser.add_argument("--html", type=Path, required=True)
    parser.add_argument("--loss-curves", type=Path, required=True, help="prefix for the .csv and .png")
    parser.add_argument("--gallery", type=Path, required=True, help="out: folder of the gallery's PNGs (kept in git)")
    args = parser.parse_args()
    p = params.load(args.params)
    table = report.comparison_table(args.variants, {name: v.family for name, v in p.variants.items()})
    judge = {**io.read_json(args.judge_metrics), **io.read_json(args.floor)}
    densities = report.density_table(args.variants, list(p.variants), judge)
    spread = io.read_json(args.spread)
    challengers = champion.challengers(
        io.read_json(args.champion), table[champion.FIGURE].to_dict(), spread.get("sd", {})
    )
    figures = {
        name: sorted(
            os.path.relpath(f, args.html.parent)
            for f in [*(args.variants / name / layout.FIGURES).glob("*.png"), args.variants / name / layout.GENERATED]
        )
        for name in p.variants
    }
    trained = {
        name: io.read_history(args.variants / name / layout.HISTORY)
        for name, v in p.variants.items()
        if v.family != "pca"
    }  # PCA has no epochs
    long = pd.DataFrame([{"variant": name, **row} for name, rows in trained.items() for row in rows])
    io.write_text(args.loss_curves.with_suffix(".csv"), long.to_csv(index=False))
    plots.save(
        plots.loss_curves(trained, "Training (dashed) and validation loss, each in its own loss units"),
        args.loss_curves.with_suffix(".png"),
    )
    arrays = {name: data.load_npz(args.variants / name / gallery.ARRAYS) for name in p.variants}
    with io.atomic_dir(args.gallery) as tmp:
        for name, fig in gallery.figures(arrays, table, judge["fd_judge_floor"]).items():
            plots.save(fig, tmp / f"{name}.png")
    pictures = {
        os.path.relpath(args.gallery / f"{name}.png", args.html.parent): title for name, title in gallery.NAMES.items()
    }
    explorers = {
        name: os.path.relpath(args.variants / name / gallery.EXPLORER, args.html.parent) for name in p.variants
    }
    io.write_json(args.metrics, report.headline_metrics(table, judge))
    io.write_text(args.markdown, report.summary_markdown(table, judge, densities, spread, challengers))
    io.write_text(
        args.html, report.summary_html(table, judge, densities, figures, pictures, explorers, spread, challengers)
    )
    print(report.to_markdown(report.display_table(table, spread.get("sd"), challengers=challengers)))


if __name__ == "__main__":
    runtime.run(main)
