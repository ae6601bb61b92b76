"""track: mirror this pipeline state into MLflow (a parent run and one child run per variant).

Reads everything the report shows and what it was made from, the checkpoints and the train split.
Writes nothing DVC tracks: with no outputs, this stage is never restored from DVC's run-cache, so
MLflow always ends up holding the state DVC just produced, even when every other stage came from
the cache. The state digest keys the parent run, so a state is logged once however often it is
reached; a variant whose results an earlier state logged already is linked to them, not logged again.
"""

import argparse
from pathlib import Path

from autoencoders import io, params, publish, registry, report, runtime, tracking


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--variants", type=Path, required=True)
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--reports", type=Path, nargs="+", required=True)
    parser.add_argument("--gallery", type=Path, required=True, help="the report's gallery: a folder of PNGs")
    parser.add_argument("--metrics", type=Path, required=True, help="the headline metrics (reports/metrics.json)")
    parser.add_argument("--spread", type=Path, required=True, help="the seed spread: what a challenger must beat")
    parser.add_argument(
        "--report-inputs",
        type=Path,
        nargs="+",
        required=True,
        help="what the report reads beyond the variants' folders (the judge's figures, the seed spread)",
    )
    args = parser.parse_args()
    p = params.load(args.params)
    table = report.comparison_table(args.variants, {name: v.family for name, v in p.variants.items()})
    reports = [*args.reports, args.metrics, *sorted(args.gallery.glob("*.png"))]
    # the state: params, models and what the report is made from; not the rendered reports, which
    # also show the timings, so the same results reached again are the same state
    state = publish.state_digest([Path(args.params), args.variants, args.models, *args.report_inputs])
    run_id, versions = publish.publish(
        state,
        table,
        p,
        args.variants,
        args.models,
        args.split,
        reports,
        io.read_json(args.metrics),
        io.read_json(args.spread).get("sd", {}),
    )
    print(f"MLflow: pipeline state {state} is parent run {run_id} at {tracking.store()[0]}")
    for variant, (version, alias) in sorted(versions.items()):
        print(f"  {registry.model_name(variant)} version {version}" + (f" @{alias}" if alias else ""))


if __name__ == "__main__":
    runtime.run(main)
