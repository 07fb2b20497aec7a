"""Coded exercises: check a reader's function against the book's, then go on with the right one.

Every coded exercise in the book has the same parts (``CONTRIBUTING.md``):
a statement with its difficulty and minutes, a stub that raises
``NotImplementedError``, a hint in a dropdown, then

    my_fn = exercises.check(my_fn, reference, cases)

which runs the reader's function beside the book's on every case (random inputs
and edge cases), prints the first difference it finds, and returns the function
the chapter then uses: the reader's when it is right, else the book's. So the
chapter runs top to bottom with the stub still in place, and a reader who solved
the exercise sees the rest of the chapter computed with their own code. The
solution follows, collapsed, and is checked the same way.

Taught in: grokking_network §1 (the first exercise that uses it); used by every chapter's exercises.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

Compare = Callable[[Any, Any], "str | None"]


@dataclass(frozen=True)
class Case:
    """One input to an exercise's check: what it tests, and the arguments.

    Taught in: grokking_network §1, through ``check``.
    """

    name: str  # what the case tests, e.g. "a row with a single frequency"
    args: tuple


def compare(got: Any, want: Any, atol: float = 1e-4, rtol: float = 1e-4) -> str | None:
    """What is wrong with ``got`` given the expected ``want``, or None if they agree.

    Tensors, arrays and numbers are compared in value (within ``atol + rtol·|want|``)
    and in shape; tuples and lists element by element.

    Taught in: grokking_network §1, through ``check``.
    """
    if isinstance(want, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(want):
            return f"expected {len(want)} values, got {_describe(got)}"
        for i, (g, w) in enumerate(zip(got, want)):
            problem = compare(g, w, atol, rtol)
            if problem:
                return f"value {i}: {problem}"
        return None
    try:
        g = torch.as_tensor(np.asarray(got.detach().cpu() if isinstance(got, Tensor) else got))
    except (TypeError, ValueError, RuntimeError):
        return f"expected a number or tensor, got {_describe(got)}"
    w = torch.as_tensor(np.asarray(want.detach().cpu() if isinstance(want, Tensor) else want))
    if g.shape != w.shape:
        return f"expected shape {tuple(w.shape)}, got shape {tuple(g.shape)}"
    g, w = g.double(), w.double()
    missing = torch.isnan(g) != torch.isnan(w)  # NaN where a number is expected, or the reverse
    if missing.any():
        i = int(missing.flatten().float().argmax())
        return f"expected {w.flatten()[i].item():.6g} at flat index {i}, got {g.flatten()[i].item():.6g}"
    if not torch.isfinite(g).all() and torch.isfinite(w).all():
        return "the result has NaN or infinite entries"
    g, w = torch.nan_to_num(g, nan=0.0), torch.nan_to_num(w, nan=0.0)  # NaN in both: agree
    err = (g - w).abs() - (atol + rtol * w.abs())
    if (err > 0).any():
        i = int(err.flatten().argmax())
        where = (
            f" at index {tuple(int(n) for n in np.unravel_index(i, tuple(w.shape)))}"
            if w.dim()
            else ""
        )
        return f"expected {w.flatten()[i].item():.6g}{where}, got {g.flatten()[i].item():.6g}"
    return None


def _describe(x: Any) -> str:
    if isinstance(x, Tensor):
        return f"a tensor of shape {tuple(x.shape)}"
    return f"{type(x).__name__} {x!r}"[:80]


def passes(
    fn: Callable, reference: Callable, cases: Sequence[Case], compare_fn: Compare = compare
) -> tuple[bool, str]:
    """Whether ``fn`` agrees with ``reference`` on every case, and a message saying why not.

    Taught in: grokking_network §1, through ``check``.
    """
    if not cases:
        raise ValueError("an exercise needs at least one case")
    for case in cases:
        want = reference(*copy.deepcopy(case.args))
        try:
            got = fn(
                *copy.deepcopy(case.args)
            )  # a function that edits its inputs can't spoil a case
        except NotImplementedError:
            return False, "Not implemented yet."
        except Exception as e:  # the reader's code: report any error, don't stop the chapter
            return False, f"On the case '{case.name}' your function raised {type(e).__name__}: {e}"
        problem = compare_fn(got, want)
        if problem:
            return False, f"On the case '{case.name}': {problem}."
    return True, f"Correct on all {len(cases)} cases."


def check(
    fn: Callable, reference: Callable, cases: Sequence[Case], compare_fn: Compare = compare
) -> Callable:
    """Check a reader's ``fn`` against ``reference``; return the one the chapter should go on with.

    Prints whether ``fn`` passed and, if not, the first case it got wrong. Returns
    ``fn`` when it passed, else ``reference`` (so a stub that still raises
    ``NotImplementedError`` lets the chapter run on).

    Taught in: grokking_network §1; used by every chapter's exercises.
    """
    ok, message = passes(fn, reference, cases, compare_fn)
    if ok:
        print(f"{message} The chapter now uses your function.")
        return fn
    print(f"{message} The chapter goes on with the book's version; fill in yours and re-run.")
    return reference
