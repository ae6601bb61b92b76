"""What MLflow's logging leaves behind in the process: the environment as it was, MLflow's own URI
pointed back (the tracking itself, against real stores and servers: test_pipeline_full.py, test_team.py)."""

import os

import pytest

from autoencoders import publish, tracking


def test_restored_environment_sets_back_changed_and_unsets_new_keys(monkeypatch):
    monkeypatch.setenv("AE_TEST_SET", "before")
    monkeypatch.delenv("AE_TEST_UNSET", raising=False)
    with tracking.restored_environment(["AE_TEST_SET", "AE_TEST_UNSET"]) as saved:
        assert saved == {"AE_TEST_SET": "before", "AE_TEST_UNSET": None}
        os.environ["AE_TEST_SET"] = "inside"
        os.environ["AE_TEST_UNSET"] = "inside"
    assert os.environ["AE_TEST_SET"] == "before" and "AE_TEST_UNSET" not in os.environ


def test_server_requests_keeps_a_users_setting_and_leaves_nothing(monkeypatch):
    first, *others = tracking.SERVER_REQUESTS
    monkeypatch.setenv(first, "7")
    for key in others:
        monkeypatch.delenv(key, raising=False)
    with tracking.server_requests():
        assert os.environ[first] == "7"
        assert all(os.environ[key] == tracking.SERVER_REQUESTS[key] for key in others)
    assert os.environ[first] == "7" and not any(key in os.environ for key in others)


@pytest.mark.parametrize("outside", [None, "sqlite:///elsewhere.db"])
def test_fluent_logging_points_mlflow_back(monkeypatch, tmp_path, outside):
    import mlflow

    if outside:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", outside)
    before = mlflow.get_tracking_uri()
    with publish._fluent(f"sqlite:///{tmp_path / 'mlflow.db'}"):
        assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert os.environ.get("MLFLOW_TRACKING_URI") == outside and mlflow.get_tracking_uri() == before


@pytest.mark.slow  # a real SQLite store: its schema alone takes seconds to create
def test_a_live_run_shows_each_epochs_strip_and_system_metrics(tmp_path, monkeypatch):
    import re
    import time

    import numpy as np
    from mlflow import MlflowClient

    monkeypatch.setenv("DVC_ROOT", str(tmp_path))  # the store: tmp_path/mlflow.db
    monkeypatch.setattr(tracking, "SYSTEM_METRICS_EVERY", 1)
    strip = np.zeros((57, 231), np.uint8)
    with tracking.LiveRun("tiny", {"seed": 0}) as live:
        for epoch in (1, 2):
            live.log_epoch({"epoch": epoch, "train_loss": 1.0, "val_loss": 0.5}, strip)
        time.sleep(2.5)  # two samples of the system's figures
    client = MlflowClient(tracking.store()[0])
    assert any(key.startswith("system/cpu") for key in client.get_run(live.run_id).data.metrics)
    pngs = [a.path for a in client.list_artifacts(live.run_id, "images") if a.path.endswith(".png")]
    assert sorted(int(re.search(r"reconstructions\+step\+(\d+)\+", p).group(1)) for p in pngs) == [1, 2]
