"""toylab.claims, the margins table built from its records, and the chapters' use of it."""

import ast
import json
import math
import statistics
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from toylab import claims

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import margins  # noqa: E402  (benchmarks/margins.py)

# --- the helper ---


def test_a_claim_that_holds_is_silent_and_takes_numpy_and_tensors():
    claims.claim("a", np.float32(0.95), ">", 0.9, null=0.1)
    claims.claim("b", torch.tensor(0.2), "<", torch.tensor([0.5]), null=np.float64(0.9))
    claims.claim("c", 3, ">=", 3, null=0)


def test_a_failing_claim_names_value_bound_null_and_direction():
    with pytest.raises(AssertionError) as err:
        claims.claim("the ticket computes the sum", 0.85, ">", 0.9, null=0.09)
    msg = str(err.value)
    for part in ("the ticket computes the sum", "0.85", "> 0.9", "null 0.09", "margin -0.07"):
        assert part in msg, (part, msg)


@pytest.mark.parametrize("op, value", [(">", 0.9), ("<", 0.9), (">", math.nan), ("<=", math.nan)])
def test_the_bound_itself_and_nan_fail_a_strict_or_any_claim(op, value):
    with pytest.raises(claims.ClaimFailed):
        claims.claim("x", value, op, 0.9, null=0.0)


@pytest.mark.parametrize(
    "args, error",
    [
        (("", 1.0, ">", 0.0), TypeError),
        (("x", 1.0, "=>", 0.0), ValueError),
        (("x", None, ">", 0.0), TypeError),
        (("x", True, ">", 0.0), TypeError),
        (("x", torch.ones(2), ">", 0.0), TypeError),
    ],
)
def test_bad_input_is_a_clear_error(args, error):
    with pytest.raises(error):
        claims.claim(*args, null=0.0)


def test_exact_takes_only_a_bool():
    claims.exact("ok", True)
    with pytest.raises(claims.ClaimFailed, match="the solution: On case x"):
        claims.exact("the solution", False, "On case x")
    with pytest.raises(TypeError):
        claims.exact("a number is not a check", 0.95)  # type: ignore[arg-type]


def test_margin_is_signed_and_scaled_by_the_null():
    assert claims.margin(1.0, ">", 0.9, 0.5) == pytest.approx(0.2)
    assert claims.margin(0.8, ">", 0.9, 0.0) == pytest.approx(-0.125)
    assert claims.margin(0.1, "<", 0.5, 0.9) == pytest.approx(0.5)
    assert claims.margin(0.6, "<", 0.5, 0.9) == pytest.approx(-1 / 3)


def test_records_every_claim_when_asked_and_nothing_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv(claims.ENV, raising=False)
    claims.claim("quiet", 1.0, ">", 0.0, null=0.0)
    out = tmp_path / "deep" / "claims.jsonl"
    monkeypatch.setenv(claims.ENV, str(out))
    claims.claim("a", 1.0, ">", 0.5, null=0.0)
    with pytest.raises(claims.ClaimFailed):
        claims.claim("b", 0.1, ">", 0.5, null=0.0)  # a failure is recorded before it raises
    claims.exact("c", True)
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(g["name"], g["ok"]) for g in got] == [("a", True), ("b", False), ("c", True)]
    assert got[1] == dict(name="b", kind="bound", value=0.1, op=">", bound=0.5, null=0.0, ok=False)


# --- every chapter's assertions go through it ---

CHAPTERS = sorted((ROOT / "notebooks").glob("*.py"))


def asserts_in(source: str) -> list[int]:
    return [n.lineno for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Assert)]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_assertion_in_a_chapter_is_a_claim(path):
    source = path.read_text(encoding="utf-8")
    assert not asserts_in(source), f"{path.name}: bare assert on lines {asserts_in(source)}"
    names = margins.chapter_claims(path)  # plain-string names, none used twice
    assert names, f"{path.name} makes no claim"


def test_the_assertion_check_finds_a_planted_assert_and_a_bad_name(tmp_path):
    assert asserts_in("x = 1\nassert x > 0, 'planted'\n") == [2]
    bad = tmp_path / "ch.py"
    bad.write_text('claims.claim(f"seed {s}", 1, ">", 0, null=0)\n')
    with pytest.raises(ValueError, match="plain string"):
        margins.chapter_claims(bad)
    bad.write_text('claims.claim("a", 1, ">", 0, null=0)\nclaims.exact("a", True)\n')
    with pytest.raises(ValueError, match="share a name"):
        margins.chapter_claims(bad)


# --- the margins table ---


def record(tmp_path, chapter, seed, entries):
    (tmp_path / chapter).mkdir(parents=True, exist_ok=True)
    (tmp_path / chapter / f"{seed}.json").write_text(
        json.dumps(dict(chapter=chapter, seed=seed, seconds=60, claims=entries))
    )


def bound(name, value, op=">", b=0.5, null=0.0):
    ok = claims.OPS[op](value, b)
    return dict(name=name, kind="bound", value=value, op=op, bound=b, null=null, ok=ok)


@pytest.fixture
def chapter(tmp_path, monkeypatch):
    """A chapter 'toy' with three claims, and the records of two seeds."""
    nb = tmp_path / "notebooks"
    nb.mkdir()
    (nb / "toy.py").write_text(
        'claims.claim("up", x, ">", 0.5, null=0.0)\n'
        'for s in S:\n    claims.claim("down", y, "<", 0.5, null=1.0)\n'
        'claims.exact("solution", True)\n'
    )
    monkeypatch.setattr(margins, "ROOT", tmp_path)
    recs = tmp_path / "claims"
    record(
        recs,
        "toy",
        0,
        [bound("up", 1.0), bound("down", 0.2, "<", null=1.0), bound("down", 0.3, "<", null=1.0)],
    )
    record(
        recs,
        "toy",
        7,
        [
            bound("up", 0.55),
            bound("down", 0.45, "<", null=1.0),
            dict(name="solution", kind="exact", ok=True),
            bound("gone", 1.0),
        ],
    )
    return recs


