"""Load params.yaml once into typed, validated objects.

Every error names the key path and what was wrong, e.g.
``data.val_size: must be < 60000, got 70000``, and is raised before any work.
"""
from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

MNIST_TRAIN_SIZE = 60000


class ParamsError(ValueError):
    """A value in params.yaml is missing, unknown, of the wrong type or out of range."""


def _range(lo=None, hi=None, *, lo_open=False, hi_open=False):
    return {"lo": lo, "hi": hi, "lo_open": lo_open, "hi_open": hi_open}


DEVICE = {"pattern": r"auto|cpu|mps|cuda(:\d+)?", "expected": "auto, cpu, mps, cuda or cuda:N"}
NON_EMPTY = {"min_items": 1}
VARIANT_NAME = re.compile(r"[A-Za-z0-9_-]+")  # a folder name and a DVC foreach key: no '/', no '.'
MAX_SEED = 2**32 - 1  # numpy's legacy seeding takes no more


# The dataclasses declare each key's type and bounds; params.yaml holds every value (no defaults
# here, so a value lives in one place). A key missing from params.yaml is an error naming it.

@dataclass(frozen=True)
class DataParams:
    source: str  # auto | torchvision | pypi | a folder holding the IDX files
    val_size: int = field(metadata=_range(1, MNIST_TRAIN_SIZE, hi_open=True))
    digits: list[int] | None  # None keeps all ten digits


@dataclass(frozen=True)
class TrainParams:
    """Training settings: `train:` holds the shared values, a variant overrides any of them."""
    device: str = field(metadata=DEVICE)  # auto picks cuda, then mps, then cpu
    epochs: int = field(metadata=_range(1))
    batch_size: int = field(metadata=_range(1))
    lr: float = field(metadata=_range(0, lo_open=True))
    weight_decay: float = field(metadata=_range(0))
    schedule: Literal["constant", "onecycle", "cosine"]
    # tensor: slices of the in-memory split. dataloader: the notebooks' per-item torch DataLoader,
    # slower (benchmarks/README.md), kept as the baseline the benchmarks compare against.
    loader: Literal["tensor", "dataloader"]


@dataclass(frozen=True)
class Variant:
    name: str
    family: str
    train: TrainParams
    arch: dict[str, Any]  # constructor arguments of the family (their defaults live in the family)
    overrides: frozenset[str]  # the training keys the variant sets itself

    def key(self, setting: str) -> str:
        """The params.yaml key a training setting of this variant comes from, for error messages."""
        return f"variants.{self.name}.{setting}" if setting in self.overrides else f"train.{setting}"


@dataclass(frozen=True)
class ClassifyParams:
    head_hidden: int = field(metadata=_range(1))
    head_epochs: int = field(metadata=_range(1))
    head_batch_size: int = field(metadata=_range(1))
    head_lr: float = field(metadata=_range(0, lo_open=True))
    probe_c: list[float] = field(metadata=NON_EMPTY)
    knn_k: list[int] = field(metadata=NON_EMPTY)
    knn_neighbours: int = field(metadata=_range(1))  # found once per variant by classify; each k <= it
    kmeans_restarts: int = field(metadata=_range(1))


@dataclass(frozen=True)
class GaussiansParams:
    density: Literal["auto", "diag", "full", "gmm", "vmf"]  # the names of densities.DENSITIES, and auto
    # what auto minimises or maximises: a key of every density's figures in gaussians.json
    auto_by: Literal["val_fd_judge", "val_log_likelihood"]
    copying_threshold: float = field(metadata=_range(0))  # nn_distance_ratio below it: copies (0: never)
    components: list[int] = field(metadata=NON_EMPTY)  # gmm: the mixture sizes tried per digit
    samples_per_digit: int = field(metadata=_range(1))


@dataclass(frozen=True)
class JudgeParams:
    epochs: int = field(metadata=_range(1))
    batch_size: int = field(metadata=_range(1))
    lr: float = field(metadata=_range(0, lo_open=True))


@dataclass(frozen=True)
class Params:
    seed: int
    data: DataParams
    train: TrainParams
    variants: dict[str, Variant]
    classify: ClassifyParams
    gaussians: GaussiansParams
    judge: JudgeParams


