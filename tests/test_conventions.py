"""Process-wide settings in one place: every stage enters through runtime.run, and no library function
reseeds a global generator behind its caller's back (seeding is the stages' call, or forked)."""

import ast
import re

from tests.helpers import ROOT

GLOBAL_SEEDING = re.compile(r"\b(torch\.manual_seed|np\.random\.seed|random\.seed|torch\.set_flush_denormal)\(")
# the one function a stage calls to seed the globals, and the one that seeds a forked copy of them
ALLOWED = {
    ("autoencoders/train.py", "seed_everything"),
    ("autoencoders/classifiers.py", "seeded"),
    ("autoencoders/runtime.py", "configure_torch"),
}


def test_every_stage_enters_through_runtime_run():
    for path in sorted((ROOT / "stages").glob("*.py")):
        tail = path.read_text().rstrip().splitlines()[-2:]
        assert [line.strip() for line in tail] == ['if __name__ == "__main__":', "runtime.run(main)"], path.name


def test_no_library_function_seeds_or_sets_a_global_but_the_allowed_ones():
    found = set()
    for path in sorted((ROOT / "autoencoders").rglob("*.py")):
        source = path.read_text()
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and GLOBAL_SEEDING.search(ast.get_source_segment(source, node)):
                found.add((path.relative_to(ROOT).as_posix(), node.name))
        module_level = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        for node in module_level:  # at import: the process's mode would depend on which modules were imported
            assert not GLOBAL_SEEDING.search(ast.get_source_segment(source, node) or ""), path
    assert found <= ALLOWED
