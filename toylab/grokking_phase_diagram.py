"""The phase diagram of grokking: many of He et al.'s networks trained at once, one per cell.

The toolbox of the chapter ``notebooks/grokking_phase_diagram.py``: one training set
per (fraction, seed), and the loss that trains each member of an
:class:`toylab.ensemble.Ensemble` on its own pairs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from toylab import exercises
from toylab.data import modular_addition_data
from toylab.ensemble import Ensemble
from toylab.models import ModularMLP


def train_masks(p: int, fracs: list[float], seeds: list[int]) -> Tensor:
    """One random training set per (fraction, seed): a (p², E) bool mask, True = training pair.

    Column e is the training split of ``modular_addition_data(p, fracs[e], seeds[e])``;
    the same seed gives nested sets (a larger fraction adds pairs to a smaller one).

    Taught in: grokking_phase_diagram §2.
    """
    if len(fracs) != len(seeds) or not fracs:
        raise ValueError("fracs and seeds must be non-empty and of equal length")
    return torch.stack(
        [modular_addition_data(p, f, s).train_mask for f, s in zip(fracs, seeds)], dim=1
    )


def ensemble_loss(
    ensemble: nn.Module, x: Tensor, y: Tensor, labels: Tensor, masks: Tensor
) -> Tensor:
    """Σ over members of each member's mean cross-entropy on its own training pairs.

    ``ensemble(x, y)`` gives (E, B, p) logits for all B pairs; ``masks`` (B, E)
    says which pairs each member trains on. Each member's gradient depends on
    its own loss only, so the members train as if alone.

    Taught in: grokking_phase_diagram §2.
    """
    logits = ensemble(x, y)  # (M, B, p)
    labels, masks = labels.to(logits.device), masks.to(logits.device)
    ce = nn.functional.cross_entropy(
        logits.transpose(1, 2), labels.expand(logits.shape[0], -1), reduction="none"
    )  # (M, B)
    weights = masks.T.to(ce.dtype)
    return ((ce * weights).sum(1) / weights.sum(1)).sum()


def unseen_pairs(masks: Tensor, x: Tensor, y: Tensor, p: int) -> Tensor:
    """(p², E) bool: the pairs each member holds out whose swap (b, a) it holds out too.

    ``masks`` (p², E) marks each member's training pairs; row r is the pair
    (a, b) = (x[r], y[r]), stored at r = a·p + b. Only these pairs need an algorithm: the
    network is symmetric, so a held-out pair whose swap was trained on is
    answered by memory.

    Taught in: grokking_phase_diagram §2 (an exercise).
    """
    return ~masks & ~masks[y * p + x]


def first_above(steps: np.ndarray, values: np.ndarray, threshold: float) -> float:
    """The first logged step at which ``values`` exceeds ``threshold``, or NaN if it never does.

    Taught in: grokking_phase_diagram §2 (an exercise).
    """
    above = np.asarray(values) > threshold
    return float(np.asarray(steps)[np.argmax(above)]) if above.any() else float("nan")


def exercise_cases(name: str, seed: int = 0) -> list[exercises.Case]:
    """The cases an exercise of the chapter is checked on: random inputs and edge cases.

    ``name`` is ``"ensemble_loss"``, ``"unseen"`` or ``"first_above"``.

    Taught in: grokking_phase_diagram §2 (the exercises).
    """
    Case = exercises.Case
    if name == "ensemble_loss":
        d = modular_addition_data(5, 0.5, seed=seed)
        masks = train_masks(5, [0.3, 0.6, 0.6], [0, 0, 1])
        ensemble = Ensemble([ModularMLP(5, width=4, seed=s) for s in range(3)])
        every = torch.ones(25, 3, dtype=torch.bool)
        return [
            Case("3 members with their own training pairs", (ensemble, d.a, d.b, d.labels, masks)),
            Case("3 members trained on every pair", (ensemble, d.a, d.b, d.labels, every)),
        ]
    if name == "unseen":
        d = modular_addition_data(7, 0.5, seed=seed)
        masks = train_masks(7, [0.3, 0.75, 0.5], [seed, seed, seed + 1])
        everything = torch.ones(49, 1, dtype=torch.bool)
        return [
            Case("p = 7, three members", (masks, d.a, d.b, 7)),
            Case("a member trained on every pair (nothing unseen)", (everything, d.a, d.b, 7)),
        ]
    if name == "first_above":
        steps = np.arange(0, 500, 50)
        rising = np.linspace(0, 1, 10)
        return [
            Case("a rising curve", (steps, rising, 0.5)),
            Case("never above", (steps, rising * 0.5, 0.9)),
            Case("above from the start", (steps, rising + 1, 0.9)),
            Case("equal to the threshold is not above", (steps, np.full(10, 0.9), 0.9)),
        ]
    raise ValueError(f"no exercise named {name!r}")
