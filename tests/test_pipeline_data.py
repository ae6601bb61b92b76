"""The real `dvc repro` of download and split, in a temporary git repository, on synthetic IDX files."""

import hashlib
import sys

import numpy as np
import pytest
import yaml

from autoencoders import data, mnist
from tests.helpers import ROOT, run, set_param, tiny_params

pytestmark = pytest.mark.slow  # the marker's meaning: pyproject.toml


def test_dvc_repro_download_and_split(dvc_project):
    project, _ = dvc_project
    result = run(["dvc", "repro", "split"], project)
    assert "MNIST served by" in result.stdout
    raw = project / "data" / "raw" / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(mnist.OFFICIAL_MD5)
    splits = {name: data.load_npz(project / "data" / "split" / f"{name}.npz") for name in ("train", "val", "test")}
    assert [len(s["labels"]) for s in splits.values()] == [350, 50, 100]
    assert splits["train"]["images"].dtype == np.uint8 and splits["train"]["index"].dtype == np.int64
    digest = hashlib.md5((project / "data" / "split" / "val.npz").read_bytes()).hexdigest()

    # nothing changed: nothing runs; a new seed re-runs split only, and changes the bytes
    assert "Data and pipelines are up to date" in run(["dvc", "status", "split"], project).stdout
    set_param(project, "seed", 1)
    result = run(["dvc", "repro", "split"], project)
    assert "Running stage 'split'" in result.stdout and "Running stage 'download'" not in result.stdout
    assert hashlib.md5((project / "data" / "split" / "val.npz").read_bytes()).hexdigest() != digest


def test_stages_run_the_library_copy_of_their_own_repository(dvc_project):
    """`dvc exp run --temp` and queued runs work in a copy: they must run that copy's code, not the
    editable install's (the developer's workspace, possibly with uncommitted changes)."""
    project, _ = dvc_project
    library = project / "autoencoders" / "data.py"
    library.write_text(library.read_text() + "\nprint('library of this repository')\n")
    assert "library of this repository" in run(["dvc", "repro", "download"], project).stdout


def test_dvc_repro_fails_early_on_bad_params(dvc_project):
    project, _ = dvc_project
    set_param(project, "data.val_size", 70000)
    result = run(["dvc", "repro", "download"], project, check=False)
    assert result.returncode != 0
    assert "data.val_size: must be < 60000, got 70000" in result.stderr
    assert not (project / "data" / "raw").exists()


# Runs a stage's main with torch made unimportable: a data stage that reached torch would fail.
WITHOUT_TORCH = """
import runpy, sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torch":
            raise ImportError(f"{name} imported by {sys.argv[0]}")
sys.meta_path.insert(0, NoTorch())
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__")
"""


def test_data_stages_run_without_torch(tmp_path, mnist_folder):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params(mnist_folder)))
    without_torch = lambda *args: run(
        [sys.executable, "-c", WITHOUT_TORCH, *args, "--params", str(tmp_path / "params.yaml")], ROOT, check=False
    )
    for result in (
        without_torch("stages.download", "--out", str(tmp_path / "raw")),
        without_torch("stages.split", "--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "split")),
    ):
        assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "split").iterdir()) == ["test.npz", "train.npz", "val.npz"]
    # the guard does catch torch: a stage that trains fails under it
    result = without_torch(
        "stages.train",
        "mlp",
        "--split",
        str(tmp_path / "split"),
        "--model",
        "m",
        "--history",
        "h",
        "--metrics",
        "j",
        "--timing",
        "t",
    )
    assert result.returncode != 0 and "ImportError: torch imported by stages.train" in result.stderr
