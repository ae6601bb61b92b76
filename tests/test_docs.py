"""The documentation's shape: a short README, and no table row written twice across README.md,
docs/ and benchmarks/README.md (a figure lives in one file; the others link to it)."""

import collections
import re

from tests.helpers import ROOT

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


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(doc) -> set[str]:
    return {slug(h) for h in re.findall(r"^#+ (.+)$", doc.read_text(), re.M)}


def test_slug_is_githubs():
    assert slug("Experiments: `make bench-experiment` (v0.2.0 against 8a7e1be, 2026-12-02)") == (
        "experiments-make-bench-experiment-v020-against-8a7e1be-2026-12-02"
    )


def test_every_link_between_the_documents_resolves():
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            if "://" in target:
                continue
            path, _, anchor = target.partition("#")
            linked = (doc.parent / path) if path else doc
            assert linked.exists(), (doc.relative_to(ROOT).as_posix(), target)
            if anchor and linked.suffix == ".md":
                assert anchor in anchors(linked), (doc.relative_to(ROOT).as_posix(), target)


def test_the_champions_figures_are_mains_own():
    """reports/champion.json (what an experiment's report is measured against) holds the committed
    state's figures: after a change of main's figures, `autoencoders champion --from-metrics`."""
    from autoencoders import champion, io

    assert io.read_json(ROOT / champion.FILE) == champion.from_metrics(io.read_json(ROOT / "reports/metrics.json"))
