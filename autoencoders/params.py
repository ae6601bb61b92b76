"""Load params.yaml once into typed, validated objects.

Every error names the key path and what was wrong, e.g.
``data.val_size: must be < 60000, got 70000``, and is raised before any work. The types and bounds
are pydantic's (strict: no "3" for 3, no NaN or infinity for a float); this module only turns its
first error into that one line and checks what spans several keys.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass
from pydantic_core import PydanticCustomError

from .errors import UserError

MNIST_TRAIN_SIZE = 60000
MAX_SEED = 2**32 - 1  # numpy's legacy seeding takes no more
VARIANT_NAME = re.compile(r"[A-Za-z0-9_-]+")  # a folder name and a DVC foreach key: no '/', no '.'
STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ParamsError(UserError, ValueError):
    """A value in params.yaml is missing, unknown, of the wrong type or out of range."""


def _device(name: str) -> str:
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", name):
        raise PydanticCustomError("device", "must be auto, cpu, mps, cuda or cuda:N")
    return name


Device = Annotated[str, AfterValidator(_device)]  # auto picks cuda, then mps, then cpu
Positive = Annotated[int, Field(ge=1)]
PositiveFloat = Annotated[float, Field(gt=0)]


# The dataclasses declare each key's type and bounds; params.yaml holds every value (no defaults
# here, so a value lives in one place). A key missing from params.yaml is an error naming it.


@dataclass(frozen=True, config=STRICT)
class DataParams:
    source: str  # auto | torchvision | pypi | a folder holding the IDX files
    val_size: Annotated[int, Field(ge=1, lt=MNIST_TRAIN_SIZE)]
    digits: list[Annotated[int, Field(ge=0, le=9)]] | None  # None keeps all ten digits


@dataclass(frozen=True, config=STRICT)
class TrainParams:
    """Training settings: `train:` holds the shared values, a variant overrides any of them."""

    device: Device
    epochs: Positive
    batch_size: Positive
    lr: PositiveFloat
    weight_decay: Annotated[float, Field(ge=0)]
    schedule: Literal["constant", "onecycle", "cosine"]
    # tensor: slices of the in-memory split. dataloader: the notebooks' per-item torch DataLoader,
    # slower (benchmarks/README.md), kept as the baseline the benchmarks compare against.
    loader: Literal["tensor", "dataloader"]


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    family: str
    train: TrainParams
    arch: dict[str, Any]  # constructor arguments of the family (their defaults live in the family)
    overrides: frozenset[str]  # the training keys the variant sets itself

    def key(self, setting: str) -> str:
        """The params.yaml key a training setting of this variant comes from, for error messages."""
        return f"variants.{self.name}.{setting}" if setting in self.overrides else f"train.{setting}"


@dataclass(frozen=True, config=STRICT)
class ClassifyParams:
    head_hidden: Positive
    head_epochs: Positive
    head_batch_size: Positive
    head_lr: PositiveFloat
    probe_c: Annotated[list[PositiveFloat], Field(min_length=1)]
    probe_tolerance: Annotated[float, Field(ge=0)]  # per code (classifiers.fit_logistic); 0: never met
    knn_k: Annotated[list[Positive], Field(min_length=1)]
    knn_neighbours: Positive  # found once per variant by classify; each k <= it
    kmeans_restarts: Positive


@dataclass(frozen=True, config=STRICT)
class GaussiansParams:
    # auto and the names of densities.DENSITIES (tests/test_latent.py holds the two to each other)
    density: Literal["auto", "diag", "full", "gmm", "vmf"]
    # what auto minimises or maximises: a key of every density's figures in gaussians.json
    auto_by: Literal["val_fd_judge", "val_log_likelihood"]
    copying_threshold: Annotated[float, Field(ge=0)]  # nn_distance_ratio below it: copies (0: never)
    components: Annotated[list[Positive], Field(min_length=1)]  # gmm: the mixture sizes tried per digit
    samples_per_digit: Positive


@dataclass(frozen=True, config=STRICT)
class JudgeParams:
    epochs: Positive
    batch_size: Positive
    lr: PositiveFloat


@dataclasses.dataclass(frozen=True)
class Params:
    seed: int
    data: DataParams
    train: TrainParams
    variants: dict[str, Variant]
    classify: ClassifyParams
    gaussians: GaussiansParams
    judge: JudgeParams


# --- pydantic's errors as one line naming the key ------------------------------------------

WORDS = {  # pydantic error type -> our wording; any other type keeps pydantic's message
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "int_type": "must be int",
    "float_type": "must be float",
    "string_type": "must be str",
    "bool_type": "must be bool",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "literal_error": "must be one of {expected}",
    "too_short": "must list at least {min_length} value",
    "finite_number": "must be a finite number",
}


def _key(path: str, loc: tuple) -> str:
    key = path
    for part in loc:
        key = f"{key}[{part}]" if isinstance(part, int) else f"{key}.{part}" if key else str(part)
    return key


def _error(err: ValidationError, path: str, allowed) -> ParamsError:
    """The first of pydantic's errors as a ParamsError naming its full key."""
    first = err.errors()[0]
    key, kind = _key(path, first["loc"]), first["type"]
    if kind == "missing":
        return ParamsError(f"{key}: missing")
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        return ParamsError(f"{key}: unknown key (allowed: {', '.join(sorted(allowed))})")
    ctx = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in first.get("ctx", {}).items()}
    text = WORDS[kind].format(**ctx) if kind in WORDS else first["msg"]  # bounds as written: > 0, not > 0.0
    return ParamsError(f"{key}: {text}, got {first['input']!r}")


