"""`python -m autoencoders compare`: experiments side by side, seed repeats as mean ± sd, sweeps.

The grouping rules run on `dvc exp show --json`-shaped data; the end-to-end test queues real seed
experiments with `dvc exp run --queue` and `dvc queue start` (tests/test_robustness.py).
"""

import json
import os
import subprocess
import sys

import pytest

from autoencoders import compare
from tests.helpers import run


def entry(name, params, metrics, rev=None, error=None):
    data = {
        "params": {"params.yaml": {"data": params}},
        "metrics": {"reports/metrics.json": {"data": metrics}} if metrics is not None else {},
    }
    return {"rev": rev or f"{name:0<40}", "name": name, "data": data, "error": error}


def experiment(name, params, metrics, state="success"):
    return {
        "name": name,
        "executor": None if state == "success" else {"state": state},
        "revs": [entry(name, params, metrics)],
    }


def params(seed=0, dim=30, pca_dim=30):
    return {"seed": seed, "variants": {"conv30": {"latent_dim": dim}, "pca30": {"latent_dim": pca_dim}}}


def metrics(err, pca_err=12.0):
    return {
        "conv30.test_sq_error_per_image": err,
        "pca30.test_sq_error_per_image": pca_err,
        "judge.test_accuracy": 0.99,
    }


def exp_show(*experiments):
    base = entry("main", params(), metrics(3.0))
    base["experiments"] = list(experiments)
    return [{"rev": "workspace", "name": None, "data": {}, "error": None, "experiments": None}, base]


def groups_of(rows):
    done, messages = compare.usable(compare.parse_exp_show(rows))
    groups, more = compare.seed_groups(done)
    return groups, messages + more


def test_seed_repeats_group_into_mean_sd_and_n():
    groups, messages = groups_of(
        exp_show(
            experiment("s1", params(seed=1), metrics(3.2)),
            experiment("s2", params(seed=2), metrics(3.4)),
            experiment("wide", params(dim=60), metrics(2.0)),
        )
    )
    assert messages == []
    assert [len(g.runs) for g in groups] == [3, 1]
    mean, sd, n = groups[0].summary("conv30.test_sq_error_per_image")
    assert (round(mean, 6), round(sd, 6), n) == (3.2, 0.2, 3)
    text = compare.table(groups, ["conv30", "pca30"], ["test_sq_error_per_image"])
    assert "| conv30 | test_sq_error_per_image | 3.2 ± 0.2 (3) | 2 |" in text
    assert "B: wide: variants.conv30.latent_dim=60" in text
    assert "| pca30 | test_sq_error_per_image | 12 ± 0 (3) | 12 |" in text
    changed = compare.table(groups, ["conv30", "pca30"], ["test_sq_error_per_image"], changed_only=True)
    assert "pca30" not in changed and "conv30" in changed


def test_an_experiment_that_beats_the_baseline_by_two_seed_sd_is_marked_challenger():
    groups, _ = groups_of(
        exp_show(experiment("close", params(dim=40), metrics(2.7)), experiment("clear", params(dim=60), metrics(2.0)))
    )
    sd = {"conv30.test_sq_error_per_image": 0.2}  # close: 0.3 better (1.5 sd); clear: 1.0 better (5 sd)
    text = compare.table(groups, ["conv30"], ["test_sq_error_per_image"], spread_sd=sd)
    assert "| conv30 | test_sq_error_per_image | 3 | 2.7 | 2 (challenger) |" in text
    assert "(challenger)" not in compare.table(groups, ["conv30"], ["test_sq_error_per_image"])  # no spread, no claim


def test_failed_and_queued_experiments_are_left_out_with_a_reason():
    groups, messages = groups_of(
        exp_show(
            experiment("q", params(seed=5), None, state="queued"),
            experiment("r", params(seed=6), None, state="running"),
            experiment("f", params(dim=99), None, state="failed"),
            experiment("s1", params(seed=1), metrics(3.1)),
        )
    )
    assert [len(g.runs) for g in groups] == [2]
    assert any(m.startswith("experiment q is queued, not finished") and "dvc queue start" in m for m in messages)
    assert any(m.startswith("experiment r is running") for m in messages)
    assert any(m.startswith("experiment f failed: left out") and "dvc queue logs f" in m for m in messages)