# --- generic validation -------------------------------------------------------------------

def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _check(value, tp, path: str):
    """Return value converted to tp, or raise ParamsError naming path."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _check(value, arg, path)
            except ParamsError as err:
                errors.append(str(err))
        raise ParamsError(errors[0])
    if origin is Literal:
        if value not in args:
            raise ParamsError(f"{path}: must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ParamsError(f"{path}: must be a list, got {value!r}")
        return [_check(v, args[0], f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{path}: must be a mapping, got {value!r}")
        return value
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float) and isinstance(value, bool) or not isinstance(value, tp):
        raise ParamsError(f"{path}: must be {_type_name(tp)}, got {value!r}")
    return value


def _check_range(value, meta, path: str):
    if value is None:
        return
    if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
        raise ParamsError(f"{path}: must be {meta['expected']}, got {value!r}")
    if "min_items" in meta and len(value) < meta["min_items"]:
        raise ParamsError(f"{path}: must list at least {meta['min_items']} value, got {value!r}")
    if "lo" not in meta:
        return
    lo, hi = meta["lo"], meta["hi"]
    if lo is not None and (value <= lo if meta["lo_open"] else value < lo):
        raise ParamsError(f"{path}: must be {'>' if meta['lo_open'] else '>='} {lo}, got {value}")
    if hi is not None and (value >= hi if meta["hi_open"] else value > hi):
        raise ParamsError(f"{path}: must be {'<' if meta['hi_open'] else '<='} {hi}, got {value}")


def build(cls, raw, path: str, **fixed):
    """Build dataclass cls from the mapping raw; unknown or missing keys and bad values raise."""
    if raw is None:
        raise ParamsError(f"{path}: missing")
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)} - set(fixed)
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ParamsError(f"{path}.{unknown[0]}: unknown key (allowed: {', '.join(sorted(names))})")
    values = dict(fixed)
    for f in dataclasses.fields(cls):
        if f.name in fixed:
            continue
        key = f"{path}.{f.name}" if path else f.name
        if f.name not in raw:
            raise ParamsError(f"{key}: missing")
        values[f.name] = _check(raw[f.name], hints[f.name], key)
        _check_range(values[f.name], f.metadata, key)
    return cls(**values)


def check_arguments(fn, kwargs: dict, path: str) -> dict:
    """Check kwargs against fn's signature: names, required ones, annotated types."""
    sig = inspect.signature(fn)
    hints = typing.get_type_hints(fn)
    allowed = [n for n in sig.parameters if n != "self"]
    for name in kwargs:
        if name not in allowed:
            raise ParamsError(f"{path}.{name}: unknown key (allowed: {', '.join(sorted(allowed))})")
    out = {}
    for name, p in sig.parameters.items():
        if name == "self":
            continue
        if name not in kwargs:
            if p.default is inspect.Parameter.empty:
                raise ParamsError(f"{path}.{name}: missing")
            continue
        out[name] = _check(kwargs[name], hints.get(name, Any), f"{path}.{name}")
    return out


# --- params.yaml ---------------------------------------------------------------------------

TRAIN_KEYS = {f.name for f in dataclasses.fields(TrainParams)}


def _variant(name: str, raw, defaults: TrainParams, families: dict | None) -> Variant:
    path = f"variants.{name}"
    if not VARIANT_NAME.fullmatch(str(name)):
        raise ParamsError(f"{path}: a variant name may hold only letters, digits, '_' and '-'")
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: must be a mapping, got {raw!r}")
    family = raw.get("family")
    if not isinstance(family, str):
        raise ParamsError(f"{path}.family: missing (the model family, e.g. mlp)")
    train_raw = {k: v for k, v in raw.items() if k in TRAIN_KEYS}
    train = build(TrainParams, {**dataclasses.asdict(defaults), **train_raw}, path)
    arch = {k: v for k, v in raw.items() if k not in TRAIN_KEYS and k != "family"}
    if families is not None:
        arch = check_architecture(families, family, arch, path)
    return Variant(name=name, family=family, train=train, arch=arch, overrides=frozenset(train_raw))


