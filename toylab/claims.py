"""Claims: the chapters' assertion cells, as data.

Every assertion in a chapter is a call of ``claim``. A claim has a name (a short sentence the
reader can find in the margins table), the value this run measured, the direction and bound it
must satisfy, and the *null*: the value a run without the phenomenon would give, taken from the
strongest simpler explanation the chapter computes (a control arm, the model at step 0, a shuffled
or ablated version, or chance where nothing stronger applies).

A failing claim raises ``ClaimFailed`` (an ``AssertionError``) whose message shows all four.
With ``TOYLAB_CLAIMS`` set to a file path, every claim, passing or not, also appends one JSON line
to that file; ``make margins`` runs the chapters at many seeds that way and tabulates, for each
claim, how far its worst seed is from its bound ("How sure is each claim?" in the book).

``exact`` is for the few checks that have no margin: an exercise's solution agrees with the
reference, a set of runs is complete. Never use it for a threshold on a measured number.

Taught in: the book's introduction ("How to read a check") and its page "How sure is each claim?".
"""

from __future__ import annotations

import json
import math
import operator
import os
from collections.abc import Callable
from pathlib import Path

ENV = "TOYLAB_CLAIMS"  # a file path: each claim appends one JSON line to it

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class ClaimFailed(AssertionError):
    """A chapter's claim did not hold in this run.

    Taught in: the introduction ("How to read a check") and "How sure is each claim?".
    """


def _number(what: str, x: object) -> float:
    """``x`` as a float (Python and NumPy numbers, one-element tensors and arrays)."""
    if isinstance(x, bool) or x is None:
        raise TypeError(f"a claim's {what} must be a number, not {x!r}")
    try:
        return float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError) as err:
        raise TypeError(f"a claim's {what} must be a number, not {type(x).__name__}") from err


FLOOR = 1e-16  # float64's resolution: an error below it (or exactly 0) counts as this


def log10(x: float) -> float:
    """Orders of magnitude, floored at ``FLOOR`` (so that an error of exactly 0 has a margin).

    Taught in: the introduction ("How to read a check") and "How sure is each claim?".
    """
    return math.log10(max(x, FLOOR))


def margin(value: float, op: str, bound: float, null: float, log: bool = False) -> float:
    """How far ``value`` is past ``bound``, in units of its distance from ``null``.

    Positive when the claim holds, negative when it fails; 0 at the bound. With ``log``, the three
    are compared in orders of magnitude (for errors and tolerances: 1e-9 under a bound of 1e-6 is
    far from failing, though the bound is close to 0 next to a null of 0.5). The margins table uses
    the same formula with the worst seed's value over the median value.

    Taught in: the introduction ("How to read a check") and "How sure is each claim?".
    """
    if log:
        value, bound, null = log10(value), log10(bound), log10(null)
    past = value - bound if op in (">", ">=") else bound - value
    return ratio(past, abs(value - null))


def ratio(past: float, scale: float) -> float:
    """``past / scale``, with the edge cases signed: a NaN fails, an infinite pass passes.

    Taught in: the introduction ("How to read a check") and "How sure is each claim?".
    """
    if math.isnan(past):
        return -math.inf
    if scale == 0 or math.isnan(scale) or math.isinf(past):
        return math.inf if past > 0 else (0.0 if past == 0 else -math.inf)
    return past / scale


def _record(entry: dict) -> None:
    path = os.environ.get(ENV)
    if not path:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def claim(
    name: str, value: object, op: str, bound: object, *, null: object, log: bool = False
) -> None:
    """Assert ``value op bound`` (``op`` one of > >= < <=), naming the ``null`` it is tested against.

    ``log=True`` for a positive quantity that spans orders of magnitude (an error, a tolerance):
    its margin is then measured in orders of magnitude. What is asserted is the same.

    >>> claim("the model memorises", 0.97, ">", 0.9, null=0.01)
    >>> claim("least squares is exact", 3e-12, "<", 1e-6, null=0.4, log=True)

    Taught in: the introduction ("How to read a check") and "How sure is each claim?".
    """
    if not isinstance(name, str) or not name.strip():
        raise TypeError("a claim needs a name: a short sentence saying what it shows")
    if op not in OPS:
        raise ValueError(f"a claim's direction is one of {' '.join(OPS)}, not {op!r}")
    v, b, n = _number("value", value), _number("bound", bound), _number("null", null)
    if log and not (v >= 0 and b > 0 and n > 0):
        raise ValueError(f"{name}: log=True needs a value >= 0 and a bound and null > 0")
    ok = OPS[op](v, b)  # NaN fails every direction
    entry = dict(name=name, kind="bound", value=v, op=op, bound=b, null=n, ok=ok)
    _record({**entry, "log": True} if log else entry)
    if not ok:
        raise ClaimFailed(
            f"{name}: measured {v:.4g}, needs {op} {b:.4g} "
            f"(null {n:.4g}; margin {margin(v, op, b, n, log):+.2f})"
        )


def exact(name: str, ok: bool, detail: str = "") -> None:
    """Assert a check with no margin (an exercise solution, a complete set); ``detail`` if it fails.

    Taught in: the introduction ("How to read a check") and "How sure is each claim?".
    """
    if not isinstance(name, str) or not name.strip():
        raise TypeError("a check needs a name: a short sentence saying what it shows")
    if not isinstance(ok, bool):
        raise TypeError(f"exact() takes a bool, not {type(ok).__name__}: use claim() for numbers")
    _record(dict(name=name, kind="exact", ok=ok))
    if not ok:
        raise ClaimFailed(f"{name}{': ' + detail if detail else ''}")
