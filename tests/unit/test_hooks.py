"""Clamping and zero-ablation on tiny attention-only transformers, checked by hand.

The ablations only one chapter runs are tested with it: pattern-preserving and path ablation
in test_induction_heads.py, mean-ablation in test_ode_circuits.py.
"""

import pytest
import torch
from tiny import model, tokens

from toylab import hooks as H
from toylab.heads import previous_token_scores


def test_previous_token_pattern_is_perfect():
    p = H.previous_token_pattern(6)
    assert torch.allclose(p.sum(-1), torch.ones(6)) and torch.equal(p.tril(), p)
    assert previous_token_scores(p[None, None]).item() == 1.0
    with pytest.raises(ValueError, match="n_pos must be positive"):
        H.previous_token_pattern(0)


def test_clamp_replaces_one_head_and_with_hooks_leaves_no_hook_behind():
    m, t = model(), tokens()
    name, _ = hook = H.clamp_pattern(0, 1)
    _, clean = m.run_with_cache(t)
    with m.hooks(fwd_hooks=[hook]):
        _, clamped = m.run_with_cache(t)
    assert torch.equal(clamped[name][:, 1], H.previous_token_pattern(8).expand(4, 8, 8))
    assert torch.equal(clamped[name][:, [0, 2]], clean[name][:, [0, 2]])

    def loss(model, toks):
        return model(toks, return_type="loss")

    hooked = H.with_hooks(loss, [hook])
    with m.hooks(fwd_hooks=[hook]):
        want = loss(m, t)
    assert torch.equal(hooked(m, t), want)
    assert not torch.equal(loss(m, t), want), "a hook was left attached"


def test_zeroing_last_layer_heads_removes_exactly_their_direct_output():
    m, t = model(), tokens()
    logits, cache = m.run_with_cache(t)
    ablated = m.run_with_hooks(t, fwd_hooks=[H.zero_heads(1, [0, 2])])
    z = cache["blocks.1.attn.hook_z"]  # (batch, pos, head, d_head)
    direct = torch.einsum("bphd,hdm,mv->bpv", z[:, :, [0, 2]], m.W_O[1, [0, 2]], m.W_U)
    assert torch.allclose(ablated, logits - direct, atol=1e-4)
