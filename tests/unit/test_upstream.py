"""Canaries: upstream bugs that toylab works around, reproduced on raw TransformerLens objects.

Each test asserts the behaviour we want and is a strict ``xfail`` while the bug is there. When a
release fixes it, the test passes, strict ``xfail`` turns that into a failure, and the message
says which workaround to delete. A broken premise raises another error, which fails the test
instead of passing as the expected failure. The minimal reproductions are in ``docs/upstream/``.
"""

import contextlib
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


def raw_bridge() -> TransformerBridge:
    """A bridge as TransformerLens builds it, without any of toylab's workarounds."""
    cfg = TransformerBridgeConfig(**CFG, device="cpu", seed=0)
    return TransformerBridge.boot_native(cfg, device="cpu")


def copy_trains_without_touching_the_original(model) -> None:
    """Copy a model that has run, train the copy one step, then copy the original again."""
    model(TOKENS)
    clone = copy.deepcopy(model)
    clone(TOKENS).sum().backward()
    try:
        copy.deepcopy(model)
    except RuntimeError as err:  # the bug's signature; any other error fails the test
        if "deepcopy protocol" not in str(err):
            raise
        raise AssertionError(
            f"the copy's forward left a tensor with a graph on the original: {err}"
        ) from None


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="TransformerLens 4.3: a deepcopied bridge's capture hooks still write into the "
    "original (docs/upstream/deepcopy-capture-hooks.md). If this passes, delete "
    "toylab.bridge._deepcopy_with_own_hooks (not Ensemble.__deepcopy__: its vmapped base "
    "keeps batched activations for another reason).",
)
def test_canary_a_copied_bridge_leaves_the_original_alone():
    raw = raw_bridge()
    copy_trains_without_touching_the_original(raw)


def test_the_workaround_holds_for_toylabs_bridges():
    copy_trains_without_touching_the_original(build_transformer(CFG))


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="TransformerLens 4.3: a module added under a hook point is a parameter of the bridge "
    "but not in its state_dict (docs/upstream/state-dict-hook-point-parameters.md). If this "
    "passes, toylab.bridge.attach_to_keys may attach its module to hook_k directly.",
)
def test_canary_a_parameter_under_a_hook_point_is_saved():
    raw = raw_bridge()
    extra = torch.nn.Linear(2, 2)
    raw.blocks[0].attn.hook_k.add_module("extra", extra)
    if not any(p is extra.weight for p in raw.parameters()):  # the premise, not the bug
        raise RuntimeError("the added module is not even a parameter: rewrite this canary")
    saved = {v.data_ptr() for v in raw.state_dict().values()}
    assert extra.weight.data_ptr() in saved  # ... and saved with it


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="TransformerLens 4.3: the bridge passes CPU tokens to weights on another device "
    "(docs/upstream/tokens-follow-the-weights.md). If this passes, delete "
    "toylab.bridge._inputs_follow_the_weights.",
)
def test_canary_tokens_meet_the_weights_on_their_device():
    raw = raw_bridge()
    seen = []
    raw.embed.register_forward_pre_hook(lambda module, args: seen.append(args[0].device))
    torch.nn.Module.to(raw, "meta")  # as a module holding the model moves it to a GPU
    with contextlib.suppress(Exception):  # meta weights hold no values: fails after the hook
        raw(torch.zeros(1, 3, dtype=torch.long))
    if not seen:  # the premise, not the bug
        raise RuntimeError("the embedding was never called: rewrite this canary")
    assert seen[0].type == "meta"
