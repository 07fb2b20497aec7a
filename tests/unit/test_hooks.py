"""Clamping, ablation and patching on tiny attention-only transformers, checked by hand."""

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


def test_ablating_last_layer_heads_removes_exactly_their_direct_output():
    m, t = model(), tokens()
    logits, cache = m.run_with_cache(t)
    ablated = H.pattern_preserving_ablation(m, t, layer=1, heads=[0, 2])
    z = cache["blocks.1.attn.hook_z"]  # (batch, pos, head, d_head)
    direct = torch.einsum("bphd,hdm,mv->bpv", z[:, :, [0, 2]], m.W_O[1, [0, 2]], m.W_U)
    assert torch.allclose(ablated, logits - direct, atol=1e-4)


def test_mean_ablating_last_layer_heads_swaps_their_direct_output_for_the_mean():
    m, t = model(), tokens()
    logits, cache = m.run_with_cache(t)
    z = cache["blocks.1.attn.hook_z"]
    mean_z = z.mean(0)  # (pos, head, d_head)
    ablated = m.run_with_hooks(t, fwd_hooks=[H.mean_heads(1, [1], mean_z)])
    change = torch.einsum("bpd,dm,mv->bpv", mean_z[None, :, 1] - z[:, :, 1], m.W_O[1, 1], m.W_U)
    assert torch.allclose(ablated, logits + change, atol=1e-4)
    with pytest.raises(ValueError, match="mean of shape"):
        m.run_with_hooks(t, fwd_hooks=[H.mean_heads(1, [1], mean_z[:3])])


def test_pattern_preserving_ablation_of_layer_0_by_hand():
    """Without layer 0's heads, layer 1 reads a residual of embeddings only, through its *clean* patterns."""
    m, t = model(), tokens()
    _, clean = m.run_with_cache(t)
    resid = (
        clean["blocks.0.hook_resid_pre"] + m.b_O[0]
    )  # (batch, pos, d_model): heads write nothing
    v = torch.einsum("bpm,hmd->bphd", resid, m.W_V[1]) + m.b_V[1]
    z = torch.einsum("bhqk,bkhd->bqhd", clean["blocks.1.attn.hook_pattern"], v)
    out = resid + torch.einsum("bqhd,hdm->bqm", z, m.W_O[1]) + m.b_O[1]
    want = out @ m.W_U + m.b_U
    got = H.pattern_preserving_ablation(m, t, layer=0, heads=[0, 1, 2])
    assert torch.allclose(got, want, atol=1e-4)
    plain = m.run_with_hooks(t, fwd_hooks=[H.zero_heads(0, [0, 1, 2])])
    assert not torch.allclose(plain, want, atol=1e-4), (
        "plain ablation also moves layer 1's patterns"
    )


def test_freeze_patterns_rejects_a_wrong_shape():
    m = model()
    _, cache = m.run_with_cache(tokens(batch=4))
    with pytest.raises(ValueError, match="recorded pattern"):
        m.run_with_hooks(
            tokens(batch=2),
            fwd_hooks=H.freeze_patterns(
                {"blocks.0.attn.hook_pattern": cache["blocks.0.attn.hook_pattern"]}
            ),
        )


def test_path_ablation_into_every_input_leaves_only_the_direct_path():
    """Removing layer 0's writes from all of layer 1's inputs: layer 1 acts as if layer 0 wrote nothing,
    and layer 0's heads still reach the logits directly (no LayerNorm, so it adds up)."""
    m, t = model(), tokens()
    _, clean = m.run_with_cache(t)
    z = clean["blocks.0.attn.hook_z"]  # (batch, pos, head, d_head)
    direct = torch.einsum("bphd,hdm,mv->bpv", z, m.W_O[0], m.W_U)
    no_layer0 = m.run_with_hooks(t, fwd_hooks=[H.zero_heads(0, [0, 1, 2])])
    got = H.path_ablation(m, t, layer=0, heads=[0, 1, 2], into="qkv")
    assert torch.allclose(got, no_layer0 + direct, atol=1e-4)
    assert not m.cfg.use_split_qkv_input, "the model is left as it was"


def test_path_ablation_into_keys_changes_only_layer_1_patterns():
    m, t = model(), tokens()
    _, clean = m.run_with_cache(t)
    got_k = H.path_ablation(m, t, layer=0, heads=[1], into="k")
    # the same logits as recomputing layer 1 with keys from the residual minus head 1's output
    written = torch.einsum("bpd,dm->bpm", clean["blocks.0.attn.hook_z"][:, :, 1], m.W_O[0, 1])
    resid = clean["blocks.1.hook_resid_pre"]  # (batch, pos, d_model)
    q = torch.einsum("bpm,hmd->bphd", resid, m.W_Q[1]) + m.b_Q[1]
    k = torch.einsum("bpm,hmd->bphd", resid - written, m.W_K[1]) + m.b_K[1]
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / m.cfg.d_head**0.5
    scores = scores.masked_fill(~torch.ones(8, 8, dtype=torch.bool).tril(), float("-inf"))
    v = torch.einsum("bpm,hmd->bphd", resid, m.W_V[1]) + m.b_V[1]
    z1 = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v)
    want = (resid + torch.einsum("bqhd,hdm->bqm", z1, m.W_O[1]) + m.b_O[1]) @ m.W_U + m.b_U
    assert torch.allclose(got_k, want, atol=1e-4)
    with pytest.raises(ValueError, match="into must name"):
        H.path_ablation(m, t, layer=0, heads=[1], into="x")
    with pytest.raises(ValueError, match="no next layer"):
        H.path_ablation(m, t, layer=1, heads=[1], into="k")
