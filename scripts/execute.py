"""Execute the chapters: each one once, two at a time, for the book or for other seeds.

Every check of the book executes chapters: the book build needs each chapter's outputs at its
default ``SEED``, and the seed check (``benchmarks/seeds.py``) runs them again at other seeds.
This script is the one place that does it.

- ``--book``: every chapter at its default seed, using the reader's run cache, and the executed
  notebooks stored in the book's execution cache (jupyter-cache, where myst-nb looks). The book
  build that follows then executes nothing: it takes the outputs from there. A chapter is not
  executed again while its cells, ``toylab`` and the lock are unchanged since its last execution.
- ``benchmarks/seeds.py`` (the seed check) runs every chapter at other seeds through
  :func:`run_all`, each seed on its own empty run cache that its chapters share (the
  learning-coefficient chapter loads the induction chapter's runs).

Chapters run in ``--jobs`` kernels at once (default: 2 on a machine with 2 cores or more), each
with its share of the cores as torch threads. Measured on the 2-core machine CI uses, cold: the
eight chapters one after another, each alone with two threads, take 968 s
(``benchmarks/profile.md``); two at a time with one thread each, 774-841 s in three runs. In a
one-thread lane a chapter is 1.3x (induction heads) to 1.9x (the grokking transformer) slower
than alone with two threads, never 2x, so two lanes finish sooner. The longest chapters start
first; a chapter that loads another's runs starts after it.

    python scripts/execute.py --book                     # `make book` runs this first
    python scripts/execute.py --book --chapters grokking --jobs 1 --force   # `make chapter`
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import os
import re
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BOOK_CACHE = ROOT / "_build" / ".jupyter_cache"  # myst-nb's execution cache in a jupyter-book build
SEED_LINE = re.compile(r"^SEED = \d+$", re.MULTILINE)
ENV = {"TOYLAB_PROGRESS": "off", "TOYLAB_STATIC": "1"}  # as the book build sets them

# Each chapter's cold execution, alone on the 2-core machine (seconds, from benchmarks/profile.md).
# They only order the work, longest first: a stale number costs speed, never correctness.
COST_S = {
    "grokking": 125,
    "grokking_network": 147,
    "grokking_phase_diagram": 104,
    "induction_heads": 108,
    "icl_regression": 118,
    "ode_circuits": 107,
    "learning_coefficient": 117,
    "repeated_data": 210,
    "icl_classification": 89,
}
# A chapter that loads another chapter's trained runs from the run cache starts after it.
AFTER = {"learning_coefficient": "induction_heads"}


def chapters() -> list[str]:
    """Every chapter's name: the notebooks/<name>.py files."""
    return sorted(p.stem for p in NOTEBOOKS.glob("*.py"))


def with_seed(source: str, seed: int) -> str:
    """The chapter source with its one ``SEED = <int>`` line set to ``seed``."""
    if len(SEED_LINE.findall(source)) != 1:
        raise ValueError(
            "a chapter must define its seed on exactly one line of the form 'SEED = <int>'"
        )
    return SEED_LINE.sub(f"SEED = {seed}", source)


def default_seed(name: str) -> int:
    """The chapter's own ``SEED`` (what the book executes it with)."""
    found = SEED_LINE.findall((NOTEBOOKS / f"{name}.py").read_text(encoding="utf-8"))
    if len(found) != 1:
        with_seed("", 0)  # raises: a chapter defines its seed on exactly one line
    return int(found[0].split("=")[1])


def load(name: str, seed: int | None = None):
    """The chapter's ``.ipynb`` twin (what the book reads), with ``SEED`` set if ``seed`` is given."""
    import nbformat

    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    if seed is not None:
        cells = [c for c in nb.cells if c.cell_type == "code" and SEED_LINE.search(c.source)]
        if len(cells) != 1:
            with_seed("", seed)  # raises the message above
        cells[0].source = with_seed(cells[0].source, seed)
    return nb


def failure_summary(err: Exception) -> str:
    """One line naming the failed assertion (or the exception) of a CellExecutionError."""
    ename, evalue = getattr(err, "ename", type(err).__name__), getattr(err, "evalue", str(err))
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", ln).strip() for ln in str(err).splitlines()]
    marked = [ln for ln in lines if re.match(r"^-+>\s*\d+", ln)]  # IPython marks the failing line
    where = re.sub(r"^-+>\s*\d+\s*", "", marked[-1]) if marked else ""
    text = f"{ename}: {evalue}".strip().rstrip(":")
    if ename == "ClaimFailed":  # toylab.claims: the message names the claim, value, bound and null
        return text
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


@dataclass
class Job:
    """One chapter to execute at one seed (None: the chapter's own) on one run cache."""

    name: str
    seed: int | None
    run_cache: str | None  # None: the reader's run cache (TOYLAB_CACHE or ~/.cache/toylab)
    threads: int | None = None  # torch threads in the kernel; None: torch's default
    keep_going: bool = False
    claims: str | None = None  # a file: each claim appends its JSON record (toylab.claims)


@dataclass
class Result:
    job: Job
    ok: bool
    seconds: float
    failure: str = ""
    nb: object = field(default=None, repr=False)


