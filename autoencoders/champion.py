"""What an experiment is measured against: the champion's figure per variant and the rule that makes
an experiment's model a challenger. The report (reports/champion.json, kept in git like the seed
spread, so the stage needs no MLflow) and the registry (the @champion version's tag) apply the same rule.

reports/champion.json holds main's figures: `autoencoders champion --from-metrics` writes it from
reports/metrics.json, and `autoencoders champion VARIANT STATE` writes the chosen version's figure.
"""

from __future__ import annotations

FIGURE = "test_sq_error_per_image"  # the figure a challenger must beat the champion by
CHALLENGE_SDS = 2.0  # by more than this many seed sd: a difference the seeds alone do not make
FILE = "reports/champion.json"


def beats(champion: float, figure: float, sd: float | None) -> bool:
    """Whether a figure (lower is better) beats the champion's by more than CHALLENGE_SDS seed sd."""
    return sd is not None and champion - figure > CHALLENGE_SDS * sd


def from_metrics(headline: dict[str, float]) -> dict:
    """champion.json's content for the state whose headline metrics (reports/metrics.json) these are."""
    suffix = f".{FIGURE}"
    return {
        "figure": FIGURE,
        "values": {key.removesuffix(suffix): value for key, value in sorted(headline.items()) if key.endswith(suffix)},
    }


def challengers(champions: dict, figures: dict[str, float], spread_sd: dict[str, float]) -> list[str]:
    """The variants whose figure (variant -> FIGURE) beats champions' (champion.json's content)
    by the rule; spread_sd: reports/seed_spread.json's sd."""
    held = champions.get("values", {})
    return [
        name
        for name, figure in figures.items()
        if name in held and beats(held[name], figure, spread_sd.get(f"{name}.{FIGURE}"))
    ]
