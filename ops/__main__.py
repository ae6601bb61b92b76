"""Command line of the operations package, installed as `autoencoders-ops` (or python -m ops):

  autoencoders-ops team up      start the local team stack (PostgreSQL, an S3 store, an MLflow server)
  autoencoders-ops team down    stop every process `team up` started
  autoencoders-ops sweep --set "variants.mlp.latent_dim=8" --set "variants.mlp.latent_dim=32" --seeds 0 1 2
                                one experiment per set and seed on a Dask cluster (--scheduler tcp://HOST:PORT,
                                or a local one with --workers N), pulled back and compared

`team` needs the team extra and `sweep` the cluster extra: pip install -e '.[team,cluster]'.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autoencoders.__main__ import add_common, program
from autoencoders.errors import UserError, handled

from . import team as stack

# command -> (the extra that installs what it imports, those modules)
EXTRAS = {"team": ("team", ("psycopg2", "boto3", "moto")), "sweep": ("cluster", ("distributed", "dask"))}


class MissingExtra(UserError, ImportError):
    """A command's optional dependencies are not installed."""


def require_extra(command: str, prog: str) -> None:
    """Name the extra a command needs, before it does any work, where its modules are missing."""
    import importlib.util

    extra, modules = EXTRAS[command]
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtra(
            f"`{prog} {command}` needs the {extra} extra ({', '.join(missing)} not installed): "
            f"pip install -e '.[{extra}]'"
        )


def team(args) -> None:
    root = Path.cwd()
    if args.action == "down":
        stack.down(root)
        print("team stack stopped (PostgreSQL's data stays in .team/postgres)")
        return
    state = stack.up(root)
    print(
        f"PostgreSQL on {stack.HOST}:{state['postgres']['port']} (MLflow's backend store), object store "
        f"http://{stack.HOST}:{state['s3']['port']} (bucket {stack.BUCKET}), MLflow server "
        f"http://{stack.HOST}:{state['mlflow']['port']}; DVC remote '{stack.DVC_REMOTE}' in .dvc/config.local"
    )
    print("# run these in your shell:")
    print("\n".join(stack.exports(state)))


def sweep(args) -> int:
    import os

    from tqdm import tqdm

    from autoencoders.__main__ import main as autoencoders_cli

    from . import sweep as fan

    repo = Path.cwd()
    origin, baseline = fan.baseline_on_origin(repo)
    tasks = fan.plan(args.set, args.seeds, baseline, args.prefix)
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI")
    # a local cluster's workers share this machine's cores; a scheduler's each has its machine's own
    threads = args.threads or (None if args.scheduler else max(1, fan.cores() // args.workers))
    client = fan.connect(args.scheduler, args.workers)  # fails here, naming the address, before any work
    where = args.scheduler or f"a local cluster of {args.workers} worker(s) on 127.0.0.1"
    each = f"{threads} thread(s)" if threads else "all the cores of its machine"
    print(f"{len(tasks)} experiment(s) of {baseline[:7]} from {origin} on {where}, each on {each}", file=sys.stderr)
    try:
        with tqdm(total=len(tasks), desc="sweep", unit="experiment") as bar:
            outcomes = fan.submit(
                client, origin, baseline, tasks, tracking_uri, threads, progress=lambda name, outcome: bar.update()
            )
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None:
            cluster.close()
    overrides = {t.name: " ".join(t.overrides) for t in tasks}
    finished = [name for name, outcome in outcomes.items() if isinstance(outcome, dict)]
    for name in sorted(outcomes):
        outcome = outcomes[name]
        if isinstance(outcome, dict):
            print(
                f"{name} ({overrides[name]}): {outcome['status']} in {outcome['seconds']:.0f} s on {outcome['worker']}",
                file=sys.stderr,
            )
        else:
            print(f"{name} ({overrides[name]}) failed: {outcome}", file=sys.stderr)
    fan.gather(repo, finished)
    if finished:  # the rows that answer the sweep's question; every row one flag away
        autoencoders_cli(["compare", "--experiments", *sorted(finished), *([] if args.all_rows else ["--changed"])])
        if not args.all_rows:
            print(
                f"(rows that differ only; every row: autoencoders compare --experiments {' '.join(sorted(finished))})",
                file=sys.stderr,
            )
    return 1 if len(finished) < len(tasks) else 0


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return int(text)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog=program("ops", "autoencoders-ops"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(dest="command", required=True)
    tm = commands.add_parser("team", help="start or stop the local team stack")
    tm.add_argument("action", choices=["up", "down"])
    tm.set_defaults(run=team)

    sw = commands.add_parser("sweep", help="experiments on a Dask cluster, gathered through the git remote")
    sw.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="'KEY=VALUE ...'",
        help="one experiment's `dvc exp run -S` overrides, space-separated (repeat for more)",
    )
    sw.add_argument("--seeds", type=int, nargs="+", help="run every set once per seed (seed=N added)")
    sw.add_argument("--scheduler", help="a Dask scheduler, tcp://HOST:PORT (default: a local cluster)")
    sw.add_argument("--workers", type=positive, default=2, help="workers of the local cluster (default 2)")
    sw.add_argument(
        "--threads",
        type=positive,
        help="torch and BLAS threads of each experiment (default: a local "
        "cluster's share of this machine's cores; on a scheduler's workers, all of the worker machine's)",
    )
    sw.add_argument("--prefix", default="sweep", help="experiment names: PREFIX-<digest of baseline and overrides>")
    sw.add_argument("--all-rows", action="store_true", help="the summary's every row, not only those that differ")
    sw.set_defaults(run=sweep)
    add_common(top, commands, parser)
    return top


def main(argv: list[str] | None = None) -> int:
    top = parser()
    args = top.parse_args(argv)

    def command() -> int | None:
        if args.command in EXTRAS:
            require_extra(args.command, top.prog)
        return args.run(args)

    return handled(command)  # a piece of the stack missing, a scheduler that does not answer: one line


def cli() -> None:
    """The installed `autoencoders-ops` command."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
