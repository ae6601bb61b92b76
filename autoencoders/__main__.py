"""Command line: `python -m autoencoders decode VARIANT --z 2,-4 -o out.png`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import models, plots


class UsageError(ValueError):
    """A command-line argument names something that does not exist or does not fit."""


def parse_point(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"--z: expected comma-separated numbers such as 2,-4, got {text!r}") from None


def decode_point(variant: str, point: list[float], models_dir: Path):
    """The image (28, 28) that VARIANT's decoder makes of one latent point."""
    path = models_dir / variant / "model.pt"
    if not path.is_file():
        trained = sorted(p.parent.name for p in models_dir.glob("*/model.pt"))
        raise UsageError(f"no trained variant {variant!r} in {models_dir}/ (trained: {', '.join(trained) or 'none'})")
    model = models.load_checkpoint(path)
    if len(point) != model.latent_dim:
        raise UsageError(f"variant {variant} has a {model.latent_dim}-d latent space, got {len(point)} values")
    return model.decode_codes([point]).view(28, 28).numpy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autoencoders")
    commands = parser.add_subparsers(dest="command", required=True)
    dec = commands.add_parser("decode", help="decode one latent point of a trained variant to a PNG")
    dec.add_argument("variant")
    dec.add_argument("--z", required=True, help="the point, comma-separated, e.g. 2,-4")
    dec.add_argument("-o", "--out", required=True)
    dec.add_argument("--models", type=Path, default=Path("models"), help="folder of trained variants")
    args = parser.parse_args(argv)
    try:
        point = parse_point(args.z)
        image = decode_point(args.variant, point, args.models)
    except (UsageError, models.CheckpointError) as err:
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        return 2
    plots.save(plots.single_image(image, f"{args.variant} at z = {args.z}"), args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
