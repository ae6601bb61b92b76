"""Where the pipeline's files live, in one place besides dvc.yaml, which spells the same names
(tests/test_stage_deps.py checks that the two agree). Stages get folders as arguments and find the
files in them here; nothing else spells a file name."""

from __future__ import annotations

from pathlib import Path

SPLITS = ("train", "val", "test")

# one variant's files: models/V/ and reports/variants/V/
MODEL = "model.pt"
TRAIN = "train.json"
TRAIN_TIME = "train_time.json"
HISTORY = "history.csv"
EVALUATE = "evaluate.json"
CLASSIFY = "classify.json"
KNN = "knn.json"
GAUSSIANS = "gaussians.json"
FIGURES = "figures"
GENERATED = "generated.png"
RESULTS = (TRAIN, TRAIN_TIME, EVALUATE, CLASSIFY, KNN, GAUSSIANS)  # the JSON files holding a variant's figures


def split_file(split_dir: str | Path, split: str) -> Path:
    return Path(split_dir) / f"{split}.npz"


def model_file(models_dir: str | Path, variant: str) -> Path:
    return Path(models_dir) / variant / MODEL
