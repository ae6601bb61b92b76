"""Shared fixtures: tiny synthetic MNIST-like data and the pipeline on it, built by tests/helpers.py."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import SMALL_SET, make_project, relocate_mlflow_store, run, write_mnist_folder


def pytest_collection_modifyitems(items):
    """Longest work first. Under `make test`'s xdist workers each takes the next test as it finishes
    one, so a minutes-long test started last leaves the others idle; the fast tests go last and fill
    that gap. First the queue group (the longest unit: its tests must run one after the other) and
    the slow tests that need no reproduced pipeline, which run while the first worker builds it."""

    def rank(item) -> int:
        if item.get_closest_marker("xdist_group"):
            return 0
        if item.get_closest_marker("slow"):
            return 1 if "reproduced" not in item.fixturenames else 2
        return 3

    items.sort(key=rank)  # stable: file order within a rank


def pytest_runtest_setup(item):
    """Under `--dist loadgroup` each xdist worker suffixes a grouped test's id with its group, and
    the controller sends every test of a group to one worker. pytest 9.2 ignores that suffix
    (pytest-xdist issue 1386), and the group's tests then run at once, silently: fail them instead."""
    grouped = getattr(item.config.option, "loadgroup", False) and item.get_closest_marker("xdist_group")
    if grouped and "@" not in item.nodeid:
        message = "pytest-xdist's loadgroup did not group this test: pin pytest 9.1.1 (pyproject.toml)"
        pytest.fail(message, pytrace=False)


@pytest.fixture
def chromium() -> str:
    """Headless Chromium's path; a test that needs it is skipped, with this reason, where it is missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("Chromium is not installed: apt-get install chromium (.ci/run installs it as root)")
    return found


@pytest.fixture
def mnist_folder(tmp_path) -> Path:
    return write_mnist_folder(tmp_path / "mnist-src")


@pytest.fixture(autouse=True)
def no_leaked_tracking_uri(monkeypatch):
    """mlflow.set_tracking_uri() also sets MLFLOW_TRACKING_URI in os.environ: undo it after each test."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture
def dvc_project(tmp_path, mnist_folder):
    """The whole pipeline in a temporary repository; returns (path, params dict)."""
    return make_project(tmp_path / "project", mnist_folder)


@pytest.fixture
def small_project(tmp_path, mnist_folder):
    """The pipeline restricted to SMALL_SET, for end-to-end runs that must stay quick."""
    return make_project(tmp_path / "project", mnist_folder, SMALL_SET)


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory):
    """The small pipeline, reproduced once for the session; tests work on copies of it. Under
    pytest-xdist (`make test` runs two workers) the first worker to need it builds it in the folder
    the workers share, and the other waits for it rather than computing it again."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, above each worker's own
    base = shared / "reproduced"
    with FileLock(str(shared / "reproduced.lock")):
        if not (base / "done").exists():
            shutil.rmtree(base, ignore_errors=True)
            base.mkdir()
            project, _ = make_project(base / "project", write_mnist_folder(base / "mnist-src"), SMALL_SET)
            run(["dvc", "repro"], project)
            (base / "done").touch()
    return base / "project"


@pytest.fixture
def finished_project(reproduced, tmp_path):
    """A copy of the reproduced small pipeline (its MLflow store made the copy's own), free to change."""
    copy = tmp_path / "project"
    shutil.copytree(reproduced, copy, symlinks=True)
    relocate_mlflow_store(copy, reproduced)
    return copy
