"""Experiments side by side: the headline figures of every DVC experiment, seed repeats as mean ± sd.

Reads `dvc exp show --json` (the baseline commit and its experiments); never runs a stage. Two runs
whose params differ only in `seed` measure the same thing: grouped, they show how much a figure
moves by chance, which is what any other difference has to beat.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import io
from .errors import UserError
from .report import HEADLINE, JUDGE_HEADLINES

METRICS_FILE = "reports/metrics.json"
PARAMS_FILE = "params.yaml"
SEED = "seed"


class CompareError(UserError, ValueError):
    """The experiments cannot be compared as asked; the message says why and what to do."""


@dataclass
class Run:
    """The baseline commit or one experiment on it."""

    name: str
    rev: str
    baseline: str  # the commit it was run from
    state: str  # success, queued, running, failed
    params: dict = field(default_factory=dict)  # flat dotted keys
    metrics: dict = field(default_factory=dict)  # `<variant>.<figure>` -> value


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value  # list params compare and group as tuples


def _run(entry: dict, baseline: str, state: str) -> Run:
    data = entry.get("data") or {}
    params = ((data.get("params") or {}).get(PARAMS_FILE) or {}).get("data") or {}
    metrics = (data.get("metrics") or {}).get(METRICS_FILE) or {}
    if entry.get("error") or "error" in metrics:
        state = "failed" if state == "success" else state
    return Run(
        name=entry.get("name") or entry["rev"][:7],
        rev=entry["rev"],
        baseline=baseline,
        state=state,
        params=io.flatten(params, leaf=_hashable),
        metrics=metrics.get("data") or {},
    )


def parse_exp_show(rows: list[dict]) -> list[Run]:
    """Runs from `dvc exp show --json`: each baseline commit (not the workspace) and its experiments."""
    runs = []
    for row in rows:
        if row["rev"] == "workspace":
            continue
        runs.append(_run(row, row["rev"], "success"))
        for exp in row.get("experiments") or []:
            state = ((exp.get("executor") or {}).get("state") or "success").lower()
            runs.append(_run({**exp["revs"][0], "name": exp.get("name")}, row["rev"], state))
    return runs


def dvc() -> str:
    """The dvc beside the running interpreter (`.venv/bin/python -m autoencoders` works without the venv
    on PATH), else the one on PATH."""
    beside = Path(sys.executable).with_name("dvc")
    found = str(beside) if beside.is_file() else shutil.which("dvc")
    if not found:
        raise CompareError(f"dvc is neither beside {sys.executable} nor on PATH: install the project (make setup)")
    return found


def load_runs(repo: Path, all_commits: bool = False, rev: str | None = None) -> list[Run]:
    """The baseline (HEAD, or rev) and its experiments; with all_commits, those of every commit."""
    cmd = [dvc(), "exp", "show", "--json", *(["--all-commits"] if all_commits else ["--rev", rev] if rev else [])]
    result = subprocess.run(cmd, cwd=repo, capture_output=True, text=True)
    if result.returncode != 0:
        raise CompareError(f"`dvc {' '.join(cmd[1:])}` failed in {repo}: {result.stderr.strip()}")
    return parse_exp_show(json.loads(result.stdout))


def other_baselines(repo: Path, baseline: Run) -> dict[str, int]:
    """Commits other than the baseline's that have finished experiments: label -> how many."""
    result = subprocess.run([dvc(), "exp", "list", "--all-commits"], cwd=repo, capture_output=True, text=True)
    counts, current = {}, None
    for line in result.stdout.splitlines():
        if line.endswith(":") and not line[0].isspace():  # a baseline: its branch name or short sha
            current = line[:-1]
        elif line.strip() and current not in (None, baseline.name) and not baseline.rev.startswith(current):
            counts[current] = counts.get(current, 0) + 1
    return counts


def select(runs: list[Run], names: list[str]) -> list[Run]:
    """The baselines and the named experiments; an unknown name is an error that lists the known ones."""
    known = {r.name for r in runs if r.rev != r.baseline}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CompareError(
            f"--experiments: no experiment {', '.join(unknown)} (known: {', '.join(sorted(known)) or 'none'})"
        )
    return [r for r in runs if r.rev == r.baseline or r.name in names]


# --- which runs count, and how they group ------------------------------------------------------


def usable(runs: list[Run]) -> tuple[list[Run], list[str]]:
    """(runs with results, a message for every run left out); raises if none is left."""
    done, messages = [], []
    for run in runs:
        if run.state == "success" and run.metrics:
            done.append(run)
        elif run.rev == run.baseline:
            messages.append(
                f"the baseline {run.name} ({run.rev[:7]}) has no {METRICS_FILE}: left out "
                f"(`dvc repro`, then commit dvc.lock and the metrics)"
            )
        elif run.state in ("queued", "running"):
            messages.append(
                f"experiment {run.name} is {run.state}, not finished: left out "
                f"(`dvc queue status`; `dvc queue start` runs what is queued)"
            )
        else:
            messages.append(
                f"experiment {run.name} failed: left out (`dvc queue logs {run.name}` shows why, "
                f"for a queued run; `dvc exp remove {run.name}` drops it)"
            )
    if not done:
        raise CompareError("nothing to compare: " + "; ".join(messages))
    return done, messages


