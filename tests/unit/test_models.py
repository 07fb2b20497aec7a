import pytest
import torch

from toylab.models import build_transformer, grokking_transformer


def test_grokking_transformer_shapes_init_and_frozen_biases():
    model = grokking_transformer(11, d_model=32, n_heads=4, d_mlp=64, seed=0)
    out = model(torch.tensor([[1, 2, 11]]))
    assert out.shape == (1, 3, 11)
    for name, param in model.named_parameters():
        if name.split(".")[-1].startswith("b_"):
            assert not param.requires_grad and param.abs().max() == 0
    assert model.embed.W_E.std().item() == pytest.approx(32**-0.5, rel=0.15)


def test_same_seed_same_weights():
    a = grokking_transformer(7, d_model=16, n_heads=2, d_mlp=16, seed=3).state_dict()
    b = grokking_transformer(7, d_model=16, n_heads=2, d_mlp=16, seed=3).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_heads_must_divide_width():
    with pytest.raises(ValueError, match="not divisible"):
        grokking_transformer(7, d_model=30, n_heads=4)


@pytest.mark.parametrize("config, message", [
    (dict(n_layers=1, d_model=0, d_head=4, n_heads=1, n_ctx=3, d_vocab=5, d_mlp=8), "d_model must be"),
    (dict(n_layers=1, d_model=8, d_head=4, n_heads=2, n_ctx=3, d_vocab=5, d_mlp=8, act_fn="nope"),
     "cannot build"),
    (dict(n_layers=1, d_model=8, d_head=4, n_heads=2, n_ctx=3, d_vocab=5, d_mlp=8, colour="red"),
     "cannot build"),
])
def test_bad_configs_raise_value_error(config, message):
    with pytest.raises(ValueError, match=message):
        build_transformer(config)
