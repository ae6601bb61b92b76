"""Every project module a stage runs is one of its DVC deps, so an edit to it re-runs the stage.

The imports are read from the source (every `import` statement, including those inside functions),
starting from the module each stage's `cmd` runs, and followed through the project's own modules.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

from autoencoders import gallery, layout
from tests.helpers import ROOT, run, set_param


def module_file(root: Path, dotted: str) -> Path | None:
    """The project file a dotted module name runs (a package runs its __init__.py), or None."""
    base = root.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path, root: Path) -> set[str]:
    """Dotted names of everything the file imports, relative imports resolved."""
    package = ".".join(path.relative_to(root).parts[:-1])  # what `from . import x` is relative to
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return names


def project_files(module: str, root: Path) -> set[Path]:
    """Every project file that running `python -m module` executes: imports, followed transitively,
    and the __init__.py of each package on the way."""
    seen: set[Path] = set()
    todo = [module]
    while todo:
        dotted = todo.pop()
        parts = dotted.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__.py and a/b/__init__.py too
            path = module_file(root, ".".join(parts[:i]))
            if path and path not in seen:
                seen.add(path)
                todo.extend(imported_modules(path, root))
    return {p.relative_to(root) for p in seen}


def stage_commands(dvc_yaml: dict) -> dict[str, tuple[str, list[str]]]:
    """stage name -> (module its cmd runs with `python -m`, its deps); foreach stages once, as written."""
    out = {}
    for name, stage in dvc_yaml["stages"].items():
        body = stage.get("do", stage)
        match = re.match(r"python -m ([\w.]+)", body["cmd"])
        assert match, f"stage {name}: cmd does not start with `python -m`: {body['cmd']!r}"
        out[name] = (match.group(1), [d if isinstance(d, str) else next(iter(d)) for d in body.get("deps", [])])
    return out


def missing_deps(dvc_yaml: dict, root: Path = ROOT) -> list[str]:
    """'stage: file' for every project file a stage runs that none of its deps (file or folder) covers."""
    problems = []
    for name, (module, deps) in stage_commands(dvc_yaml).items():
        for path in sorted(project_files(module, root)):
            if not any(path == Path(d) or Path(d) in path.parents for d in deps):
                problems.append(f"stage {name}: runs {path} but does not depend on it")
    return problems


def needless_deps(dvc_yaml: dict, root: Path = ROOT) -> list[str]:
    """'stage: dep' for every Python file or folder of ours a stage depends on but never runs."""
    problems = []
    for name, (module, deps) in stage_commands(dvc_yaml).items():
        runs = project_files(module, root)
        for dep in deps:
            path = Path(dep)
            code = path.suffix == ".py" or (root / path).is_dir() and any((root / path).glob("*.py"))
            if code and not any(p == path or path in p.parents for p in runs):
                problems.append(f"stage {name}: depends on {dep} but never runs it")
    return problems


def load_dvc_yaml() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())


def test_every_stage_depends_on_the_code_it_runs():
    assert missing_deps(load_dvc_yaml()) == []


def test_no_stage_depends_on_code_it_does_not_run():
    """The other half of precise deps: an edit to a module re-runs only the stages that run it."""
    assert needless_deps(load_dvc_yaml()) == []


def test_a_removed_dep_is_named_with_its_stage():
    dvc_yaml = load_dvc_yaml()
    dvc_yaml["stages"]["analyze"]["do"]["deps"].remove("autoencoders/plots.py")
    assert missing_deps(dvc_yaml) == ["stage analyze: runs autoencoders/plots.py but does not depend on it"]


def test_dvc_yaml_spells_the_layout_names():
    """The per-variant file names live in layout.py and in dvc.yaml: the two must agree."""
    text = (ROOT / "dvc.yaml").read_text()
    for name in (
        layout.MODEL,
        *layout.RESULTS,
        layout.HISTORY,
        layout.FIGURES,
        layout.GENERATED,
        gallery.EXPLORER,
        gallery.ARRAYS,
    ):
        assert f"/${{key}}/{name}" in text, name


def test_imports_are_followed_through_functions_and_packages():
    files = project_files("stages.track", ROOT)
    # tracking.py imports data and models inside functions; models/__init__.py imports every family
    assert {
        Path("autoencoders/data.py"),
        Path("autoencoders/models/__init__.py"),
        Path("autoencoders/models/vae.py"),
        Path("autoencoders/__init__.py"),
    } <= files


def test_data_stages_need_no_model_code():
    """Precise deps: download and split re-run for an edit to data.py, never for a model's."""
    for module in ("stages.download", "stages.split"):
        assert not any("models" in p.parts for p in project_files(module, ROOT)), module


