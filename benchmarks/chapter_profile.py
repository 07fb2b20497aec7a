"""Where each chapter's time goes: training against analysis, and its slowest cells.

Executes every chapter alone, cold (its own empty run cache, all cores), the way a reader's first
run goes, and writes ``benchmarks/profile.md``: each chapter's time beside its budget, the part
spent training (the ``seconds`` every run in its run cache records), the rest (analysis, plots,
imports), and its slowest cells. ``make bench`` runs it; it takes as long as every chapter
together (about 20 minutes on the 2-core machine).

    python benchmarks/chapter_profile.py                       # every chapter; writes profile.md
    python benchmarks/chapter_profile.py --chapters grokking   # print only
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import execute  # noqa: E402

OUT = ROOT / "benchmarks" / "profile.md"


def cell_seconds(nb) -> list[tuple[float, str]]:
    """(seconds, first line) of each executed code cell, from nbclient's timing metadata."""
    out = []
    for cell in nb.cells:
        t = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type == "code" and "iopub.execute_input" in t and "shell.execute_reply" in t:
            start, end = (
                datetime.fromisoformat(t[k][:26].rstrip("Z"))
                for k in ("iopub.execute_input", "shell.execute_reply")
            )
            first = next(
                (ln for ln in cell.source.splitlines() if ln.strip() and not ln.startswith("#")), ""
            )
            out.append(((end - start).total_seconds(), first.strip()[:60]))
    return out


def training_seconds(run_cache: Path) -> float:
    """Seconds spent training, summed over every run a chapter left in its run cache."""
    from toylab.cache import load_verified

    return sum(float(load_verified(p)["seconds"]) for p in run_cache.glob("*/run.pt"))


def profile(name: str) -> dict:
    """Execute one chapter alone and cold; its total, training and slowest cells."""
    with tempfile.TemporaryDirectory() as cache:
        r = execute.run(execute.Job(name, None, cache))
        if not r.ok:
            raise RuntimeError(f"{name} failed: {r.failure}")
        cells = sorted(cell_seconds(r.nb), reverse=True)
        return dict(name=name, total=r.seconds, training=training_seconds(Path(cache)), cells=cells)


def table(rows: list[dict]) -> str:
    budget = execute.budgets()
    lines = [
        "| chapter | cold, alone | budget | training | rest (analysis, plots) | slowest cells |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        slow = "; ".join(f"{s:.0f} s `{src}`" for s, src in r["cells"][:3])
        lines.append(
            f"| {r['name']} | {r['total']:.0f} s | {budget.get(r['name'], '-')} s | "
            f"{r['training']:.0f} s | {r['total'] - r['training']:.0f} s | {slow} |"
        )
    total = sum(r["total"] for r in rows)
    train = sum(r["training"] for r in rows)
    lines.append(f"| **all** | {total:.0f} s | | {train:.0f} s | {total - train:.0f} s | |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--chapters", nargs="*", help="chapter names (default: all, and write profile.md)"
    )
    args = parser.parse_args()
    rows = []
    for name in args.chapters or execute.chapters():
        rows.append(profile(name))
        print(
            f"{name}: {rows[-1]['total']:.0f} s ({rows[-1]['training']:.0f} s training)", flush=True
        )
    text = table(rows)
    print(text)
    if not args.chapters:
        OUT.write_text(
            "# Where each chapter's time goes\n\n"
            "Written by `benchmarks/chapter_profile.py` (`make bench`): each chapter executed alone with an\n"
            "empty run cache on the 2-core machine CI uses. *Training* is the time every run in the\n"
            "chapter's run cache records; *rest* is everything else (analysis, plots, imports).\n\n"
            + text
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
