"""The front page's table of chapters states times measured from the chapters themselves.

Numbers in the prose are never typed by hand: the run budget comes from ``benchmarks/run.py``
(``make bench`` holds each chapter to it), the reading time from the chapter's prose, and the
exercise time from the exercises' own estimates. Edit a chapter and this test says which cell of
``book/intro.md`` to update.
"""

import importlib.util
import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[2]
INTRO = (ROOT / "book" / "intro.md").read_text()
ROW = re.compile(
    r"^\| \d+\. \[[^\]]+\]\(\.\./notebooks/(\w+)\.ipynb\) \| (\d+) min \| (\d+) min \| (\d+) min \|$",
    re.MULTILINE,
)
WORDS_PER_MINUTE = 150  # the intro states it
EXERCISE = re.compile(r"admonition\} Exercise \d+:.*\((?:easy|medium|hard), (\d+) minutes\)")


def budgets() -> dict[str, int]:
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "run.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.CHAPTER_BUDGET_S


def main_path_words(path: Path) -> int:
    """Words of prose a reader reads: all markdown but the closing exercises and optional sections."""
    words, skip = 0, False
    for cell in jupytext.read(path).cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("## "):
                skip = line.startswith("## Exercises") or "optional" in line.lower()
            if not skip:
                words += len(line.split())
    return words


ROWS = {m[0]: tuple(int(x) for x in m[1:]) for m in ROW.findall(INTRO)}


def test_every_chapter_has_a_row():
    chapters = {p.stem for p in (ROOT / "notebooks").glob("*.py")}
    assert set(ROWS) == chapters, f"intro table rows {sorted(ROWS)} != chapters {sorted(chapters)}"


@pytest.mark.parametrize("chapter", sorted(ROWS))
def test_row_matches_the_chapter(chapter):
    run_min, read_min, exercise_min = ROWS[chapter]
    path = ROOT / "notebooks" / f"{chapter}.py"
    expected_read = 5 * round(main_path_words(path) / WORDS_PER_MINUTE / 5)
    expected_ex = sum(int(m) for m in EXERCISE.findall(path.read_text()))
    assert run_min * 60 == budgets()[chapter], f"{chapter}: budget is {budgets()[chapter]} s"
    assert read_min == expected_read, f"{chapter}: reading time is {expected_read} min"
    assert exercise_min == expected_ex, f"{chapter}: exercises add up to {expected_ex} min"