def build(cls, raw, path: str):
    """Build the pydantic dataclass cls from the mapping raw; unknown or missing keys and bad values raise."""
    if raw is None:
        raise ParamsError(f"{path}: missing")
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: must be a mapping, got {raw!r}")
    try:
        return cls(**raw)
    except ValidationError as err:
        raise _error(err, path, [f.name for f in dataclasses.fields(cls)]) from None


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
        try:
            out[name] = TypeAdapter(hints.get(name, Any), config=STRICT).validate_python(kwargs[name])
        except ValidationError as err:
            raise _error(err, f"{path}.{name}", allowed) from None
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
    try:
        seed = TypeAdapter(Annotated[int, Field(ge=0, le=MAX_SEED)], config=STRICT).validate_python(raw["seed"])
    except ValidationError as err:
        raise _error(err, "seed", []) from None
    data = build(DataParams, raw.get("data"), "data")
    if data.digits is not None and len(set(data.digits)) < 2:
        raise ParamsError(f"data.digits: needs at least two distinct digits, got {data.digits}")
    train = build(TrainParams, raw.get("train"), "train")
    variants_raw = raw.get("variants") or {}
    if not isinstance(variants_raw, dict) or not variants_raw:
        raise ParamsError("variants: must be a non-empty mapping of variant name to settings")
    variants = {name: _variant(name, v, train, families) for name, v in variants_raw.items()}
    classify = build(ClassifyParams, raw.get("classify"), "classify")
    for i, k in enumerate(classify.knn_k):
        if k > classify.knn_neighbours:
            raise ParamsError(
                f"classify.knn_k[{i}]: must be <= classify.knn_neighbours ({classify.knn_neighbours}), got {k}"
            )
    gaussians = build(GaussiansParams, raw.get("gaussians"), "gaussians")
    if gaussians.samples_per_digit < max(gaussians.components):
        raise ParamsError(
            f"gaussians.samples_per_digit: must be >= the largest of gaussians.components "
            f"({max(gaussians.components)}), got {gaussians.samples_per_digit}"
        )
    return Params(
        seed=seed,
        data=data,
        train=train,
        variants=variants,
        classify=classify,
        gaussians=gaussians,
        judge=build(JudgeParams, raw.get("judge"), "judge"),
    )


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML reads YAML 1.1, where `1e-4` (no dot) is a string; DVC reads and writes YAML 1.2,
    where it is a float, so `dvc exp run -S variants.vae.lr=1e-4` writes exactly that."""


_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"), list("-+.0123456789")
)


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
