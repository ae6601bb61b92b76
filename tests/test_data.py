import gzip
import hashlib
import json
import os
import pickle

import numpy as np
import pytest
import torchvision

from autoencoders import data, mnist
from tests.helpers import synthetic_digits, write_mnist_folder


def test_idx_round_trip_plain_and_gzipped(tmp_path):
    images, labels = synthetic_digits(30, 0)
    for array, name in ((images, "imgs"), (labels, "labels")):
        raw = mnist.idx_bytes(array)
        (tmp_path / name).write_bytes(raw)
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(raw))
        np.testing.assert_array_equal(mnist.read_idx(tmp_path / name), array)
        np.testing.assert_array_equal(mnist.read_idx(tmp_path / f"{name}.gz"), array)


def test_idx_header_is_the_official_one():
    raw = mnist.idx_bytes(np.zeros((2, 28, 28), np.uint8))
    assert raw[:16] == bytes.fromhex("00000803") + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda raw: raw[:-5], "truncated"),
        (lambda raw: b"\x00\x00\x09\x03" + raw[4:], "bad magic number 0x00000903"),
        (lambda raw: raw[:2], "no IDX header"),
    ],
)
def test_idx_rejects_damaged_files(tmp_path, damage, message):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(damage(mnist.idx_bytes(synthetic_digits(5, 0)[0])))
    with pytest.raises(data.DataError, match=message) as err:
        mnist.read_idx(path)
    assert str(path) in str(err.value)


def test_folder_source_writes_torchvision_layout_and_manifest(tmp_path):
    src = write_mnist_folder(tmp_path / "src", gz=True)
    manifest = mnist.download(str(src), tmp_path / "raw")
    sums = dict(reversed(line.split("  ")) for line in (src / "MD5SUMS").read_text().splitlines())
    assert {k: v["md5"] for k, v in manifest["files"].items()} == sums
    assert json.loads((tmp_path / "raw" / "manifest.json").read_text()) == manifest
    dataset = torchvision.datasets.MNIST(str(tmp_path / "raw"), train=True, download=False)
    assert len(dataset) == 400


def test_checksum_mismatch_names_file_and_leaves_nothing(tmp_path):
    src = write_mnist_folder(tmp_path / "src")
    victim = src / "t10k-labels-idx1-ubyte"
    good = hashlib.md5(victim.read_bytes()).hexdigest()
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x07")
    bad = hashlib.md5(victim.read_bytes()).hexdigest()
    out = tmp_path / "out" / "raw"
    with pytest.raises(data.DataError) as err:
        mnist.download(str(src), out)
    assert str(err.value) == f"t10k-labels-idx1-ubyte: MD5 mismatch: expected {good}, got {bad}"
    assert not out.exists()
    assert not list((tmp_path / "out").glob("*"))  # no temporary folder left behind either


def test_folder_without_md5sums_is_held_to_the_official_checksums(tmp_path):
    src = write_mnist_folder(tmp_path / "src", md5sums=False)
    with pytest.raises(data.DataError, match="train-images-idx3-ubyte: MD5 mismatch: expected 6bbc9ace"):
        mnist.download(str(src), tmp_path / "raw")


def test_missing_file_and_unknown_source_are_named(tmp_path):
    src = write_mnist_folder(tmp_path / "src")
    (src / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(data.DataError, match="missing train-labels-idx1-ubyte"):
        mnist.download(str(src), tmp_path / "raw")
    with pytest.raises(data.DataError, match="nowhere.*neither a known source"):
        mnist.download(str(tmp_path / "nowhere"), tmp_path / "raw")


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_restricted_unpickler_refuses_anything_but_numpy(tmp_path):
    marker = str(tmp_path / "pwned")
    payload = pickle.dumps([np.arange(3), _Exploit(marker)], protocol=3)
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to unpickle (builtins|io)\.open"):
        mnist.load_numpy_pickle(payload)
    assert not os.path.exists(marker)
    with pytest.raises(pickle.UnpicklingError, match="posix.system|os.system"):
        mnist.load_numpy_pickle(b"cos\nsystem\n(S'touch " + marker.encode() + b"'\ntR.")
    assert not os.path.exists(marker)


def test_pypi_pickle_layout_converts_to_official_idx():
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = [synthetic_digits(n, s) for n, s in ((20, 1), (10, 2), (8, 3))]
    as_float = lambda x: (x.reshape(len(x), -1) / np.float32(256)).astype(np.float32)
    triple = (
        (as_float(tr_x), tr_y.astype(np.int64)),
        (as_float(va_x), va_y.astype(np.int64)),
        (as_float(te_x), te_y.astype(np.int64)),
    )
    files = mnist.pickle_to_idx(mnist.load_numpy_pickle(pickle.dumps(triple, protocol=3)))
    np.testing.assert_array_equal(mnist.parse_idx(files["train-images-idx3-ubyte"]), np.concatenate([tr_x, va_x]))
    np.testing.assert_array_equal(mnist.parse_idx(files["train-labels-idx1-ubyte"]), np.concatenate([tr_y, va_y]))
    np.testing.assert_array_equal(mnist.parse_idx(files["t10k-images-idx3-ubyte"]), te_x)


def _splits(tmp_path, seed=0, digits=None, val_size=100, name="raw"):
    raw = tmp_path / name
    if not raw.exists():
        mnist.download(str(write_mnist_folder(tmp_path / f"{name}-src", n_train=600)), raw)
    return mnist.make_splits(raw, val_size=val_size, seed=seed, digits=digits)


def test_split_is_stratified_disjoint_and_complete(tmp_path):
    splits = _splits(tmp_path)
    train, val = splits["train"], splits["val"]
    assert len(val["labels"]) == 100 and len(train["labels"]) == 500
    assert set(train["index"]).isdisjoint(val["index"])
    assert sorted(np.concatenate([train["index"], val["index"]])) == list(range(600))
    assert np.bincount(val["labels"], minlength=10).tolist() == [10] * 10  # 600 balanced -> 10 per digit
    np.testing.assert_array_equal(splits["test"]["index"], np.arange(100))
    source = mnist.read_idx(tmp_path / "raw" / "MNIST" / "raw" / "train-images-idx3-ubyte")
    np.testing.assert_array_equal(val["images"], source[val["index"]])


def test_split_same_seed_same_bytes_other_seed_other_split(tmp_path):
    for seed, folder in ((0, "a"), (0, "b"), (1, "c")):
        for name, arrays in _splits(tmp_path, seed=seed).items():
            data.save_npz(tmp_path / folder / f"{name}.npz", arrays)
    read = lambda f: (tmp_path / f / "val.npz").read_bytes()
    assert read("a") == read("b")
    assert read("a") != read("c")


def test_digits_filter_applies_to_all_splits(tmp_path):
    splits = _splits(tmp_path, digits=[1, 5, 6], val_size=30)
    for arrays in splits.values():
        assert set(np.unique(arrays["labels"])) == {1, 5, 6}
    with pytest.raises(data.DataError, match=r"data.val_size: must be < 180 \(training images of digits"):
        _splits(tmp_path, digits=[1, 5, 6], val_size=500)
