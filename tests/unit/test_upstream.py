"""Canaries: upstream bugs that toylab works around, reproduced on raw TransformerLens objects.

Each test asserts the behaviour we want and is a strict ``xfail`` while the bug is there. When a
release fixes it, the test passes, strict ``xfail`` turns that into a failure, and the message
says which workaround to delete. The minimal reproductions are in ``docs/upstream/``.
"""

import copy

import pytest
import torch
from transformer_lens.config import TransformerBridgeConfig
from transformer_lens.model_bridge import TransformerBridge

from toylab.models import build_transformer

CFG = dict(
    n_layers=1,
    d_model=16,
    d_head=4,
    n_heads=4,
    d_mlp=32,
    d_vocab=11,
    n_ctx=4,
    act_fn="relu",
    normalization_type=None,
)
TOKENS = torch.tensor([[1, 2, 3]])


def copy_trains_without_touching_the_original(model) -> None:
    """Copy a model that has run, train the copy one step, then copy the original again."""
    model(TOKENS)
    clone = copy.deepcopy(model)
    clone(TOKENS).sum().backward()
    copy.deepcopy(model)  # raises if the copy's forward left a tensor with a graph on it


@pytest.mark.xfail(
    strict=True,
    raises=RuntimeError,
    reason="TransformerLens 4.3: a deepcopied bridge's capture hooks still write into the "
    "original (docs/upstream/deepcopy-capture-hooks.md). If this passes, delete "
    "toylab.models._deepcopy_with_own_hooks and ensemble.py's copy workaround.",
)
def test_canary_a_copied_bridge_leaves_the_original_alone():
    raw = TransformerBridge.boot_native(
        TransformerBridgeConfig(**CFG, device="cpu", seed=0), device="cpu"
    )
    copy_trains_without_touching_the_original(raw)


def test_the_workaround_holds_for_toylabs_bridges():
    copy_trains_without_touching_the_original(build_transformer(CFG))