def changed_stages(project: Path) -> set[str]:
    return set(json.loads(run(["dvc", "status", "--json"], project).stdout))


@pytest.mark.slow
def test_editing_code_marks_exactly_the_stages_that_run_it(finished_project):
    project = finished_project
    variants = ["mlp", "sphere", "pca"]
    assert changed_stages(project) == set()
    model_file = project / "autoencoders" / "models" / "base.py"
    original = model_file.read_text()
    model_file.write_text(original + "\n# an edit to the shared decoder code\n")
    changed = changed_stages(project)
    for kind in ("train", "analyze"):
        assert {f"{kind}@{v}" for v in variants} <= changed, (kind, changed)
    assert not changed & {"download", "split", "report"} and not any(
        s.startswith(("classify@", "knn@")) for s in changed
    )

    model_file.write_text(original)
    plots = project / "autoencoders" / "plots.py"
    original = plots.read_text()
    plots.write_text(original + "\n# an edit to a figure\n")
    changed = changed_stages(project)
    assert changed == {"report", *(f"analyze@{v}" for v in variants)}

    plots.write_text(original)
    table = module_table()
    for file in ("mnist.py", "classifiers.py"):  # the download code: download and split; a classifier: classify
        path = project / "autoencoders" / file
        original = path.read_text()
        path.write_text(original + "\n# an edit\n")
        assert changed_stages(project) == expand(sorted(table[file]), "", variants), file
        path.write_text(original)

    # publishing to MLflow is track's alone: training runs tracking.py only
    publish = project / "autoencoders" / "publish.py"
    publish.write_text(publish.read_text() + "\n# an edit to publishing\n")
    assert changed_stages(project) == {"track"}


@pytest.mark.slow
def test_bytecode_written_by_a_command_leaves_every_stage_clean(finished_project, tmp_path):
    """Python writes __pycache__/ beside every module it imports (unless PYTHONDONTWRITEBYTECODE is
    set, as on CI machines): in a dependency folder such as autoencoders/models/ that must not make
    a stage stale, or the next `dvc exp run` retrains every variant (.dvcignore leaves them out)."""
    project = finished_project
    assert changed_stages(project) == set()
    run(
        [sys.executable, "-m", "autoencoders", "decode", "sphere", "--z", "0,0,1", "-o", str(tmp_path / "point.png")],
        project,
        env={"PYTHONDONTWRITEBYTECODE": ""},
    )  # empty is unset to Python: bytecode on
    assert list((project / "autoencoders" / "models").glob("__pycache__/*.pyc")), "no bytecode was written"
    assert changed_stages(project) == set()


# docs/pipeline.md's table of what a change re-runs: one params change that stands for each row.
RERUN_ROWS = {
    "`variants.V.*`": [("variants.mlp.epochs", 3)],
    "`train.*` but `device`": [("train.lr", 0.002)],
    "`train.device`": [("train.device", "auto")],
    "`classify.knn_k`": [("classify.knn_k", [1, 3])],
    "`classify.*` but `knn_k`": [("classify.head_epochs", 1)],
    "`gaussians.samples_per_digit`": [("gaussians.samples_per_digit", 30)],
    "`gaussians.*` but `samples_per_digit`": [("gaussians.density", "diag")],
    "`judge.*`": [("judge.epochs", 1)],
    "`seed`": [("seed", 1)],
    "`data.source`": [("data.source", "torchvision")],
    "`data.val_size`, `data.digits`": [("data.val_size", 60), ("data.digits", [0, 1])],
}