def test_the_worst_margin_is_the_worst_seed_over_the_median_distance_from_the_null(chapter):
    rows, runs, stray = margins.rows("toy", chapter)
    up, down, solution = rows
    assert up.seeds == [0, 7] and up.values == [1.0, 0.55]
    assert up.worst() == (0.55, pytest.approx(0.05 / 0.775))  # median 0.775, null 0
    assert down.values == [0.2, 0.3, 0.45]  # every run of the loop counts
    assert down.worst() == (0.45, pytest.approx(0.05 / 0.7))  # median 0.3, null 1
    assert solution.seeds == [7] and not solution.failed
    assert stray == ["gone"]


def test_a_failure_has_a_negative_margin_and_is_reported(chapter):
    record(chapter, "toy", 9, [bound("up", 0.4)])
    table, notes = margins.chapter_table("toy", chapter)
    up = margins.rows("toy", chapter)[0][0]
    assert up.worst()[1] < 0 and up.failed == 1
    assert any("FAILED 1x" in n and "up" in n for n in notes)
    assert "**Seeds**: 0, 7, 9" in table


def test_a_null_that_passes_its_own_bound_is_flagged(chapter):
    record(chapter, "toy", 9, [bound("up", 0.9, null=0.8)])
    table, notes = margins.chapter_table("toy", chapter)
    assert "(null passes)" not in table  # median null of 0, 0, 0.8 is 0
    record(chapter, "toy", 10, [bound("up", 0.9, null=0.8)])
    record(chapter, "toy", 11, [bound("up", 0.9, null=0.8)])
    table, notes = margins.chapter_table("toy", chapter)
    assert "(null passes)" in table and any("null passes" in n for n in notes)


def test_the_committed_tables_are_what_the_records_give():
    assert margins.main(["--check"]) == 0, "run: python benchmarks/margins.py"


def test_a_chapter_run_records_its_claims_at_its_seed_even_past_a_failure(tmp_path, monkeypatch):
    """scripts/execute.py hands the kernel TOYLAB_CLAIMS; margins.save keeps one file per seed."""
    import nbformat

    sys.path.insert(0, str(ROOT / "scripts"))
    import execute

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from toylab import claims\nSEED = 0"),
        nbformat.v4.new_code_cell('claims.claim("low", SEED, "<", 5, null=9)'),
        nbformat.v4.new_code_cell('claims.claim("high", SEED, ">", 5, null=0)'),
    ]
    monkeypatch.setattr(execute, "NOTEBOOKS", tmp_path)
    nbformat.write(nb, tmp_path / "toy.ipynb")
    out = tmp_path / "claims.jsonl"
    out.write_text("a stale line from an earlier run\n")
    result = execute.run(execute.Job("toy", 3, None, 1, keep_going=True, claims=str(out)))
    assert not result.ok and "high: measured 3, needs > 5" in result.failure
    path = margins.save("toy", 3, out, result.ok, result.seconds, result.failure, tmp_path / "rec")
    saved = json.loads(path.read_text())
    assert path == tmp_path / "rec" / "toy" / "3.json" and saved["seed"] == 3
    assert [(c["name"], c["value"], c["ok"]) for c in saved["claims"]] == [
        ("low", 3.0, True),
        ("high", 3.0, False),
    ]


def test_a_log_claim_measures_its_margin_in_orders_of_magnitude():
    # 1e-9 under a bound of 1e-6, null 0.1: 3 of the 8 orders of magnitude from the null
    assert claims.margin(1e-9, "<", 1e-6, 0.1, log=True) == pytest.approx(3 / 8)
    assert claims.margin(1e-9, "<", 1e-6, 0.1) == pytest.approx((1e-6 - 1e-9) / 0.1)
    assert claims.margin(0.0, "<", 1e-6, 1.0, log=True) == pytest.approx(10 / 16)  # floored
    claims.claim("exact", 0.0, "<", 1e-6, null=0.5, log=True)
    with pytest.raises(ValueError, match="log=True"):
        claims.claim("x", 1e-9, "<", 1e-6, null=-1.0, log=True)


def test_the_table_measures_log_claims_in_orders_of_magnitude(chapter, tmp_path):
    recs = tmp_path / "log"
    logged = [{**bound("up", v, b=1e-6, null=1e-12), "log": True} for v in (1e-3, 1e-4)]
    record(recs, "toy", 0, logged[:1])
    record(recs, "toy", 1, logged[1:])
    up = margins.rows("toy", recs)[0][0]
    median = math.log10(statistics.median([1e-3, 1e-4]))
    assert up.log and up.worst() == (1e-4, pytest.approx(2 / (median + 12)))
    assert "&gt; 1e−06 (log)" in margins.chapter_table("toy", recs)[0]


@pytest.mark.parametrize(
    "past, scale, want",
    [
        (1.0, 4.0, 0.25),
        (-1.0, 0.0, -math.inf),
        (1.0, 0.0, math.inf),
        (0.0, 0.0, 0.0),
        (math.inf, math.inf, math.inf),
        (math.nan, 1.0, -math.inf),
        (1.0, math.inf, 0.0),
    ],
)
def test_margin_edge_cases_keep_their_sign(past, scale, want):
    assert claims.ratio(past, scale) == want
