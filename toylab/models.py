"""The generic model builder: a TransformerLens ``HookedTransformer`` from a plain config.

Every activation of a ``HookedTransformer`` has a stable hook name
(``blocks.0.mlp.hook_post``), which is what the analyses read. Models are built
from their config alone: no hub, no download. A chapter's own architecture
(the grokking transformer, smeared keys, the state transformer) lives in that
chapter's module and starts from :func:`build_transformer` or its config.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from transformer_lens import HookedTransformer, HookedTransformerConfig


def build_transformer(config: dict[str, Any], seed: int = 0) -> HookedTransformer:
    """A CPU ``HookedTransformer`` built from a plain dict of config fields, seeded.

    Args:
        config: keyword arguments of ``HookedTransformerConfig`` (``n_layers``,
            ``d_model``, ``d_head``, ``n_heads``, ``d_vocab``, ``n_ctx``, ...).
        seed: seeds the weight initialisation.

    Raises:
        ValueError: the config cannot be built; the message says why.

    Taught in: induction_heads §2.
    """
    sizes = ("n_layers", "d_model", "d_head", "n_heads", "d_vocab", "n_ctx", "d_mlp", "d_vocab_out")
    for key in sizes:
        value = config.get(key)
        if value is not None and not (isinstance(value, int) and value >= 1):
            if key == "d_mlp" and config.get("attn_only"):
                continue
            raise ValueError(f"transformer config: {key} must be a positive integer, got {value!r}")
    try:
        cfg = HookedTransformerConfig(**{"device": "cpu", **config, "seed": seed})
        torch.manual_seed(seed)
        # TransformerLens 3.x warns in every constructor that 4.0 replaces the class; the book
        # pins 3.x (issue 16 moves to 4.x), so the warning would say nothing to the reader.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "HookedTransformer is deprecated", DeprecationWarning)
            return HookedTransformer(cfg)
    except (TypeError, ValueError, AssertionError, KeyError) as err:
        raise ValueError(f"cannot build a HookedTransformer from {config}: {err}") from None
