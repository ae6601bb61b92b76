"""The documentation's shape: a short README, and no table row written twice across README.md,
docs/ and benchmarks/README.md (a figure lives in one file; the others link to it)."""
import collections
import re

from conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md"]


def table_rows(text: str) -> list[str]:
    """The body rows of every Markdown table (headers and |---| separators left out)."""
    rows, previous = [], ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("|") and not re.fullmatch(r"\|[\s:|-]+\|", line) and previous.startswith("|"):
            rows.append(line)
        previous = line
    return [r for r in rows if not re.fullmatch(r"\|[\s:|-]+\|", r)]


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150


def test_no_table_row_is_written_twice():
    seen = collections.defaultdict(list)
    for doc in DOCS:
        for row in table_rows(doc.read_text()):
            seen[row].append(doc.relative_to(ROOT).as_posix())
    twice = {row: where for row, where in seen.items() if len(where) > 1}
    assert not twice, twice


def test_every_link_between_the_documents_resolves():
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#]+)\)", doc.read_text()):
            if "://" not in target:
                assert (doc.parent / target).exists(), (doc.name, target)