def test_seed_changed_together_with_another_param_is_not_a_repeat():
    groups, messages = groups_of(exp_show(experiment("mixed", params(seed=3, dim=10), metrics(5.0))))
    assert [len(g.runs) for g in groups] == [1, 1]
    assert messages == [
        "experiment mixed changes seed together with variants.conv30.latent_dim: shown on its "
        "own, not as a seed repeat (vary only `seed` to measure noise)"
    ]


def test_nothing_finished_is_an_error_that_says_why():
    rows = exp_show(experiment("q", params(seed=5), None, state="queued"))
    rows[1]["data"]["metrics"] = {"reports/metrics.json": {"error": {"type": "FileNotFoundError"}}}
    with pytest.raises(
        compare.CompareError, match="nothing to compare: the baseline main .* has no reports/metrics.json"
    ):
        compare.usable(compare.parse_exp_show(rows))


def test_sweep_against_code_size_with_seed_error_bars():
    runs, _ = compare.usable(
        compare.parse_exp_show(
            exp_show(
                experiment("d2", params(dim=2, pca_dim=2), metrics(30.0, 40.0)),
                experiment("d10", params(dim=10, pca_dim=10), metrics(8.0, 25.0)),
                experiment("d10s1", params(seed=1, dim=10, pca_dim=10), metrics(9.0, 25.0)),
            )
        )
    )
    result = compare.sweep(runs, "variants.conv30.latent_dim", "test_sq_error_per_image", ["conv30", "pca30"])
    assert [p[0] for p in result.points["conv30"]] == [2, 10, 30]
    assert result.points["conv30"][1][1:] == (8.5, pytest.approx(0.7071, abs=1e-4), 2)
    assert result.also_varied == ["variants.pca30.latent_dim"]
    markdown = compare.sweep_markdown(result)
    assert "| 10 | 8.5 ± 0.71 (2) | 25 ± 0 (2) |" in markdown


def test_sweep_refuses_two_params_that_vary_independently():
    runs, _ = compare.usable(
        compare.parse_exp_show(
            exp_show(
                experiment("a", params(dim=10, pca_dim=10), metrics(8.0)),
                experiment("b", params(dim=10, pca_dim=2), metrics(8.0)),
            )
        )
    )
    with pytest.raises(
        compare.CompareError,
        match=r"at variants.conv30.latent_dim=10, experiments a and b also "
        r"differ in variants.pca30.latent_dim",
    ):
        compare.sweep(runs, "variants.conv30.latent_dim", "test_sq_error_per_image", ["conv30"])
    with pytest.raises(
        compare.CompareError,
        match=r"--x: no param 'latent_dim' in main, a, b \(did you mean variants.conv30.latent_dim",
    ):
        compare.sweep(runs, "latent_dim", "test_sq_error_per_image", ["conv30"])


@pytest.mark.slow
def test_no_experiments_yet_names_what_to_run(finished_project):
    project = finished_project
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "results"], project)
    result = run([sys.executable, "-m", "autoencoders", "compare", "--figures", "test_sq_error_per_image"], project)
    assert "no experiments on master" in result.stderr or "no experiments on main" in result.stderr
    assert "dvc exp run" in result.stderr
    headline = json.loads((project / "reports" / "metrics.json").read_text())
    assert f"| mlp | test_sq_error_per_image | {headline['mlp.test_sq_error_per_image']:.4g} |" in result.stdout
    # the venv's python finds the venv's dvc without the venv on PATH
    bare = subprocess.run(
        [sys.executable, "-m", "autoencoders", "compare", "--figures", "test_sq_error_per_image"],
        cwd=project,
        env={**os.environ, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert bare.returncode == 0 and bare.stdout == result.stdout, bare.stderr
    swept = run([sys.executable, "-m", "autoencoders", "compare", "--x", "seed"], project, check=False)
    assert swept.returncode == 1 and "error: a sweep needs experiments" in swept.stderr
