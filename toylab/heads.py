"""Scores of attention heads that more than one chapter reads.

Attention patterns follow TransformerLens: ``pattern[batch, head, query, key]``
(``blocks.L.attn.hook_pattern``). Head scores used by one chapter only live in
that chapter's module (the induction-head chapter's prefix-matching and
composition scores are in :mod:`toylab.induction_heads`).
"""

from __future__ import annotations

from torch import Tensor


def previous_token_scores(pattern: Tensor) -> Tensor:
    """Mean attention from each position i >= 1 to i - 1, per head: (n_heads,).

    Taught in: induction_heads §1; ode_circuits §3; icl_classification §2.
    """
    check_pattern(pattern)
    return pattern.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(0, -1))


def check_pattern(pattern: Tensor) -> None:
    """Raise ``ValueError`` unless ``pattern`` is (batch, head, query, key) with query = key.

    Taught in: induction_heads §1; ode_circuits §3; icl_classification §2, through
    ``previous_token_scores``.
    """
    if pattern.ndim != 4 or pattern.shape[-1] != pattern.shape[-2]:
        raise ValueError(
            f"expected an attention pattern (batch, head, query, key), got shape {tuple(pattern.shape)}"
        )