def rerun_table() -> dict[str, list[str]]:
    """docs/pipeline.md's table: a change -> the stage patterns it makes stale at once (middle column)."""
    text = (ROOT / "docs" / "pipeline.md").read_text()
    section = text[text.index("| a change to | stale at once |") :]
    rows = {}
    for line in section.splitlines()[2:]:
        if not line.startswith("|"):
            break
        change, stale, _ = (cell.strip() for cell in line.strip("|").split("|"))
        rows[change] = [name.strip(" `") for name in stale.split(",")]
    return rows


def expand(patterns: list[str], changed_variant: str, variants: list[str]) -> set[str]:
    """Stage names for `train@V` (the variant changed), `train@*` (every variant) and plain names."""
    out = set()
    for pattern in patterns:
        stage, _, which = pattern.partition("@")
        if not which:
            out.add(stage)
        elif which == "V":
            out.add(f"{stage}@{changed_variant}")
        else:
            out.update(f"{stage}@{v}" for v in variants)
    return out


def test_the_rerun_table_names_one_change_per_row():
    assert set(rerun_table()) == set(RERUN_ROWS)


@pytest.mark.slow
def test_the_table_of_reruns_is_what_dvc_status_lists(finished_project):
    project, params_file = finished_project, finished_project / "params.yaml"
    original = params_file.read_text()
    variants = list(yaml.safe_load(original)["variants"])
    for change, stale in rerun_table().items():
        for key, value in RERUN_ROWS[change]:
            set_param(project, key, value)
            assert changed_stages(project) == expand(stale, "mlp", variants), (change, key)
            params_file.write_text(original)


def module_table() -> dict[str, set[str]]:
    """docs/pipeline.md's table of edits to the library: file (under autoencoders/) -> stage patterns."""
    text = (ROOT / "docs" / "pipeline.md").read_text()
    section = text[text.index("| an edit to `autoencoders/` | stale at once |") :]
    every = [f"{name}@*" if "foreach" in stage else name for name, stage in load_dvc_yaml()["stages"].items()]
    rows = {}
    for line in section.splitlines()[2:]:
        if not line.startswith("|"):
            break
        files, stale = (cell.strip() for cell in line.strip("|").split("|"))
        named = re.findall(r"`([^`]+)`", stale)
        if stale.startswith("every stage but"):
            patterns = set(every) - set(named)
        elif stale.startswith("every stage"):
            patterns = set(every)
        else:
            patterns = set(named)
        for file in re.findall(r"`([^`]+)`", re.sub(r"\([^)]*\)", "", files)):
            rows[file] = patterns
    return rows


def stages_depending_on(path: Path, dvc_yaml: dict) -> set[str]:
    """Stage patterns (`name@*` for foreach stages) whose deps cover a project file or folder."""
    return {
        f"{name}@*" if "foreach" in dvc_yaml["stages"][name] else name
        for name, (_, deps) in stage_commands(dvc_yaml).items()
        if any(path == Path(d) or Path(d) in path.parents or Path(d) == path for d in deps)
    }


def test_the_table_of_library_edits_is_what_the_deps_say():
    dvc_yaml, table = load_dvc_yaml(), module_table()
    library = {p.name for p in (ROOT / "autoencoders").glob("*.py")} | {"explore.js", "models/"}
    assert set(table) == library  # every file of the library has its row
    for file, patterns in table.items():
        assert stages_depending_on(Path("autoencoders") / file.rstrip("/"), dvc_yaml) == patterns, file


def test_the_library_and_the_stages_never_import_the_operations_package():
    """ops/ starts servers and clusters and uses the library; the library and the stages never use it."""
    for path in sorted([*(ROOT / "autoencoders").rglob("*.py"), *(ROOT / "stages").glob("*.py")]):
        assert not {m for m in imported_modules(path, ROOT) if m == "ops" or m.startswith("ops.")}, path
