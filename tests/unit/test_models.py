import contextlib
import copy

import pytest
import torch

from toylab.models import build_transformer

OK = dict(n_layers=1, d_model=8, d_head=4, n_heads=2, n_ctx=3, d_vocab=5, d_mlp=8)


@pytest.mark.parametrize(
    "config, message",
    [
        ({**OK, "d_model": 0, "n_heads": 1}, "d_model must be"),
        ({**OK, "act_fn": "nope"}, "cannot build"),
        ({**OK, "colour": "red"}, "cannot build"),
    ],
)
def test_bad_configs_raise_value_error(config, message):
    with pytest.raises(ValueError, match=message):
        build_transformer(config)


def test_same_seed_same_weights_other_seed_other_weights():
    def weights(seed):
        return {
            k: v for k, v in build_transformer(OK, seed=seed).state_dict().items() if v.ndim == 2
        }

    a, b, c = weights(1), weights(1), weights(2)
    assert a and all(torch.equal(a[k], b[k]) for k in a)
    assert not any(torch.equal(a[k], c[k]) for k in a)


def test_rotary_model_builds_without_learned_positions():
    cfg = {**OK, "positional_embedding_type": "rotary", "rotary_dim": 4, "n_ctx": 8}
    m = build_transformer(cfg, seed=0)
    assert m.original_model.pos is None
    x = torch.tensor([[1, 2, 3, 4, 1, 2, 3, 4]])
    assert m(x).shape == (1, 8, 5)
    assert torch.equal(m(x), build_transformer(cfg, seed=0)(x))  # seeded like the others


def test_initialised_as_hooked_transformer_was():
    """HookedTransformer's draws, by hand: W_E, W_pos, W_Q, W_O, W_K, W_V, W_in, W_out, W_U."""
    m = build_transformer(OK, seed=3)
    torch.manual_seed(3)
    std = 0.8 / OK["d_model"] ** 0.5
    shapes = dict(W_E=(5, 8), W_pos=(3, 8), W_Q=(2, 8, 4), W_O=(2, 4, 8), W_K=(2, 8, 4),
                  W_V=(2, 8, 4), W_in=(8, 8), W_out=(8, 8), W_U=(8, 5))  # fmt: skip
    want = {name: torch.randn(shape) * std for name, shape in shapes.items()}
    got = dict(W_E=m.W_E, W_pos=m.W_pos, W_Q=m.W_Q[0], W_O=m.W_O[0], W_K=m.W_K[0],
               W_V=m.W_V[0], W_in=m.W_in[0], W_out=m.W_out[0], W_U=m.W_U)  # fmt: skip
    for name in shapes:
        assert torch.allclose(got[name], want[name], atol=1e-6), name
    assert all(not v.any() for k, v in m.state_dict().items() if k.endswith("bias"))
    assert any(q is m.original_model.head.bias for q in m.parameters()), "b_U is trained"


def test_tokens_follow_the_weights():
    """The bridge passes CPU tokens on as they come; build_transformer moves them to the weights."""
    m = build_transformer(OK)
    seen = []
    m.embed.register_forward_pre_hook(lambda module, args: seen.append(args[0].device))
    torch.nn.Module.to(m, "meta")  # as a module holding the model moves it to a GPU
    with contextlib.suppress(Exception):  # meta weights hold no values: fails after the hook
        m(torch.zeros(1, 3, dtype=torch.long))
    assert seen and seen[0].type == "meta"


def test_a_copy_runs_on_its_own_hooks():
    """A deep copy's forward pass must not write into, or fire hooks of, the model it came from."""
    m = build_transformer(OK)
    tokens = torch.zeros(2, 3, dtype=torch.long)
    m(tokens)  # a block wires its capture hooks on its first forward pass
    twin = copy.deepcopy(m)
    fired = []
    with twin.hooks(fwd_hooks=[("blocks.0.hook_resid_mid", lambda x, hook: fired.append(1))]):
        out = twin(tokens)  # with grad: the residual it captures has a graph
    assert fired, "the copy's own hook fired"
    assert m.blocks[0].attn._captured_pre_ln_residual is None, "nothing written into the original"
    assert torch.equal(out, m(tokens))
    copy.deepcopy(m)  # the original can still be copied
    copy.deepcopy(twin)(tokens)  # and so can the copy, with the fix again


def test_the_copy_fix_fails_loudly_when_transformer_lens_changes():
    """If a release renames what the deepcopy fix rewires, copying says so instead of doing nothing."""
    m = build_transformer(OK)
    m(torch.zeros(1, 3, dtype=torch.long))
    block = next(b for b in m.modules() if hasattr(b, "_capture_hooks_wired"))
    del block._capture_hooks_wired  # as if the attribute were renamed
    with pytest.raises(RuntimeError, match="TransformerLens changed"):
        copy.deepcopy(m)
    m = build_transformer(OK)
    m(torch.zeros(1, 3, dtype=torch.long))
    for sub in m.modules():  # as if the capture hooks were renamed
        for key, fn in list(sub._forward_pre_hooks.items()):
            if getattr(fn, "__name__", "").startswith("_capture"):
                sub._forward_pre_hooks[key] = lambda *a, **k: None
    with pytest.raises(RuntimeError, match="none is named _capture"):
        copy.deepcopy(m)


def test_the_head_bias_conversion_fails_loudly_when_transformer_lens_changes(monkeypatch):
    from transformer_lens.model_bridge import TransformerBridge

    boot = TransformerBridge.boot_native

    def boot_with_a_trained_bias(*args, **kwargs):
        model = boot(*args, **kwargs)
        head = model.original_model.head.original_component
        head.bias = torch.nn.Parameter(head._buffers.pop("bias"))  # as a release might
        return model

    monkeypatch.setattr(TransformerBridge, "boot_native", boot_with_a_trained_bias)
    with pytest.raises(RuntimeError, match="no longer a buffer"):
        build_transformer(OK)
