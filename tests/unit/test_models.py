import warnings

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
        return {k: v for k, v in build_transformer(OK, seed=seed).named_parameters() if ".W_" in k}

    a, b, c = weights(1), weights(1), weights(2)
    assert a and all(torch.equal(a[k], b[k]) for k in a)
    assert not any(torch.equal(a[k], c[k]) for k in a)


def test_the_constructor_warning_stays_inside_the_builder(recwarn):
    build_transformer(OK)
    assert not [w for w in recwarn if "deprecated" in str(w.message)]
    process_wide = [
        f for f in warnings.filters if f[1] is not None and "HookedTransformer" in f[1].pattern
    ]
    assert not process_wide, "the filter is around the constructor only"
