"""The phase diagram of grokking: many of He et al.'s networks trained at once, one per cell.

The toolbox of the chapter ``notebooks/grokking_phase_diagram.py``: one training set
per (fraction, seed), and the loss that trains each member of an
:class:`toylab.ensemble.Ensemble` on its own pairs.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from toylab.data import modular_addition_data


def train_masks(p: int, fracs: list[float], seeds: list[int]) -> Tensor:
    """One random training set per (fraction, seed): a (p², M) bool mask, True = training pair.

    Column m is the training split of ``modular_addition_data(p, fracs[m], seeds[m])``;
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

    ``ensemble(x, y)`` gives (M, B, p) logits for all B pairs; ``masks`` (B, M)
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
