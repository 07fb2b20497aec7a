"""Head scores for the induction-head chapter (Elhage et al. 2021; Olsson et al. 2022).

Attention patterns follow TransformerLens: ``pattern[batch, head, query, key]``
(``blocks.L.attn.hook_pattern``). Weights use its row-vector convention, so a
head's OV circuit is W_OV = W_V W_O and its QK circuit W_QK = W_Q W_Kᵀ, both
(d_model, d_model).

For the induction-head chapter (issue 4); this module is its toolbox.
"""

from __future__ import annotations

import torch
from torch import Tensor


def repeated_random_tokens(batch: int, length: int, d_vocab: int, repeats: int = 2,
                           generator: torch.Generator | None = None, bos: int | None = None) -> Tensor:
    """Random tokens of ``length`` repeated ``repeats`` times, after an optional BOS: (batch, [1 +] length·repeats).

    Olsson et al.'s prefix-matching test uses 25 tokens x 4 repeats after a BOS.
    """
    if min(batch, length, d_vocab, repeats) < 1:
        raise ValueError("batch, length, d_vocab and repeats must be positive")
    block = torch.randint(d_vocab, (batch, length), generator=generator)
    tokens = block.repeat(1, repeats)
    if bos is not None:
        tokens = torch.cat([torch.full((batch, 1), bos), tokens], dim=1)
    return tokens


def previous_token_scores(pattern: Tensor) -> Tensor:
    """Mean attention from each position i >= 1 to i - 1, per head: (n_heads,)."""
    _check_pattern(pattern)
    return pattern.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(0, -1))


def prefix_matching_scores(pattern: Tensor, period: int, offset: int = 0) -> Tensor:
    """Mean attention to the token right after the previous copy of the current token, per head.

    For sequences that repeat with ``period`` starting at position ``offset``
    (1 after a BOS), the query at position i (from the second copy on) should
    attend to key i - period + 1. Returns (n_heads,).
    """
    _check_pattern(pattern)
    if not 1 <= period < pattern.shape[-1] - offset:
        raise ValueError(f"period {period} does not fit {pattern.shape[-1]} positions after offset {offset}")
    # the diagonal key = query - (period - 1), queries from offset + period on
    diagonal = pattern.diagonal(offset=-(period - 1), dim1=-2, dim2=-1)  # (batch, head, n_pos - period + 1)
    return diagonal[..., offset + 1:].mean(dim=(0, -1))


def ov_copying_score(W_E: Tensor, W_OV: Tensor, W_U: Tensor) -> float:
    """Eigenvalue positivity Σλ / Σ|λ| of the full OV circuit W_E W_OV W_U (vocab x vocab).

    +1 for a head that copies (its circuit maps each token to itself), −1 for one that suppresses it.
    """
    circuit = (W_E @ W_OV @ W_U).double()
    eig = torch.linalg.eigvals(circuit)
    return float(eig.sum().real / eig.abs().sum())


def composition_score(first: Tensor, second: Tensor) -> float:
    """‖first · second‖_F / (‖first‖_F ‖second‖_F): how much ``second`` reads what ``first`` writes."""
    return float((first @ second).norm() / (first.norm() * second.norm()))


def k_composition(W_OV_early: Tensor, W_QK_late: Tensor) -> float:
    """K-composition: the late head's keys read the early head's output. ‖W_OV W_QKᵀ‖ / (‖W_OV‖ ‖W_QK‖)."""
    return composition_score(W_OV_early, W_QK_late.T)


def q_composition(W_OV_early: Tensor, W_QK_late: Tensor) -> float:
    """Q-composition: the late head's queries read the early head's output."""
    return composition_score(W_OV_early, W_QK_late)


def v_composition(W_OV_early: Tensor, W_OV_late: Tensor) -> float:
    """V-composition: the late head's values read the early head's output."""
    return composition_score(W_OV_early, W_OV_late)


def random_composition_baseline(d_model: int, d_head: int, n_samples: int = 200, seed: int = 0) -> float:
    """Mean composition score of random rank-``d_head`` matrices shaped like W_OV and W_QK.

    Subtract it from a measured score: random matrices compose a little by chance
    (about sqrt(d_head) / d_model for low-rank factors).
    """
    gen = torch.Generator().manual_seed(seed)

    def low_rank() -> Tensor:
        return torch.randn(d_model, d_head, generator=gen) @ torch.randn(d_head, d_model, generator=gen)

    return sum(composition_score(low_rank(), low_rank()) for _ in range(n_samples)) / n_samples


def _check_pattern(pattern: Tensor) -> None:
    if pattern.ndim != 4 or pattern.shape[-1] != pattern.shape[-2]:
        raise ValueError(f"expected an attention pattern (batch, head, query, key), got shape {tuple(pattern.shape)}")
