"""A catalogue of bad inputs: each fails with one line, `error: <the culprit>`, no traceback, and writes nothing."""

import sys

import pytest
import yaml

from autoencoders import data, io, latent, layout, mnist, models
from tests.helpers import ROOT, run, set_key, tiny_params, write_mnist_folder

pytestmark = pytest.mark.slow  # the marker's meaning: pyproject.toml

OUTPUTS = [
    "out",
    "model.pt",
    "history.csv",
    "metrics.json",
    "timing.json",
    "emb.parquet",
    "point.png",
    "densities.npz",
    "gaussians.json",
    "neighbours.npz",
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Synthetic MNIST, its split, a trained tiny checkpoint and a valid params.yaml."""
    ws = tmp_path_factory.mktemp("ws")
    source = write_mnist_folder(ws / "src")
    mnist.download(str(source), ws / "raw")
    with io.atomic_dir(ws / "split") as tmp:
        for name, arrays in mnist.make_splits(ws / "raw", 50, 0, None).items():
            data.save_npz(tmp / f"{name}.npz", arrays)
    model = models.build("mlp", {"latent_dim": 2, "hidden": [8]})
    models.save_checkpoint(model, ws / "models" / "mlp" / "model.pt")
    splits = {s: data.load_npz(layout.split_file(ws / "split", s)) for s in layout.SPLITS}
    frame, _ = latent.embed_splits(
        model, {s: (data.images_tensor(a["images"]), a["labels"], a["index"]) for s, a in splits.items()}
    )
    frame.to_parquet(ws / "emb.parquet", index=False)
    (ws / "params.yaml").write_text(yaml.safe_dump(tiny_params(source)))
    return ws


def with_params(ws, tmp, change):
    params = yaml.safe_load((ws / "params.yaml").read_text())
    change(params)
    (tmp / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp / "params.yaml"


def stage(name, *args):
    return [sys.executable, str(ROOT / "stages" / f"{name}.py"), *args]


def truncate(path):
    path.write_bytes(path.read_bytes()[:-100])


def set_magic(path):
    path.write_bytes(b"\x00\x00\x08\x09" + path.read_bytes()[4:])


def zero_first_md5(src):
    lines = (src / "MD5SUMS").read_text().splitlines()
    lines[0] = "0" * 32 + lines[0][32:]
    (src / "MD5SUMS").write_text("\n".join(lines) + "\n")


def case(cmd, culprit, env=None):
    return {"cmd": cmd, "culprit": culprit, "env": env or {}}


def params_case(change, culprit):
    return case(
        lambda ws, tmp: stage("download", "--params", str(with_params(ws, tmp, change)), "--out", str(tmp / "out")),
        culprit,
    )


def changed(path, value):
    """A change to params: set one dotted key."""
    return lambda params: set_key(params, path, value)


def copy_source(ws, tmp, damage=None):
    src = write_mnist_folder(tmp / "src")
    if damage:
        damage(src)
    return src


def download_from(damage):
    def cmd(ws, tmp):
        src = copy_source(ws, tmp, damage)
        params = with_params(ws, tmp, changed("data.source", str(src)))
        return stage("download", "--params", str(params), "--out", str(tmp / "out"))

    return cmd


def split_with(damage):
    def cmd(ws, tmp):
        raw = tmp / "raw"
        mnist.download(str(copy_source(ws, tmp)), raw)
        damage(raw / "MNIST" / "raw")
        return stage("split", "--params", str(ws / "params.yaml"), "--raw", str(raw), "--out", str(tmp / "out"))

    return cmd


def train(params_change=None, split=None, variant="mlp"):
    def cmd(ws, tmp):
        params = with_params(ws, tmp, params_change) if params_change else ws / "params.yaml"
        return stage(
            "train",
            variant,
            "--params",
            str(params),
            "--split",
            str(split(ws, tmp) if split else ws / "split"),
            "--model",
            str(tmp / "model.pt"),
            "--history",
            str(tmp / "history.csv"),
            "--metrics",
            str(tmp / "metrics.json"),
            "--timing",
            str(tmp / "timing.json"),
        )

    return cmd


def classify(params_change):
    def cmd(ws, tmp):
        return stage(
            "classify",
            "--params",
            str(with_params(ws, tmp, params_change)),
            "--embeddings",
            str(ws / "emb.parquet"),
            "--metrics",
            str(tmp / "metrics.json"),
            "--confusion",
            str(tmp / "out"),
            "--neighbours",
            str(tmp / "neighbours.npz"),
        )

    return cmd


def corrupt_checkpoint(ws, tmp):
    """analyze@mlp on a damaged checkpoint: it fails on loading it, before any of its outputs."""
    (tmp / "bad.pt").write_bytes(b"PK\x03\x04 definitely not a checkpoint")
    outs = {
        flag: str(tmp / name)
        for flag, name in (
            ("--embeddings", "emb.parquet"),
            ("--evaluate", "metrics.json"),
            ("--figures", "out"),
            ("--densities", "densities.npz"),
            ("--gaussians", "gaussians.json"),
            ("--generated", "point.png"),
            ("--explorer", "explorer.html"),
            ("--gallery", "gallery.npz"),
        )
    }
    return stage(
        "analyze",
        "mlp",
        "--model",
        str(tmp / "bad.pt"),
        "--split",
        str(ws / "split"),
        "--history",
        str(tmp / "history.csv"),
        "--judge",
        str(tmp / "judge.pt"),
        "--reference",
        str(tmp / "ref.npz"),
        "--floor",
        str(tmp / "floor.json"),
        *[x for pair in outs.items() for x in pair],
    )


def decode(*args):
    return lambda ws, tmp: [
        sys.executable,
        "-m",
        "autoencoders",
        "decode",
        *args,
        "-o",
        str(tmp / "point.png"),
        "--models",
        str(ws / "models"),
    ]


def split_without(name):
    def make(ws, tmp):
        folder = tmp / "split"
        folder.mkdir()
        for f in ("train.npz", "val.npz", "test.npz"):
            if f != name:
                (folder / f).write_bytes((ws / "split" / f).read_bytes())
        return folder

    return make


CASES = {
    # Bad params in a subprocess only where a running stage is what is tested: that a data stage
    # stops before writing; that train checks architectures (it passes the model registry) and
    # devices (only the machine can tell); that classify checks knn_neighbours against the data. The keys'
    # names and every other value check are in tests/test_params.py, in process.
    "val_size too large": params_case(changed("data.val_size", 70000), "data.val_size: must be < 60000, got 70000"),
    "architecture value a family refuses": case(
        train(changed("variants.mlp.latent_dim", 0)), "variants.mlp.latent_dim: must be >= 1, got 0"
    ),
    "device the machine lacks": case(
        train(changed("variants.mlp.device", "cuda:99")),
        "variants.mlp.device: cuda:99 is not available on this machine",
    ),
    "device set for every variant": case(
        train(changed("train.device", "cuda:99")), "train.device: cuda:99 is not available on this machine"
    ),
    "kNN neighbours beyond the training codes": case(
        classify(changed("classify.knn_neighbours", 100000)),
        "classify.knn_neighbours: must be <= the 350 training codes, got 100000",
    ),
    "truncated IDX file": case(
        download_from(lambda s: truncate(s / "t10k-images-idx3-ubyte")), "t10k-images-idx3-ubyte: MD5 mismatch"
    ),
    "checksum mismatch": case(
        download_from(zero_first_md5),
        "train-images-idx3-ubyte: MD5 mismatch: expected 00000000000000000000000000000000",
    ),
    "folder without the files": case(
        download_from(lambda s: [p.unlink() for p in s.glob("*ubyte")]), "missing train-images-idx3-ubyte"
    ),
    "wrong magic number in raw data": case(
        split_with(lambda r: set_magic(r / "train-labels-idx1-ubyte")),
        "train-labels-idx1-ubyte: bad magic number 0x00000809",
    ),
    "truncated raw data": case(
        split_with(lambda r: truncate(r / "t10k-images-idx3-ubyte")), "t10k-images-idx3-ubyte: truncated"
    ),
    "split file missing": case(train(split=split_without("val.npz")), "val.npz: file not found"),
    "loss turns NaN": case(train(changed("variants.deep2d.lr", 1e30), variant="deep2d"), "variant deep2d: loss became"),
    "corrupt checkpoint": case(corrupt_checkpoint, "bad.pt: not a valid checkpoint"),
    "latent point of the wrong dimension": case(
        decode("mlp", "--z", "1,2,3"), "variant mlp has a 2-d latent space, got 3 values"
    ),
    "unknown variant to decode": case(decode("vae", "--z", "1,2"), "no trained variant 'vae'"),
    "NaN learning rate": case(train(changed("train.lr", float("nan"))), "train.lr: must be a finite number, got nan"),
    "infinite copying threshold": params_case(
        changed("gaussians.copying_threshold", float("inf")),
        "gaussians.copying_threshold: must be a finite number, got inf",
    ),
    "tracking URI refusing connections": case(
        train(),
        "MLflow tracking server http://127.0.0.1:9 is unreachable",
        env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_fails_clearly_and_writes_nothing(name, workspace, tmp_path):
    c = CASES[name]
    cmd = c["cmd"](workspace, tmp_path)
    result = run(
        cmd,
        ROOT,
        env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", **c["env"]},
        check=False,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr  # a user's error, from a stage or the command line
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("error: ") and c["culprit"] in last, result.stderr
    assert not [o for o in OUTPUTS if (tmp_path / o).exists()]
    assert not list(tmp_path.glob(".*"))  # no temporary files or folders left behind either