def _key(run: Run, leave_out: set[str]) -> tuple:
    return (run.baseline, tuple(sorted((k, repr(v)) for k, v in run.params.items() if k not in leave_out)))


@dataclass
class Group:
    """Runs that differ only in seed (one run, or seed repeats)."""

    runs: list[Run]

    @property
    def label(self) -> str:
        names = ", ".join(r.name for r in self.runs)
        return (
            names if len(self.runs) == 1 else f"{names} (seeds {', '.join(str(r.params.get(SEED)) for r in self.runs)})"
        )

    def values(self, metric: str) -> list[float]:
        return [r.metrics[metric] for r in self.runs if isinstance(r.metrics.get(metric), (int, float))]

    def summary(self, metric: str) -> tuple[float, float | None, int] | None:
        """(mean, sd or None for a single run, n) of a metric, or None where no run has it."""
        values = self.values(metric)
        if not values:
            return None
        return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None), len(values)


def seed_groups(runs: list[Run]) -> tuple[list[Group], list[str]]:
    """Group runs whose params differ only in seed (the first run, the baseline, leads the first group);
    say which runs changed seed together with other params, since those cannot be grouped."""
    groups: dict[tuple, Group] = {}
    for run in runs:
        groups.setdefault(_key(run, {SEED}), Group([])).runs.append(run)
    baseline = runs[0]
    messages = []
    for group in groups.values():
        run = group.runs[0]
        if (
            len(group.runs) == 1
            and run.baseline == baseline.baseline
            and run.params.get(SEED) != baseline.params.get(SEED)
        ):
            changed = [
                k
                for k in sorted(set(run.params) | set(baseline.params))
                if k != SEED and run.params.get(k) != baseline.params.get(k)
            ]
            messages.append(
                f"experiment {run.name} changes seed together with {', '.join(changed)}: shown on its "
                f"own, not as a seed repeat (vary only `seed` to measure noise)"
            )
    return list(groups.values()), messages


# --- the table ---------------------------------------------------------------------------------


def cell(summary) -> str:
    """mean ± sd (n) of a group, its value for a single run, - where missing."""
    if summary is None:
        return "-"
    mean, sd, n = summary
    return f"{mean:.4g}" if sd is None else f"{mean:.4g} ± {sd:.2g} ({n})"


def variants_of(runs: list[Run]) -> list[str]:
    """The variants with headline figures, in params.yaml's order."""
    measured = {m.rpartition(".")[0] for run in runs for m in run.metrics}
    seen = []
    for run in runs:
        for key in run.params:
            name = key.split(".")[1] if key.startswith("variants.") else None
            if name in measured and name not in seen:
                seen.append(name)
    return seen


def differences(groups: list[Group]) -> dict[int, str]:
    """For each group (by index), the params it sets differently from the first group, seed aside."""
    first = groups[0].runs[0].params
    out = {}
    for i, group in enumerate(groups):
        params = group.runs[0].params
        changed = [
            f"{k}={params.get(k)!r}"
            for k in sorted(set(params) | set(first))
            if k != SEED and params.get(k) != first.get(k)
        ]
        out[i] = ", ".join(changed) or "the baseline's params"
    return out


def challenges(groups: list[Group], metric: str, spread_sd: dict[str, float]) -> list[bool]:
    """Per group: whether it beats the first group (the baseline, whose workspace state on main holds
    the registry's @champion) by champion.py's rule, by which track gives a model @challenger."""
    from .champion import FIGURE, beats

    base = groups[0].summary(metric)
    if not metric.endswith(f".{FIGURE}") or base is None:
        return [False] * len(groups)
    return [
        i > 0 and (s := g.summary(metric)) is not None and beats(base[0], s[0], spread_sd.get(metric))
        for i, g in enumerate(groups)
    ]


