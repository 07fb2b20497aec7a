"""The batched ensemble trains every member exactly as it would train alone."""

import copy

import pytest
import torch
from torch import nn

from toylab.ensemble import Ensemble
from toylab.train import TrainConfig, train


class Tiny(nn.Module):
    def __init__(self, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.lin = nn.Linear(3, 4)
        self.out = nn.Linear(4, 1, bias=False)
        self.register_buffer("scale", torch.tensor(2.0))

    def forward(self, x):
        return self.out(torch.tanh(self.lin(x) * self.scale))[..., 0]


def data():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(64, 3, generator=gen)
    return X, torch.sin(X.sum(-1))


def test_forward_stacks_the_members():
    models = [Tiny(s) for s in range(3)]
    ens = Ensemble(models)
    X, _ = data()
    out = ens(X)
    assert out.shape == (3, 64) and len(ens) == 3
    for i, m in enumerate(models):
        assert torch.allclose(out[i], m(X), atol=1e-6)
        assert torch.allclose(ens.member(i)(X), m(X), atol=1e-6)
    assert sum(p.numel() for p in ens.parameters()) == 3 * sum(
        p.numel() for p in models[0].parameters()
    )


def test_each_member_runs_on_its_own_inputs():
    models = [Tiny(s) for s in range(3)]
    ens = Ensemble(models)
    X, _ = data()
    per_member = torch.stack([X, 2 * X, -X])  # (3, 64, 3)
    out = ens.each(per_member)
    for i, m in enumerate(models):
        assert torch.allclose(out[i], m(per_member[i]), atol=1e-6)
    with pytest.raises(ValueError, match="one input per member"):
        ens.each(X[:2])


def test_an_ensemble_of_bridges_can_be_copied_after_it_ran():
    from toylab import induction_task as task
    from toylab.models import build_transformer

    ens = Ensemble([build_transformer(task.model_config(1), seed=s) for s in range(2)])
    tokens = task.TEST_TOKENS[:4]
    out = ens(tokens)  # the bridge's blocks keep batched activations on the base
    clone = copy.deepcopy(ens)
    assert torch.allclose(clone(tokens), out)
    assert torch.allclose(clone.member(1)(tokens), out[1], atol=1e-5)


def test_training_the_ensemble_equals_training_each_member():
    cfg = TrainConfig(steps=50, lr=1e-2, weight_decay=0.1, log_every=25)
    X, y = data()
    ens = Ensemble([Tiny(s) for s in range(3)])
    train(ens, [X, y], lambda m, X, y: (m(X) - y).pow(2).mean(-1).sum(), cfg, use_cache=False)
    for i in range(3):
        alone = train(
            Tiny(i), [X, y], lambda m, X, y: (m(X) - y).pow(2).mean(), cfg, use_cache=False
        ).model
        assert torch.allclose(ens.member(i)(X), alone(X), atol=1e-5)


def test_per_member_weight_decay_equals_solo_runs():
    X, y = data()
    decays = (0.0, 0.5, 2.0)
    ens = Ensemble([Tiny(0) for _ in decays])
    cfg = dict(steps=40, lr=1e-2, log_every=20, warmup_steps=5)
    train(
        ens,
        [X, y],
        lambda m, X, y: (m(X) - y).pow(2).mean(-1).sum(),
        TrainConfig(weight_decay=decays, **cfg),
        use_cache=False,
    )
    for i, wd in enumerate(decays):
        alone = train(
            Tiny(0),
            [X, y],
            lambda m, X, y: (m(X) - y).pow(2).mean(),
            TrainConfig(weight_decay=wd, **cfg),
            use_cache=False,
        ).model
        assert torch.allclose(ens.member(i)(X), alone(X), atol=1e-5)
    with pytest.raises(ValueError, match="weight decays"):
        train(
            Tiny(0),
            [X, y],
            lambda m, X, y: (m(X) - y).pow(2).mean(),
            TrainConfig(weight_decay=decays, **cfg),
            use_cache=False,
        )
    with pytest.raises(ValueError, match="3 weight decays for an ensemble of 2 members"):
        train(
            Ensemble([Tiny(0), Tiny(1)]),
            [X, y],
            lambda m, X, y: (m(X) - y).pow(2).mean(-1).sum(),
            TrainConfig(weight_decay=decays, **cfg),
            use_cache=False,
        )
    with pytest.raises(ValueError, match="bad TrainConfig"):
        TrainConfig(steps=5, weight_decay=(0.1, -1.0))


def test_bad_ensembles():
    with pytest.raises(ValueError, match="at least one model"):
        Ensemble([])
    other = Tiny(0)
    other.out = nn.Linear(4, 2, bias=False)
    with pytest.raises(ValueError, match="same parameter names and shapes"):
        Ensemble([Tiny(0), other])
    with pytest.raises(IndexError, match="out of range"):
        Ensemble([Tiny(0)]).member(1)


def test_hooks_act_on_every_member_as_on_each_model():
    from tiny import CFG

    from toylab import hooks
    from toylab.models import build_transformer

    models = [build_transformer(CFG, seed=s) for s in (0, 1)]
    ens = Ensemble(models)
    tokens = torch.randint(11, (3, 8), generator=torch.Generator().manual_seed(0))
    clamp = [hooks.clamp_pattern(layer=0, head=0)]
    with ens.hooks(clamp):
        clamped = ens(tokens)
    for i, m in enumerate(models):
        with m.hooks(fwd_hooks=clamp):
            torch.testing.assert_close(clamped[i], m(tokens), atol=1e-5, rtol=1e-5)
        assert not torch.allclose(clamped[i], m(tokens), atol=1e-3)  # the clamp did act
    with ens.hooks([]):  # no hooks: nothing
        torch.testing.assert_close(ens(tokens)[0], models[0](tokens), atol=1e-5, rtol=1e-5)
    with pytest.raises(TypeError, match="hooks"):
        Ensemble([Tiny(0)]).hooks(clamp)
