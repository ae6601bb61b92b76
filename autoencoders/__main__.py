"""Command line of the library (not DVC stages), installed as `autoencoders` (or python -m autoencoders):

  autoencoders decode VARIANT --z 2,-4 -o out.png   decode one latent point to a PNG
  autoencoders compare [...]                         experiments side by side, seeds as mean ± sd
  autoencoders ui [--port 5000]                      MLflow's UI on this project's store
  autoencoders champion VARIANT STATE                move @champion to a pipeline state's registered model
  autoencoders champion --from-metrics               main's figures into reports/champion.json (the report's)
  autoencoders completion bash|zsh                   a shell completion script (source it)

The team stack's servers and sweeps start from the operations' command: autoencoders-ops.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .champion import FILE as CHAMPION_FILE
from .errors import UserError, handled


class UsageError(UserError, ValueError):
    """A command-line argument names something that does not exist or does not fit."""


def parse_point(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"--z: expected comma-separated numbers such as 2,-4, got {text!r}") from None


def decode_point(variant: str, point: list[float], models_dir: Path):
    """The image (28, 28) that VARIANT's decoder makes of one latent point."""
    from . import layout, models, runtime

    runtime.configure_torch()  # the stages' float modes (models imported torch)
    path = layout.model_file(models_dir, variant)
    if not path.is_file():
        trained = sorted(p.parent.name for p in models_dir.glob(f"*/{layout.MODEL}"))
        raise UsageError(f"no trained variant {variant!r} in {models_dir}/ (trained: {', '.join(trained) or 'none'})")
    try:
        model = models.load_checkpoint(path)
    except models.CheckpointError as err:
        raise UsageError(str(err)) from None
    if len(point) != model.latent_dim:
        raise UsageError(f"variant {variant} has a {model.latent_dim}-d latent space, got {len(point)} values")
    return model.decode_codes([point]).view(28, 28).numpy()


def decode(args) -> None:
    from . import plots

    image = decode_point(args.variant, parse_point(args.z), args.models)
    plots.save(plots.single_image(image, f"{args.variant} at z = {args.z}"), args.out)
    print(f"wrote {args.out}")


def compare(args) -> None:
    from . import compare as cmp
    from . import io, plots
    from .report import HEADLINE, LABELS

    runs = cmp.load_runs(args.repo, args.all_commits, args.rev)
    if args.experiments:
        runs = cmp.select(runs, args.experiments)
    if len(runs) == sum(1 for r in runs if r.baseline == r.rev):  # baselines only
        others = cmp.other_baselines(args.repo, runs[0])
        hint = "".join(f"; {n} experiment(s) are based on {c} (`--rev {c}` shows them)" for c, n in others.items())
        print(
            f"no experiments on {runs[0].name} ({runs[0].rev[:7]}) yet: run `dvc exp run -S seed=1`, or queue "
            f"several with `dvc exp run --queue -S ...` and `dvc queue start`{hint}",
            file=sys.stderr,
        )
        if args.x:
            raise cmp.CompareError("a sweep needs experiments")
    done, messages = cmp.usable(runs)
    groups, more = cmp.seed_groups(done)
    for message in messages + more:
        print(message, file=sys.stderr)
    variants = args.variants or cmp.variants_of(done)
    if args.x:
        result = cmp.sweep(done, args.x, args.y, variants)
        out = Path(args.out or f"reports/sweep_{args.y}")
        markdown = cmp.sweep_markdown(result)
        io.write_text(out.with_suffix(".md"), markdown)
        label = LABELS.get(args.y, args.y)
        plots.save(plots.sweep_plot(result.points, args.x, label, f"{label} against {args.x}"), out.with_suffix(".png"))
        print(markdown + f"\nwrote {out.with_suffix('.png')} and {out.with_suffix('.md')}")
    else:
        spread_file = args.repo / "reports" / "seed_spread.json"
        spread_sd = io.read_json(spread_file).get("sd", {}) if spread_file.is_file() else {}
        print(cmp.table(groups, variants, args.figures or list(HEADLINE), args.changed, spread_sd))
    if args.save_spread:
        if len(groups[0].runs) < 2:
            raise cmp.CompareError(
                f"--save-spread: {groups[0].label} has no seed repeats; queue some with "
                f"`dvc exp run --queue -S seed=1` (and 2, ...) and `dvc queue start`"
            )
        io.write_json(args.save_spread, cmp.spread(groups[0]))
        print(f"wrote {args.save_spread}: sd over {len(groups[0].runs)} seeds of {groups[0].label}")


def ui(args) -> None:
    import json
    import os
    import shutil
    import urllib.parse

    from . import publish, tracking

    uri, _ = tracking.store()
    ids = publish.experiment_ids()
    base = (uri if uri.startswith(("http://", "https://")) else f"http://{args.host}:{args.port}").rstrip("/")
    for name, experiment_id in ids.items():  # workflowType: see tracking.EXPERIMENT_KIND
        print(f"{name}: {base}/#/experiments/{experiment_id}?workflowType=machine_learning")
    if args.compare:
        runs = publish.variant_runs(args.compare, args.states)
        if len(runs) < 2:
            raise UsageError(
                f"--compare {args.compare}: {len(runs)} pipeline state(s) logged this variant"
                f"{' among ' + ', '.join(args.states) if args.states else ''}; two are needed"
            )
        print(
            f"{args.compare} in {', '.join(runs.values())}: {base}/#/compare-runs?runs="
            f"{urllib.parse.quote(json.dumps(list(runs)))}&experiments={urllib.parse.quote(json.dumps([ids[tracking.EXPERIMENT]]))}"
        )
    sys.stdout.flush()
    if base == uri or args.links_only:
        return  # a tracking server already serves the UI, or the links were all that was asked
    mlflow = shutil.which("mlflow") or str(Path(sys.executable).with_name("mlflow"))
    # browsing needs no server-side jobs (GenAI scorers); they would start seven busy worker processes
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    os.execv(mlflow, [mlflow, "ui", "--backend-store-uri", uri, "--host", args.host, "--port", str(args.port)])


