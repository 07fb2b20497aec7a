"""The seed check (benchmarks/seeds.py): every chapter's seed can be set, and failures are named."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("seeds", ROOT / "benchmarks" / "seeds.py")
seeds = importlib.util.module_from_spec(spec)
spec.loader.exec_module(seeds)


@pytest.mark.parametrize("chapter", sorted((ROOT / "notebooks").glob("*.py")), ids=lambda p: p.stem)
def test_every_chapter_has_one_settable_seed(chapter):
    source = chapter.read_text()
    changed = seeds.with_seed(source, 4321)
    assert "\nSEED = 4321\n" in changed
    assert changed.replace("SEED = 4321", "") == seeds.SEED_LINE.sub("", source)


def test_a_chapter_without_exactly_one_seed_line_is_refused():
    with pytest.raises(ValueError, match="exactly one line"):
        seeds.with_seed("x = 1\n", 1)
    with pytest.raises(ValueError, match="exactly one line"):
        seeds.with_seed("SEED = 0\nSEED = 1\n", 1)


def test_failure_summary_names_the_marked_assertion():
    class Err(Exception):
        ename, evalue = "AssertionError", "an induction head forms"

    traceback = (
        "Cell In[12], line 3\n      1 x = 1\n----> 3 assert prefix[-1] > 0.6, 'an induction head forms'\n"
        "      4 assert other > 0\n"
    )
    summary = seeds.failure_summary(Err(traceback))
    assert (
        summary
        == "AssertionError: an induction head forms  [assert prefix[-1] > 0.6, 'an induction head forms']"
    )


def test_the_seed_from_a_commit_is_fixed_by_the_commit_and_never_the_default():
    seed = seeds.seed_from_commit("HEAD")
    assert seed == seeds.seed_from_commit("HEAD") and 1 <= seed <= 10_000


def test_keep_going_lists_every_failed_cell():
    import nbformat

    nb = nbformat.v4.new_notebook()
    ok, bad1, bad2 = (nbformat.v4.new_code_cell(src) for src in ("1", "assert a", "assert b"))
    for cell, (evalue, line) in [
        (bad1, ("first", "assert a > 0, 'first'")),
        (bad2, ("second", "assert b")),
    ]:
        cell.outputs = [
            nbformat.v4.new_output(
                "error", ename="AssertionError", evalue=evalue, traceback=[f"----> 3 {line}"]
            )
        ]
    nb.cells = [ok, bad1, bad2]
    assert seeds.errors_in(nb) == [
        "AssertionError: first  [assert a > 0, 'first']",
        "AssertionError: second  [assert b]",
    ]
