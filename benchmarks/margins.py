"""How sure is each claim? Tabulate the chapters' claims over every seed recorded.

Every assertion in a chapter is a ``toylab.claims`` call: a name, the measured value, a direction
and bound, and the null (what a run without the phenomenon gives). ``make margins`` runs chapters
at many seeds with ``TOYLAB_CLAIMS`` set (``benchmarks/seeds.py --claims``), which keeps one
record file per chapter and seed in ``benchmarks/claims/<chapter>/<seed>.json``. This script
reads whatever has been recorded (a sweep can be run in parts) and writes the same table twice:
``benchmarks/margins.md`` and the book's page ``book/margins.md``.

For each claim: the bound, the null, the min / median / max of the measured value over every
recorded seed (and over each run a chapter's loop asserts), and the worst margin

    (worst value - bound) / |median value - null|,

signed so that a failure is negative: how far the worst seed is from failing, in units of how
far the claim typically stands from its null. A margin under 0.1 is a knife edge.

    make margins SEEDS="0 1 2 3"                     # run, record, tabulate
    make margins SEEDS="4" CHAPTERS=grokking         # add one seed for one chapter
    python benchmarks/margins.py                     # tabulate what is recorded
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from toylab.claims import OPS, log10, ratio

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "benchmarks" / "claims"
TABLE = ROOT / "benchmarks" / "margins.md"
PAGE = ROOT / "book" / "margins.md"
KNIFE_EDGE = 0.1


def chapter_claims(path: Path) -> list[tuple[str, str]]:
    """The ``(name, kind)`` of every ``claims.claim`` / ``claims.exact`` call in a chapter, in order.

    Raises if a name is not a plain string or is used by two calls: the table is keyed on names.
    """
    out: list[tuple[str, str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "claims"
            and node.func.attr in ("claim", "exact")
        ):
            first = node.args[0] if node.args else None
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                raise ValueError(
                    f"{path.name}:{node.lineno}: a claim's name must be a plain string"
                )
            kind = "bound" if node.func.attr == "claim" else "exact"
            out.append((first.value, kind, node.lineno))
    out.sort(key=lambda t: t[2])
    names = [n for n, _, _ in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"{path.name}: two claims share a name: {twice}")
    return [(n, k) for n, k, _ in out]


OUTPUTS = ("benchmarks/claims", "benchmarks/margins.md", "book/margins.md")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def save(
    chapter: str,
    seed: int,
    claims_file: Path,
    passed: bool,
    seconds: float,
    failure: str,
    out: Path = RECORDS,
) -> Path:
    """Keep one chapter-and-seed run's claim records (the JSON lines ``claims_file`` collected)."""
    lines = claims_file.read_text(encoding="utf-8").splitlines() if claims_file.exists() else []
    commit = git("rev-parse", "--short", "HEAD")
    # the records and tables this sweep writes do not make the code it ran "dirty"
    if git("status", "--porcelain", "--", ".", *(f":!{p}" for p in OUTPUTS)):
        commit += "-dirty"
    record = dict(
        chapter=chapter,
        seed=seed,
        commit=commit,
        passed=passed,
        seconds=round(seconds),
        failure=failure,
        claims=[json.loads(line) for line in lines],
    )
    path = out / chapter / f"{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return path


@dataclass
class Row:
    name: str
    kind: str
    seeds: list[int]
    values: list[float]
    bounds: list[float]
    nulls: list[float]
    op: str
    failed: int
    log: bool = False  # margins in orders of magnitude (toylab.claims.claim's log=True)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def null(self) -> float:
        return statistics.median(self.nulls)

    def worst(self) -> tuple[float, float]:
        """The worst value (closest to failing or most failed) and its signed margin."""
        f = log10 if self.log else float
        sign = 1 if self.op in (">", ">=") else -1
        past, value = min((sign * (f(v) - f(b)), v) for v, b in zip(self.values, self.bounds))
        return value, ratio(past, abs(f(self.median) - f(self.null)))

    def null_passes(self) -> bool:
        return OPS[self.op](self.null, statistics.median(self.bounds))


def rows(chapter: str, records_dir: Path = RECORDS) -> tuple[list[Row], list[dict], list[str]]:
    """One row per claim of the chapter (in the chapter's order), its runs, and stray names."""
    runs = sorted(
        (json.loads(p.read_text(encoding="utf-8")) for p in (records_dir / chapter).glob("*.json")),
        key=lambda r: r["seed"],
    )
    known = chapter_claims(ROOT / "notebooks" / f"{chapter}.py")
    table = {name: Row(name, kind, [], [], [], [], "", 0) for name, kind in known}
    stray: set[str] = set()
    for run in runs:
        for c in run["claims"]:
            row = table.get(c["name"])
            if row is None or row.kind != c["kind"]:
                stray.add(c["name"])
                continue
            if run["seed"] not in row.seeds:
                row.seeds.append(run["seed"])
            row.failed += not c["ok"]
            if c["kind"] == "bound":
                row.values.append(c["value"])
                row.bounds.append(c["bound"])
                row.nulls.append(c["null"])
                row.op = c["op"]
                row.log = c.get("log", False)
    return list(table.values()), runs, sorted(stray)


def fmt(x: float) -> str:
    if x != x:
        return "nan"
    if abs(x) == float("inf"):
        return "∞" if x > 0 else "−∞"
    return f"{x:.3g}".replace("-", "−")


