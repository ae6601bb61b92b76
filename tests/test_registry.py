"""MLflow's model registry: the aliases' rules on a real SQLite store, and a tiny pipeline's champion
served by `mlflow models serve` on 127.0.0.1, answering good requests and refusing bad ones."""

import json
import subprocess
import urllib.error
import urllib.request

import numpy as np
import pytest
from mlflow import MlflowClient

from autoencoders import __main__ as cli
from autoencoders import data, io, registry, tracking
from autoencoders.errors import UserError
from tests.helpers import BIN, SMALL_SET, free_port, wait_http


class Run:  # what registry.register reads of a child run
    def __init__(self, run_id: str, variant: str, md5: str, uri: str):
        self.info = type("Info", (), {"run_id": run_id})()
        self.data = type("Data", (), {"tags": {"variant": variant, "checkpoint_md5": md5, "model_uri": uri}})()


pytestmark = pytest.mark.slow  # a real MLflow store: its schema alone takes seconds to create


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A real SQLite store (tracking and registry) in a git repository on main."""
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q", "-b", "main"], check=True)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment(tracking.EXPERIMENT, artifact_location=(tmp_path / "artifacts").as_uri())
    return client, experiment


def registered(client, experiment: str, md5: str, figure: float, state: str):
    run_id = client.create_run(
        experiment, tags={"role": "variant", "variant": "mlp", "dvc_exp_name": state, "checkpoint_md5": md5}
    ).info.run_id
    return registry.register(
        client,
        Run(run_id, "mlp", md5, f"runs:/{run_id}/model"),
        figure,
        {"git_commit": "abc", "dvc_exp_name": state, "pipeline_state": md5},
    )


def test_the_workspace_on_main_is_champion_and_only_a_clear_win_is_challenger(store):
    client, experiment = store
    first = registered(client, experiment, "aaa", 10.0, "workspace")
    assert registry.assign(client, first, "workspace", 10.0, sd=0.5) == "champion"
    assert registered(client, experiment, "aaa", 10.0, "workspace").version == first.version  # no new version

    within = registered(client, experiment, "bbb", 9.2, "exp-a")  # 0.8 better: less than 2 sd
    assert registry.assign(client, within, "exp-a", 9.2, sd=0.5) == ""
    better = registered(client, experiment, "ccc", 8.5, "exp-b")  # 1.5 better: more than 2 sd
    assert registry.assign(client, better, "exp-b", 8.5, sd=0.5) == "challenger"
    name = registry.model_name("mlp")
    assert client.get_model_version_by_alias(name, "challenger").version == better.version
    assert client.get_model_version_by_alias(name, "champion").version == first.version
    assert registry.assign(client, better, "exp-b", 8.5, sd=None) == ""  # no spread known: no claim

    assert registry.crown(client, experiment, "mlp", "exp-b").version == better.version
    assert client.get_model_version_by_alias(name, "champion").version == better.version
    registered(client, experiment, "aaa", 10.0, "exp-c")  # an experiment that left mlp as the workspace had it
    assert registry.crown(client, experiment, "mlp", "exp-c").version == first.version
    with pytest.raises(UserError, match="no registered version of autoencoders-mlp in pipeline state 'nope'"):
        registry.crown(client, experiment, "mlp", "nope")


def test_the_champion_command_moves_the_alias_and_the_reports_figure(store):
    client, experiment = store
    io.write_json(
        "reports/metrics.json",
        {"mlp.test_sq_error_per_image": 10.0, "mlp.knn_accuracy": 0.9, "pca.test_sq_error_per_image": 12.5},
    )
    assert cli.main(["champion", "--from-metrics"]) == 0
    assert io.read_json("reports/champion.json") == {
        "figure": "test_sq_error_per_image",
        "values": {"mlp": 10.0, "pca": 12.5},
    }
    registry.assign(client, registered(client, experiment, "aaa", 10.0, "workspace"), "workspace", 10.0, 0.5)
    better = registered(client, experiment, "ccc", 8.5, "exp-b")
    assert cli.main(["champion", "mlp", "exp-b"]) == 0
    assert client.get_model_version_by_alias(registry.model_name("mlp"), "champion").version == better.version
    assert io.read_json("reports/champion.json")["values"] == {"mlp": 8.5, "pca": 12.5}
    assert cli.main(["champion", "mlp"]) == 1  # a variant without a state
    assert cli.main(["champion", "--from-metrics", "nowhere.json"]) == 1


def test_another_branchs_workspace_takes_no_alias(store):
    client, experiment = store
    subprocess.run(["git", "checkout", "-q", "-b", "feature"], check=True)
    version = registered(client, experiment, "aaa", 10.0, "workspace")
    assert registry.assign(client, version, "workspace", 10.0, sd=0.5) == ""


def test_the_prefix_is_a_setting(monkeypatch):
    monkeypatch.setenv(registry.PREFIX, "team-ae-")
    assert registry.model_name("conv30") == "team-ae-conv30"


def post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_the_champion_is_registered_and_served(finished_project, tmp_path):
    project = finished_project
    uri = f"sqlite:///{project / 'mlflow.db'}"
    client = MlflowClient(uri)
    for variant in SMALL_SET:
        champion = client.get_model_version_by_alias(registry.model_name(variant), "champion")
        assert champion.tags["dvc_exp_name"] == "workspace" and champion.tags["checkpoint_md5"]
    assert all(len(client.search_model_versions(f"name = '{registry.model_name(v)}'")) == 1 for v in SMALL_SET)

    port, log = free_port(), tmp_path / "serve.log"
    server = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "models",
            "serve",
            "-m",
            f"models:/{registry.model_name('mlp')}@champion",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=project,
        env={"PATH": f"{BIN}:/usr/bin:/bin", "MLFLOW_TRACKING_URI": uri, "HOME": str(tmp_path)},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", "mlflow models serve", timeout=180, log=log)
        url = f"http://127.0.0.1:{port}/invocations"
        test = data.load_npz(project / "data" / "split" / "test.npz")
        x = (test["images"] / 255.0).astype(np.float32)[:, None]
        status, answer = post(url, json.dumps({"inputs": x.tolist()}).encode())
        assert status == 200
        reconstructions = np.asarray(answer["predictions"], dtype=np.float32)
        assert reconstructions.shape == x.shape
        served = float(((reconstructions - x) ** 2).sum(axis=(1, 2, 3)).mean())
        evaluate = json.loads((project / "reports" / "variants" / "mlp" / "evaluate.json").read_text())
        assert served == pytest.approx(evaluate["sq_error_per_image"], abs=1e-4)
        for bad in (
            json.dumps({"inputs": x[:2, :, :14].tolist()}).encode(),  # wrong shape
            json.dumps({"inputs": [[["a"] * 28] * 28]}).encode(),  # wrong dtype
            b"not json",
        ):
            status, answer = post(url, bad)
            assert 400 <= status < 500 and answer["message"], (status, answer)
    finally:
        server.terminate()
        server.wait(timeout=30)
