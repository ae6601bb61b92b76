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
