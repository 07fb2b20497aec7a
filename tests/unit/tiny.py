"""A tiny attention-only transformer and token batch, shared by the hook and induction tests."""

import torch

from toylab.models import build_transformer

CFG = dict(
    n_layers=2, d_model=16, d_head=4, n_heads=3, d_vocab=11, n_ctx=8, attn_only=True,
    normalization_type=None,
)  # fmt: skip


def model(**kw):
    """The tiny transformer (seed 0), with any config field overridden by ``kw``."""
    return build_transformer({**CFG, **kw}, seed=0)


def tokens(batch: int = 4) -> torch.Tensor:
    """(batch, n_ctx) random tokens, always the same."""
    return torch.randint(
        CFG["d_vocab"], (batch, CFG["n_ctx"]), generator=torch.Generator().manual_seed(1)
    )
