"""Executing the chapters (scripts/execute.py) and the seed check (benchmarks/seeds.py).

Every chapter's seed can be set, failures are named, and chapters that load another's runs
wait for it.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import execute  # noqa: E402

spec = importlib.util.spec_from_file_location("seeds", ROOT / "benchmarks" / "seeds.py")
seeds = importlib.util.module_from_spec(spec)
spec.loader.exec_module(seeds)


@pytest.mark.parametrize("chapter", sorted((ROOT / "notebooks").glob("*.py")), ids=lambda p: p.stem)
def test_every_chapter_has_one_settable_seed(chapter):
    source = chapter.read_text()
    changed = execute.with_seed(source, 4321)
    assert "\nSEED = 4321\n" in changed
    assert changed.replace("SEED = 4321", "") == execute.SEED_LINE.sub("", source)
    nb = execute.load(chapter.stem, 4321)  # the .ipynb twin, which is what gets executed
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "\nSEED = 4321\n" in f"\n{code}\n" and not execute.SEED_LINE.findall(
        code.replace("SEED = 4321", "")
    )


def test_a_chapter_without_exactly_one_seed_line_is_refused():
    with pytest.raises(ValueError, match="exactly one line"):
        execute.with_seed("x = 1\n", 1)
    with pytest.raises(ValueError, match="exactly one line"):
        execute.with_seed("SEED = 0\nSEED = 1\n", 1)


def test_failure_summary_names_the_marked_assertion():
    class Err(Exception):
        ename, evalue = "AssertionError", "an induction head forms"

    traceback = (
        "Cell In[12], line 3\n      1 x = 1\n----> 3 assert prefix[-1] > 0.6, 'an induction head forms'\n"
        "      4 assert other > 0\n"
    )
    summary = execute.failure_summary(Err(traceback))
    assert (
        summary
        == "AssertionError: an induction head forms  [assert prefix[-1] > 0.6, 'an induction head forms']"
    )


def test_the_seed_from_a_commit_is_fixed_by_the_commit_and_never_the_default(monkeypatch):
    import subprocess

    def rev_parse(sha):
        return lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout=f"{sha}\n")

    for sha, seed in [("0" * 40, 1), ("ffffffff" + "0" * 32, 7296)]:
        monkeypatch.setattr(seeds.subprocess, "run", rev_parse(sha))
        assert seeds.seed_from_commit("HEAD") == seed  # 1 for a hash of zeros: never 0


def test_a_failed_claim_is_summarised_by_its_own_message():
    class Err(Exception):
        ename, evalue = (
            "ClaimFailed",
            "a head forms: measured 0.5, needs > 0.6 (null 0.1; margin -0.25)",
        )

    traceback = (
        "----> 3 claims.claim('a head forms', x, '>', 0.6, null=0.1)\n----> 93 raise ClaimFailed(\n"
    )
    assert execute.failure_summary(Err(traceback)) == f"ClaimFailed: {Err.evalue}"


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
    assert execute.errors_in(nb) == [
        "AssertionError: first  [assert a > 0, 'first']",
        "AssertionError: second  [assert b]",
    ]


def job(name, seed=1):
    return execute.Job(name, seed, None)


def test_a_chapter_that_loads_another_chapters_runs_waits_for_it():
    (after, before), *_ = execute.AFTER.items()
    pending = [job(after), job(before), job("grokking")]
    assert [j.name for j in execute.ready(pending, [])] == [before, "grokking"]
    assert [j.name for j in execute.ready([job(after)], [job(before)])] == []  # still training
    assert [j.name for j in execute.ready([job(after)], [])] == [after]  # done
    # another seed's run is another run: it does not wait for it
    assert execute.ready([job(after, 2)], [job(before, 1)]) == [job(after, 2)]


def test_the_longest_chapters_start_first():
    costs = execute.COST_S
    names = [j.name for j in execute.order([job(n) for n in sorted(costs)])]
    assert [costs[n] for n in names] == sorted(costs.values(), reverse=True)
    assert set(costs) == set(execute.chapters()), "a chapter without a cost starts first"


def test_each_kernel_gets_its_share_of_the_cores(monkeypatch):
    monkeypatch.setattr(execute.os, "cpu_count", lambda: 2)
    assert execute.default_jobs() == 2 and execute.threads_per_job(2) == 1
    assert execute.threads_per_job(1) is None  # one kernel alone: torch's default (every core)
    monkeypatch.setattr(execute.os, "cpu_count", lambda: 1)
    assert execute.default_jobs() == 1


def test_an_executed_chapter_is_found_by_the_book_build(tmp_path, monkeypatch):
    """What store_for_book writes is what myst-nb looks up: the build then executes nothing."""
    import nbformat
    from jupyter_cache import get_cache

    monkeypatch.setattr(execute, "BOOK_CACHE", tmp_path / "cache")
    assert not execute.in_book_cache("grokking")
    nb = execute.load("grokking")
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = i + 1
        cell.outputs = [nbformat.v4.new_output("stream", text="out\n")]
        cell.metadata["execution"] = {"iopub.execute_input": f"2026-01-01T00:00:0{i % 10}Z"}
    execute.store_for_book(execute.Result(execute.Job("grokking", None, None), True, 1.0, nb=nb))
    assert execute.in_book_cache("grokking")
    # myst-nb matches the chapter as it reads it, from its .ipynb twin
    fresh = nbformat.read(ROOT / "notebooks" / "grokking.ipynb", as_version=4)
    record = get_cache(str(tmp_path / "cache")).match_cache_notebook(fresh)
    assert record.uri.endswith("grokking.ipynb")
    changed = execute.load("grokking", seed=4321)  # another cell: another notebook
    with pytest.raises(KeyError):
        get_cache(str(tmp_path / "cache")).match_cache_notebook(changed)
    # the same cells over another toylab (or lock) are executed again
    monkeypatch.setattr(execute, "code_digest", lambda: "another toylab")
    assert not execute.in_book_cache("grokking")


def test_the_book_build_reads_the_cache_execute_writes():
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "cache"
    assert ROOT / config["execute"]["cache"] == execute.BOOK_CACHE


def test_the_default_seed_is_read_from_the_chapter():
    assert execute.default_seed("grokking") == 0
    # a chapter run at its own seed executes exactly the cells the book executes
    assert execute.load("grokking", seed=execute.default_seed("grokking")) == execute.load(
        "grokking"
    )
