"""Run every chapter with other values of its ``SEED`` and print a pass/fail table.

A chapter's assertion cells are its claims; they must hold for any seed, not only the one its
author tried. This script executes each chapter top to bottom with ``SEED = <n>`` substituted for
its ``SEED`` line, in a fresh kernel, and reports the first assertion that fails. The chapters of
one seed share one run cache, empty at the start (a chapter that loads another's runs loads
them instead of training them again); chapters run two at a time (``scripts/execute.py`` says
why). A chapter run at its own default seed that passes is stored in the book's execution
cache too (its cells are the book's), so a sweep that includes seed 0 leaves ``make book`` less
to execute. It is not part of ``make test`` (it trains every model again for every seed); CI runs it
for one seed derived from the commit it tests.

    make seeds                          # every chapter, seeds 1 2 3
    make seeds SEEDS="7 11"             # other seeds
    python benchmarks/seeds.py --chapters grokking --seeds 5
    python benchmarks/seeds.py --from-commit HEAD   # CI: one seed derived from the commit hash
    make margins SEEDS="0 1"            # and record every claim's value (benchmarks/margins.py)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import execute  # noqa: E402  (scripts/execute.py: runs the chapters)


def seed_from_commit(rev: str = "HEAD") -> int:
    """A seed nobody chose: the commit hash's first 8 hex digits, mod 10,000, plus 1 (never the default 0)."""
    sha = subprocess.run(
        ["git", "rev-parse", rev], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return int(sha.strip()[:8], 16) % 10_000 + 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seeds", type=int, nargs="*", default=[1, 2, 3], help="seeds to try (default 1 2 3)"
    )
    parser.add_argument(
        "--from-commit", metavar="REV", help="try one seed derived from this commit's hash"
    )
    parser.add_argument("--chapters", nargs="*", help="chapter names (default: all)")
    parser.add_argument(
        "--keep-cache",
        metavar="DIR",
        help="keep the trained runs in DIR/<seed> (default: a fresh empty cache per seed)",
    )
    parser.add_argument(
        "--save",
        metavar="DIR",
        type=Path,
        help="write each executed notebook (with outputs) to DIR",
    )
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="run every cell after a failure too, and list every failed assertion",
    )
    parser.add_argument(
        "--claims",
        metavar="DIR",
        type=Path,
        help="record every claim of each run in DIR/<chapter>/<seed>.json (make margins)",
    )
    parser.add_argument(
        "--jobs", type=int, default=execute.default_jobs(), help="chapters at once (default 2)"
    )
    args = parser.parse_args()

    seeds = [seed_from_commit(args.from_commit)] if args.from_commit else args.seeds
    names = args.chapters or execute.chapters()
    print(
        f"seeds: {' '.join(map(str, seeds))}; reproduce one with: make seeds SEEDS=<seed>",
        flush=True,
    )
    base = Path(args.keep_cache or tempfile.mkdtemp(prefix="toylab-seeds-"))
    threads = execute.threads_per_job(args.jobs)
    jobs = [
        execute.Job(
            n,
            s,
            str(base / str(s)),
            threads,
            args.keep_going,
            claims=str(base / f"claims-{n}-{s}.jsonl") if args.claims else None,
        )
        for s in seeds
        for n in names
    ]
    budget = execute.budgets()

    def report(r: execute.Result) -> None:
        print(execute.line(r, budget), flush=True)
        if r.ok and r.job.seed == execute.default_seed(r.job.name):
            execute.store_for_book(r)  # the same cells the book executes: no need to again
        if args.claims is not None:
            import margins  # benchmarks/margins.py

            margins.save(
                r.job.name, r.job.seed, Path(r.job.claims), r.ok, r.seconds, r.failure, args.claims
            )
        if args.save is not None:
            import nbformat

            args.save.mkdir(parents=True, exist_ok=True)
            nbformat.write(r.nb, args.save / f"{r.job.name}-seed{r.job.seed}.ipynb")

    start = time.perf_counter()
    results = execute.run_all(jobs, args.jobs, report)
    results.sort(key=lambda r: (r.job.name, r.job.seed))
    print("\n| chapter | seed | result | time | failing assertion |\n|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.job.name} | {r.job.seed} | {'pass' if r.ok else 'FAIL'} | {r.seconds:.0f} s "
            f"| {r.failure.replace('|', '/')} |"
        )
    failed = sum(not r.ok for r in results)
    print(
        f"\nseed check: {len(results) - failed} of {len(results)} chapter runs held every "
        f"assertion ({time.perf_counter() - start:.0f} s, {args.jobs} at once)"
    )
    print(f"seeds: {len(results) - failed} passed, {failed} failed")  # the line CI counts
    if not args.keep_cache:
        import shutil

        shutil.rmtree(base, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
