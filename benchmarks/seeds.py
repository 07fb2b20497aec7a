"""Run every chapter with other values of its ``SEED`` and print a pass/fail table.

A chapter's assertion cells are its claims; they must hold for any seed, not only the one its
author tried. This script executes each chapter top to bottom with ``SEED = <n>`` substituted for
its ``SEED`` line, in a fresh kernel with an empty run cache, and reports the first assertion that
fails. It is not part of ``make test`` (it trains every model again for every seed); CI runs it
for one seed derived from the commit it tests.

    make seeds                          # every chapter, seeds 1 2 3
    make seeds SEEDS="7 11"             # other seeds
    python benchmarks/seeds.py --chapters grokking --seeds 5
    python benchmarks/seeds.py --from-commit HEAD   # CI: one seed derived from the commit hash
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED_LINE = re.compile(r"^SEED = \d+$", re.MULTILINE)


def with_seed(source: str, seed: int) -> str:
    """The chapter source with its one ``SEED = <int>`` line set to ``seed``."""
    if len(SEED_LINE.findall(source)) != 1:
        raise ValueError(
            "a chapter must define its seed on exactly one line of the form 'SEED = <int>'"
        )
    return SEED_LINE.sub(f"SEED = {seed}", source)


def seed_from_commit(rev: str = "HEAD") -> int:
    """A seed nobody chose: the commit hash's first 8 hex digits, mod 10,000, plus 1 (never the default 0)."""
    sha = subprocess.run(
        ["git", "rev-parse", rev], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return int(sha.strip()[:8], 16) % 10_000 + 1


def failure_summary(err: Exception) -> str:
    """One line naming the failed assertion (or the exception) of a CellExecutionError."""
    ename, evalue = getattr(err, "ename", type(err).__name__), getattr(err, "evalue", str(err))
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", ln).strip() for ln in str(err).splitlines()]
    marked = [ln for ln in lines if re.match(r"^-+>\s*\d+", ln)]  # IPython marks the failing line
    where = re.sub(r"^-+>\s*\d+\s*", "", marked[-1]) if marked else ""
    text = f"{ename}: {evalue}".strip().rstrip(":")
    return f"{text}  [{where}]" if where else text


def errors_in(nb) -> list[str]:
    """One line per failed cell of an executed notebook (run with ``allow_errors``)."""
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                err = Exception("\n".join(o.get("traceback", [])))
                err.ename, err.evalue = o.get("ename"), o.get("evalue")
                out.append(failure_summary(err))
    return out


def run_chapter(
    path: Path,
    seed: int,
    cache: str | None = None,
    save: Path | None = None,
    keep_going: bool = False,
) -> tuple[bool, float, str]:
    """Execute one chapter with ``SEED = seed``: (passed, seconds, failure).

    The run cache is empty unless ``cache`` names a folder to keep the trained runs in; the
    executed notebook, outputs and all, is written to ``save/<chapter>-seed<seed>.ipynb`` if given.
    """
    import jupytext
    import nbclient

    nb = jupytext.reads(with_seed(path.read_text(), seed), fmt="py:percent")
    with tempfile.TemporaryDirectory() as empty:
        env = dict(TOYLAB_CACHE=cache or empty, TOYLAB_PROGRESS="off", TOYLAB_STATIC="1")
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        start = time.perf_counter()
        try:
            client = nbclient.NotebookClient(
                nb,
                timeout=3600,
                kernel_name="python3",
                allow_errors=keep_going,
                resources={"metadata": {"path": str(path.parent)}},
            )
            client.execute()
            errors = errors_in(nb)
            return not errors, time.perf_counter() - start, " | ".join(errors)
        except nbclient.exceptions.CellExecutionError as err:
            return False, time.perf_counter() - start, failure_summary(err)
        except (nbclient.exceptions.DeadKernelError, nbclient.exceptions.CellTimeoutError) as err:
            return False, time.perf_counter() - start, f"{type(err).__name__}: {err}"
        finally:
            if save is not None:
                import nbformat

                save.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, save / f"{path.stem}-seed{seed}.ipynb")
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


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
        help="keep the trained runs in DIR (default: a fresh empty cache)",
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
    args = parser.parse_args()

    seeds = [seed_from_commit(args.from_commit)] if args.from_commit else args.seeds
    names = args.chapters or sorted(p.stem for p in (ROOT / "notebooks").glob("*.py"))
    print(
        f"seeds: {' '.join(map(str, seeds))}; reproduce one with: make seeds SEEDS=<seed>",
        flush=True,
    )
    rows = []
    for name in names:
        for seed in seeds:
            ok, seconds, why = run_chapter(
                ROOT / "notebooks" / f"{name}.py", seed, args.keep_cache, args.save, args.keep_going
            )
            rows.append((name, seed, ok, seconds, why))
            print(
                f"{name:<18} seed {seed:<6} {'pass' if ok else 'FAIL'}  {seconds:5.0f} s  {why}",
                flush=True,
            )

    print("\n| chapter | seed | result | time | failing assertion |\n|---|---|---|---|---|")
    for name, seed, ok, seconds, why in rows:
        print(
            f"| {name} | {seed} | {'pass' if ok else 'FAIL'} | {seconds:.0f} s | {why.replace('|', '/')} |"
        )
    failed = sum(not r[2] for r in rows)
    print(f"\nseed check: {len(rows) - failed} of {len(rows)} chapter runs held every assertion")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