def table(
    groups: list[Group],
    variants: list[str],
    figures: list[str],
    changed_only: bool = False,
    spread_sd: dict[str, float] | None = None,
) -> str:
    """Markdown: one row per variant and figure, one column per group (A, B, ...), with a legend; a
    challenger of the baseline marked (spread_sd: reports/seed_spread.json's sd)."""
    letters = [chr(ord("A") + i) if i < 26 else f"G{i}" for i in range(len(groups))]
    rows = [(v, f, f"{v}.{f}") for v in variants for f in figures] + [
        tuple(key.split(".")) + (key,) for key in JUDGE_HEADLINES
    ]
    lines = ["| variant | figure | " + " | ".join(letters) + " |", "|---|---|" + "---|" * len(groups)]
    for variant, figure, metric in rows:
        summaries = [g.summary(metric) for g in groups]
        if not any(summaries) or changed_only and len({s and f"{s[0]:.4g}" for s in summaries}) == 1:
            continue
        cells = [
            cell(s) + (" (challenger)" if won else "")
            for s, won in zip(summaries, challenges(groups, metric, spread_sd or {}))
        ]
        lines.append(f"| {variant} | {figure} | " + " | ".join(cells) + " |")
    diff = differences(groups)
    legend = [f"{letters[i]}: {g.label}: {diff[i]}" for i, g in enumerate(groups)]
    return "\n".join(legend) + "\n\n" + "\n".join(lines)


def spread(group: Group) -> dict:
    """What reports/seed_spread.json holds: the sd of every headline figure over the group's seeds."""
    metrics = sorted({m for r in group.runs for m in r.metrics})
    stats = {m: group.summary(m) for m in metrics}
    return {
        "n": len(group.runs),
        "seeds": [r.params.get(SEED) for r in group.runs],
        "runs": [r.name for r in group.runs],
        "baseline": group.runs[0].baseline,
        "mean": {m: s[0] for m, s in stats.items() if s},
        "sd": {m: s[1] for m, s in stats.items() if s and s[1] is not None},
    }


# --- sweeps -------------------------------------------------------------------------------------


@dataclass
class Sweep:
    x: str
    y: str
    points: dict[str, list[tuple[float, float, float | None, int]]]  # variant -> (x, mean, sd, n), by x
    also_varied: list[str]  # params that change with x (fixed at each x value)


def sweep(runs: list[Run], x: str, y: str, variants: list[str]) -> Sweep:
    """A headline figure (y) against one param (x): runs at the same x differ only in seed."""
    if y not in HEADLINE:
        raise CompareError(f"--y: unknown figure {y!r} (headline figures: {', '.join(HEADLINE)})")
    missing = [r.name for r in runs if x not in r.params]
    if missing:
        known = sorted({k for r in runs for k in r.params})
        close = [k for k in known if k.endswith(x.rpartition(".")[2])][:5]
        raise CompareError(
            f"--x: no param {x!r} in {', '.join(missing)}" + (f" (did you mean {', '.join(close)}?)" if close else "")
        )
    by_x: dict = {}
    for run in runs:
        by_x.setdefault(run.params[x], []).append(run)
    if len(by_x) < 2:
        raise CompareError(
            f"--x {x}: every experiment has {x}={runs[0].params[x]!r}; a sweep needs at least two "
            f"values (e.g. `dvc exp run --queue -S {x}=...` for each)"
        )
    also = set()
    for value, at_x in by_x.items():
        keys = {_key(r, {SEED, x}) for r in at_x}
        if len(keys) > 1:
            a, b = at_x[0], next(r for r in at_x if _key(r, {SEED, x}) != _key(at_x[0], {SEED, x}))
            conflict = sorted(
                k for k in set(a.params) | set(b.params) if k not in (SEED, x) and a.params.get(k) != b.params.get(k)
            )
            raise CompareError(
                f"at {x}={value!r}, experiments {a.name} and {b.name} also differ in "
                f"{', '.join(conflict)}: a sweep varies one param (and seed); remove one with "
                f"`dvc exp remove`, or compare them with the table instead"
            )
    firsts = [at_x[0] for at_x in by_x.values()]
    for k in {k for r in firsts for k in r.params} - {SEED, x}:
        if len({repr(r.params.get(k)) for r in firsts}) > 1:
            also.add(k)
    points = {}
    for variant in variants:
        metric = f"{variant}.{y}"
        series = []
        for value in sorted(by_x):
            summary = Group(by_x[value]).summary(metric)
            if summary:
                series.append((value, *summary))
        if series:
            points[variant] = series
    if not points:
        raise CompareError(f"no experiment has {y} for {', '.join(variants)}")
    return Sweep(x=x, y=y, points=points, also_varied=sorted(also))


def sweep_markdown(result: Sweep) -> str:
    xs = sorted({p[0] for series in result.points.values() for p in series})
    lines = [f"| {result.x} | " + " | ".join(result.points) + " |", "|---|" + "---|" * len(result.points)]
    for x in xs:
        cells = []
        for series in result.points.values():
            found = next((p for p in series if p[0] == x), None)
            cells.append(cell(found[1:]) if found else "-")
        lines.append(f"| {x} | " + " | ".join(cells) + " |")
    note = f"\n\n{result.y} against {result.x}"
    if result.also_varied:
        note += f"; changed with it: {', '.join(result.also_varied)}"
    return "\n".join(lines) + note + "\n"
