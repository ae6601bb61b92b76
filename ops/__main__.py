"""Command line of the operations package:

  python -m ops team up      start the local team stack (PostgreSQL, an S3 store, an MLflow server)
  python -m ops team down    stop every process `team up` started
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autoencoders.errors import UserError

from . import team as stack


def team(args) -> None:
    root = Path.cwd()
    if args.action == "down":
        stack.down(root)
        print("team stack stopped (PostgreSQL's data stays in .team/postgres)")
        return
    state = stack.up(root)
    print(f"PostgreSQL on {stack.HOST}:{state['postgres']['port']} (MLflow's backend store), object store "
          f"http://{stack.HOST}:{state['s3']['port']} (bucket {stack.BUCKET}), MLflow server "
          f"http://{stack.HOST}:{state['mlflow']['port']}; DVC remote '{stack.DVC_REMOTE}' in .dvc/config.local")
    print("# run these in your shell:")
    print("\n".join(stack.exports(state)))


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m ops", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True)
    tm = commands.add_parser("team", help="start or stop the local team stack")
    tm.add_argument("action", choices=["up", "down"])
    tm.set_defaults(run=team)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except UserError as err:  # a piece of the stack missing or not coming up: one line
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
