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
    assert not any("pos" in name for name, _ in m.named_parameters())
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
    assert any(q is m.b_U for q in m.parameters()) and m.b_U.requires_grad, "b_U is trained"