def champion(args) -> None:
    from . import champion as rule
    from . import io

    held = io.read_json(args.file) if args.file.is_file() else {"figure": rule.FIGURE, "values": {}}
    if args.from_metrics:
        if args.variant:
            raise UsageError("champion: give either VARIANT STATE or --from-metrics, not both")
        if not args.from_metrics.is_file():
            raise UsageError(f"--from-metrics: {args.from_metrics} not found (`dvc repro` writes it)")
        held = rule.from_metrics(io.read_json(args.from_metrics))
    elif not args.state:
        raise UsageError("champion: give VARIANT STATE (a DVC experiment's name, or workspace), or --from-metrics")
    else:
        from . import registry, tracking

        with tracking.store_lock(), tracking.server_requests():
            client, experiment = tracking.connect(tracking.EXPERIMENT)
            version = registry.crown(client, experiment, args.variant, args.state)
        print(f"@champion is now {version.name} version {version.version}")
        held["values"][args.variant] = float(version.tags[rule.FIGURE])
    io.write_json(args.file, held)
    print(f"wrote {args.file}: the figures an experiment's report is measured against (dvc repro re-runs report)")


def version() -> str:
    """The installed distribution's version (pyproject.toml's), not a copy of it."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("autoencoders")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed: pip install -e .)"


def program(module: str, installed: str) -> str:
    """How the user called us: the console script's name, or `python -m module`."""
    return f"python -m {module}" if Path(sys.argv[0]).name == "__main__.py" else installed


def add_common(top: argparse.ArgumentParser, commands, build) -> None:
    """--version, and a `completion` command printing a bash or zsh script for the parser build() makes."""
    top.add_argument("--version", action="version", version=f"%(prog)s {version()}")

    def completion(args) -> None:
        import shtab

        print(shtab.complete(build(), shell=args.shell))

    comp = commands.add_parser(
        "completion", help=f'print a shell completion script, e.g. `eval "$({top.prog} completion bash)"`'
    )
    comp.add_argument("shell", choices=["bash", "zsh"])
    comp.set_defaults(run=completion)


def parser() -> argparse.ArgumentParser:
    from .report import HEADLINE

    top = argparse.ArgumentParser(
        prog=program("autoencoders", "autoencoders"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(dest="command", required=True)
    dec = commands.add_parser("decode", help="decode one latent point of a trained variant to a PNG")
    dec.add_argument("variant")
    dec.add_argument("--z", required=True, help="the point, comma-separated, e.g. 2,-4")
    dec.add_argument("-o", "--out", required=True)
    dec.add_argument("--models", type=Path, default=Path("models"), help="folder of trained variants")
    dec.set_defaults(run=decode)

    cmp = commands.add_parser("compare", help="the headline figures of the baseline and its DVC experiments")
    cmp.add_argument("--repo", type=Path, default=Path("."))
    cmp.add_argument("--experiments", nargs="+", metavar="NAME", help="only these experiments (and the baseline)")
    cmp.add_argument("--variants", nargs="+", help="variants to show (default: all)")
    cmp.add_argument("--figures", nargs="+", choices=list(HEADLINE), help="headline figures to show (default: all)")
    cmp.add_argument("--changed", action="store_true", help="only rows where the experiments differ")
    cmp.add_argument("--rev", help="the baseline commit whose experiments to show (default: HEAD)")
    cmp.add_argument("--all-commits", action="store_true", help="the experiments of every commit")
    cmp.add_argument("--x", help="sweep: the param that varies, e.g. variants.conv30.latent_dim")
    cmp.add_argument("--y", choices=list(HEADLINE), default="test_sq_error_per_image", help="sweep: the figure")
    cmp.add_argument("--out", help="sweep: path prefix of the .png and .md (default reports/sweep_<y>)")
    cmp.add_argument("--save-spread", type=Path, help="write the baseline's seed spread (reports/seed_spread.json)")
    cmp.set_defaults(run=compare)

    mlf = commands.add_parser("ui", help="MLflow's UI on this project's store, with links that open the runs")
    mlf.add_argument("--host", default="127.0.0.1")
    mlf.add_argument("--port", type=int, default=5000)
    mlf.add_argument("--links-only", action="store_true", help="print the links, start no server")
    mlf.add_argument("--compare", metavar="VARIANT", help="also link a side-by-side view of this variant's runs")
    mlf.add_argument(
        "--states",
        nargs="+",
        metavar="NAME",
        help="with --compare: only these pipeline states (DVC experiment names, or workspace)",
    )
    mlf.set_defaults(run=ui)

    crown = commands.add_parser("champion", help="move a registered model's @champion to a pipeline state's version")
    crown.add_argument("variant", nargs="?")
    crown.add_argument("state", nargs="?", help="a DVC experiment's name, or workspace")
    crown.add_argument(
        "--from-metrics",
        type=Path,
        nargs="?",
        const=Path("reports/metrics.json"),
        metavar="JSON",
        help="instead: every variant's figure from a state's headline metrics (default reports/metrics.json)",
    )
    crown.add_argument("--file", type=Path, default=Path(CHAMPION_FILE), help="the champion's figures, kept in git")
    crown.set_defaults(run=champion)

    add_common(top, commands, parser)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return handled(args.run, args)  # a bad argument, param, file or server: one line; a bug keeps its traceback


def cli() -> None:
    """The installed `autoencoders` command."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