def run(job: Job) -> Result:
    """Execute one chapter in a fresh kernel; never raises for a failing cell."""
    import nbclient

    nb = load(job.name, job.seed)
    env = {**os.environ, **ENV}
    if job.run_cache is not None:
        env["TOYLAB_CACHE"] = job.run_cache
    if job.threads is not None:
        env.update(OMP_NUM_THREADS=str(job.threads), MKL_NUM_THREADS=str(job.threads))
    if job.claims is not None:
        Path(job.claims).unlink(missing_ok=True)
        env["TOYLAB_CLAIMS"] = job.claims
    client = nbclient.NotebookClient(
        nb,
        timeout=3600,
        kernel_name="python3",
        allow_errors=job.keep_going,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    start = time.perf_counter()
    try:
        client.execute(env=env)
        errors = errors_in(nb)
        return Result(job, not errors, time.perf_counter() - start, " | ".join(errors), nb)
    except nbclient.exceptions.CellExecutionError as err:
        return Result(job, False, time.perf_counter() - start, failure_summary(err), nb)
    except (nbclient.exceptions.DeadKernelError, nbclient.exceptions.CellTimeoutError) as err:
        return Result(job, False, time.perf_counter() - start, f"{type(err).__name__}: {err}", nb)


def order(jobs: list[Job]) -> list[Job]:
    """Longest first (by ``COST_S``), so that the last chapter to finish is a short one."""
    return sorted(jobs, key=lambda j: -COST_S.get(j.name, max(COST_S.values())))


def ready(pending: list[Job], running: list[Job]) -> list[Job]:
    """The pending jobs that may start now: those whose ``AFTER`` chapter (same seed) is done."""
    unfinished = {(j.name, j.seed) for j in pending + running}
    return [j for j in pending if (AFTER.get(j.name), j.seed) not in unfinished]


def run_all(jobs: list[Job], n_jobs: int, report=print) -> list[Result]:
    """Execute ``jobs`` in ``n_jobs`` kernels at once, longest first, each after its ``AFTER``.

    ``report(result)`` is called as each chapter finishes.
    """
    pending, results, running = order(jobs), [], {}
    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        while pending or running:
            for job in ready(pending, list(running.values()))[: n_jobs - len(running)]:
                pending.remove(job)
                running[pool.submit(run, job)] = job
            if not running:
                raise ValueError(f"AFTER has a cycle: {AFTER}")
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                del running[future]
                results.append(future.result())
                report(results[-1])
    return results


def default_jobs() -> int:
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def threads_per_job(n_jobs: int) -> int | None:
    """Each kernel's share of the cores; None (torch's default) when one kernel runs alone."""
    return None if n_jobs == 1 else max(1, (os.cpu_count() or 1) // n_jobs)


def store_for_book(result: Result) -> None:
    """Put an executed chapter where the book build finds it (myst-nb's jupyter-cache)."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    nb = copy.deepcopy(result.nb)
    for cell in nb.cells:  # nbclient's timings: the cache hashes every cell's metadata
        cell.metadata.pop("execution", None)
    get_cache(str(BOOK_CACHE)).cache_notebook_bundle(
        CacheBundleIn(
            nb,
            str(NOTEBOOKS / f"{result.job.name}.ipynb"),
            data={"execution_seconds": result.seconds, "toylab": code_digest()},
        ),
        check_validity=False,
        overwrite=True,
    )


def code_digest() -> str:
    """A hash of what a chapter's outputs depend on besides its cells: toylab and the lock."""
    h = hashlib.sha256()
    for path in sorted((ROOT / "toylab").glob("*.py")) + [ROOT / "requirements.txt"]:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def in_book_cache(name: str) -> bool:
    """Whether the book's execution cache holds this chapter, executed with its present cells
    and the present toylab (jupyter-cache itself compares only the cells)."""
    from jupyter_cache import get_cache

    try:
        record = get_cache(str(BOOK_CACHE)).match_cache_notebook(load(name))
    except KeyError:
        return False
    return record.data.get("toylab") == code_digest()


def line(r: Result, budget: dict[str, int] | None = None) -> str:
    seed = "default" if r.job.seed is None else str(r.job.seed)
    threads = f"{r.job.threads} thread" if r.job.threads else "all cores"
    extra = f"  (budget {budget[r.job.name]} s alone)" if budget and r.job.name in budget else ""
    status = "pass" if r.ok else "FAIL"
    return f"{r.job.name:<24} seed {seed:<8}{status}  {r.seconds:5.0f} s, {threads}{extra}  {r.failure}"


def budgets() -> dict[str, int]:
    """Each chapter's time budget, from ``benchmarks/run.py`` (where speed targets live)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CHAPTER_BUDGET_S


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--book", action="store_true", required=True, help="into the book's execution cache"
    )
    parser.add_argument("--chapters", nargs="*", help="chapter names (default: all)")
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="kernels at once")
    parser.add_argument("--force", action="store_true", help="execute unchanged chapters too")
    args = parser.parse_args(argv)

    names = args.chapters or chapters()
    todo = [n for n in names if args.force or not in_book_cache(n)]
    for n in sorted(set(names) - set(todo)):
        print(f"{n:<24} unchanged (cells, toylab, lock): not executed again", flush=True)
    jobs = [Job(n, None, None, threads_per_job(args.jobs)) for n in todo]
    budget = budgets()

    def report(r: Result) -> None:
        if r.ok:
            store_for_book(r)
        print(line(r, budget), flush=True)

    start = time.perf_counter()
    results = run_all(jobs, args.jobs, report)
    failed = [r for r in results if not r.ok]
    print(
        f"executed {len(results)} chapters in {time.perf_counter() - start:.0f} s "
        f"({args.jobs} at once); {len(failed)} failed",
        flush=True,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