def check_architecture(families: dict, family: str, arch: dict, path: str) -> dict:
    """Check a variant's family and constructor arguments against the model registry, building the
    model on torch's meta device (no memory, no time) so that the family's own checks run too."""
    if family not in families:
        raise ParamsError(f"{path}.family: unknown family {family!r} (known: {', '.join(sorted(families))})")
    arch = check_arguments(families[family].__init__, arch, path)
    import torch  # only the stages that build models pass the registry, and they have torch loaded

    try:
        with torch.device("meta"):
            families[family](**arch)
    except ValueError as err:  # the families' checks start their message with the argument's name
        raise ParamsError(f"{path}.{err}") from None
    return arch


def parse(raw: dict, families: dict | None = None) -> Params:
    """Typed, checked params; with the model registry (families), the variants' architectures too."""
    if not isinstance(raw, dict):
        raise ParamsError(f"params: must be a mapping, got {raw!r}")
    known = {f.name for f in dataclasses.fields(Params)}
    for key in raw:
        if key not in known:
            raise ParamsError(f"{key}: unknown key (allowed: {', '.join(sorted(known))})")
    if "seed" not in raw:
        raise ParamsError("seed: missing")
    seed = _check(raw["seed"], int, "seed")
    _check_range(seed, _range(0, MAX_SEED), "seed")
    data = build(DataParams, raw.get("data"), "data")
    for i, d in enumerate(data.digits or []):
        if not 0 <= d <= 9:
            raise ParamsError(f"data.digits[{i}]: must be a digit 0-9, got {d}")
    if data.digits is not None and len(set(data.digits)) < 2:
        raise ParamsError(f"data.digits: needs at least two distinct digits, got {data.digits}")
    train = build(TrainParams, raw.get("train"), "train")
    variants_raw = raw.get("variants") or {}
    if not isinstance(variants_raw, dict) or not variants_raw:
        raise ParamsError("variants: must be a non-empty mapping of variant name to settings")
    variants = {name: _variant(name, v, train, families) for name, v in variants_raw.items()}
    classify = build(ClassifyParams, raw.get("classify"), "classify")
    for i, c in enumerate(classify.probe_c):
        _check_range(c, _range(0, lo_open=True), f"classify.probe_c[{i}]")
    for i, k in enumerate(classify.knn_k):
        _check_range(k, _range(1), f"classify.knn_k[{i}]")
        if k > classify.knn_neighbours:
            raise ParamsError(f"classify.knn_k[{i}]: must be <= classify.knn_neighbours "
                              f"({classify.knn_neighbours}), got {k}")
    gaussians = build(GaussiansParams, raw.get("gaussians"), "gaussians")
    for i, k in enumerate(gaussians.components):
        _check_range(k, _range(1), f"gaussians.components[{i}]")
    if gaussians.samples_per_digit < max(gaussians.components):
        raise ParamsError(f"gaussians.samples_per_digit: must be >= the largest of gaussians.components "
                          f"({max(gaussians.components)}), got {gaussians.samples_per_digit}")
    return Params(seed=seed, data=data, train=train, variants=variants, classify=classify, gaussians=gaussians,
                  judge=build(JudgeParams, raw.get("judge"), "judge"))


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML reads YAML 1.1, where `1e-4` (no dot) is a string; DVC reads and writes YAML 1.2,
    where it is a float, so `dvc exp run -S variants.vae.lr=1e-4` writes exactly that."""


_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"), list("-+.0123456789"))


def load(path: str | Path = "params.yaml", families: dict | None = None) -> Params:
    """params.yaml, checked; stages that build autoencoders pass the model registry (models.FAMILIES)
    so that each variant's family and architecture are checked too (the others need no torch)."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found")
    try:
        raw = yaml.load(path.read_text(), Loader=_Yaml12Loader)
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None
    return parse(raw, families)


def variant(params: Params, name: str) -> Variant:
    if name not in params.variants:
        raise ParamsError(f"variants.{name}: no such variant (known: {', '.join(params.variants)})")
    return params.variants[name]