def span(xs: list[float]) -> str:
    lo, hi = min(xs), max(xs)
    return fmt(lo) if lo == hi else f"{fmt(lo)} to {fmt(hi)}"


def chapter_table(chapter: str, records_dir: Path = RECORDS) -> tuple[str, list[str]]:
    """The chapter's markdown table, and a line for each knife edge, failure or stray record."""
    table, runs, stray = rows(chapter, records_dir)
    seeds = [r["seed"] for r in runs]
    notes = [f"{chapter}: a record names a claim the chapter no longer has: {n!r}" for n in stray]
    lines = [
        f"**Seeds**: {', '.join(map(str, seeds)) or 'none recorded'}"
        + (f"; {sum(r['seconds'] for r in runs) / 60:.0f} CPU-minutes in all" if runs else ""),
        "",
        "| claim | needs | null | min | median | max | worst margin | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in table:
        n = len(row.seeds)
        if row.kind == "exact":
            held = "held" if not row.failed else f"**failed {row.failed}×**"
            lines.append(f"| {row.name} | exact | | | | | {held if n else 'not recorded'} | {n} |")
            if row.failed:
                notes.append(f"{chapter}: FAILED {row.failed}x: {row.name}")
            continue
        if not row.values:
            lines.append(f"| {row.name} | | | | | | not recorded | 0 |")
            notes.append(f"{chapter}: not recorded: {row.name}")
            continue
        _, m = row.worst()
        flag = " (null passes)" if row.null_passes() else ""
        log = " (log)" if row.log else ""
        edge = "**" if m < KNIFE_EDGE else ""
        lines.append(
            f"| {row.name} | {row.op.replace('>', '&gt;').replace('<', '&lt;')} {span(row.bounds)}{log} "
            f"| {fmt(row.null)}{flag} | {fmt(min(row.values))} | {fmt(row.median)} "
            f"| {fmt(max(row.values))} | {edge}{fmt(m)}{edge} | {n} |"
        )
        if m < KNIFE_EDGE:
            what = f"FAILED {row.failed}x" if row.failed else "knife edge"
            notes.append(f"{chapter}: {what} (margin {fmt(m)}): {row.name}")
        if row.null_passes():
            notes.append(f"{chapter}: the null passes the bound: {row.name}")
    return "\n".join(lines), notes


INTRO = """\
Every assertion cell in this book is a *claim* about the run you just executed: a measured value,
the bound it must pass, and the **null**, the value a run *without* the phenomenon would give (a
control the chapter computes, the model at initialisation, or chance). A chapter must pass for any
value of its `SEED`, so we ran every chapter at several seeds and recorded every claim. This page
shows how close each claim came to failing.

- **needs**: the direction and bound (a range where the bound is itself measured in the run).
- **null**: the median null over the runs; "(null passes)" marks a claim whose null would pass
  its own bound: that claim does not rule its null out.
- **min / median / max**: the measured value over every recorded seed, and over every run a
  chapter's loop asserts (several chapters train several seeds themselves).
- **worst margin**: (worst value − bound) / |median value − null|, signed so that a failure is
  negative. A margin of 1 means the worst seed cleared the bound by as much as the typical run
  stands from its null; under 0.1 (in bold) is a knife edge that a new seed may cross.
- **(log)**: an error or tolerance that spans orders of magnitude; its margin is measured in
  orders of magnitude (log10 of value, bound and null).
- **exact**: checks with no margin (an exercise's reference solution, a complete set of runs).

Generated by `make margins` from the records in `benchmarks/claims/` (one file per chapter and
seed); `benchmarks/margins.md` holds the same table.
"""


def chapters() -> list[str]:
    sys.path.insert(0, str(ROOT / "scripts"))
    import execute

    order = [
        line.split("notebooks/")[1].strip()
        for line in (ROOT / "_toc.yml").read_text(encoding="utf-8").splitlines()
        if "file: notebooks/" in line
    ]
    return [c for c in order if c in execute.chapters()]


def render(records_dir: Path = RECORDS, for_book: bool = False) -> tuple[str, list[str]]:
    """The whole table (the book page if ``for_book``), and the notes on knife edges."""
    parts, notes = ["# How sure is each claim?", "", INTRO], []
    for chapter in chapters():
        table, n = chapter_table(chapter, records_dir)
        title = f"{{doc}}`../notebooks/{chapter}`" if for_book else f"`{chapter}`"
        parts += [f"## {title}", "", table, ""]
        notes += n
    return "\n".join(parts), notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="fail if the tables are not up to date"
    )
    args = parser.parse_args(argv)
    page, notes = render(for_book=True)
    table, _ = render()
    if args.check:
        stale = [
            p
            for p, text in ((PAGE, page), (TABLE, table))
            if not p.exists() or p.read_text(encoding="utf-8") != text
        ]
        for p in stale:
            print(
                f"{p.relative_to(ROOT)} is not what the records give: run python benchmarks/margins.py"
            )
        return 1 if stale else 0
    PAGE.write_text(page, encoding="utf-8")
    TABLE.write_text(table, encoding="utf-8")
    print("\n".join(notes) or "no knife edges, failures or stray records")
    print(f"wrote {TABLE.relative_to(ROOT)} and {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
