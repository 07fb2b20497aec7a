import numpy as np
import pytest
import torch
from exercise_checks import assert_check_tells_right_from_wrong

from toylab import hooks
from toylab import induction_task as task
from toylab import repeated_data as rd
from toylab.ensemble import Ensemble
from toylab.models import build_transformer

MEMBERS = [
    rd.Member(0, 0),
    rd.Member(4, 0),
    rd.Member(4, 0, "random"),
    rd.Member(4, 0, stop_at=2),
    rd.Member(0, 0, "random"),
]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(R=-1, seed=0),
        dict(R=0, seed=0, stop_at=5),
        dict(R=4, seed=0, stop_at=-1),
        dict(R=4, seed=0, kind="noise"),
    ],
)
def test_bad_member(kwargs):
    with pytest.raises(ValueError):
        rd.Member(**kwargs)


def test_labels():
    labels = ["control", "R=4", "R=4 random", "R=4, stop 2", "noise control"]
    assert [m.label for m in MEMBERS] == labels


def has_repeat(rows):
    """(n,) whether each row's first S tokens come again right after them, for some S >= 4."""
    T = rows.shape[1]
    return torch.stack(
        [(rows[:, :S] == rows[:, S : 2 * S]).all(-1) for S in range(4, T // 2 + 1)]
    ).any(0)


def test_a_pool_is_fixed_by_its_seed_size_and_kind():
    pool = rd.make_pool(rd.Member(4, 0))
    assert pool.shape == (4, rd.T) and pool.max() < rd.V
    assert has_repeat(pool).all()  # induction sequences
    assert torch.equal(pool, rd.make_pool(rd.Member(4, 0, stop_at=3)))  # the same pool
    assert not torch.equal(pool, rd.make_pool(rd.Member(4, 1)))
    noise = rd.make_pool(rd.Member(64, 0, "random"))
    assert noise.shape == (64, rd.T) and not has_repeat(noise).all()
    assert rd.make_pool(rd.Member(0, 0)) is None


def test_the_bigram_table_and_its_chains():
    table = rd.bigram_table(k=3, seed=1)
    torch.testing.assert_close(table.sum(-1), torch.ones(rd.V))
    assert ((table > 0).sum(-1) == 3).all()
    assert torch.equal(table, rd.bigram_table(k=3, seed=1))
    with pytest.raises(ValueError):
        rd.bigram_table(k=0)
    chains = rd.bigram_chains(50, torch.Generator().manual_seed(0))
    assert chains.shape == (50, rd.T)
    assert (rd.BIGRAM[chains[:, :-1], chains[:, 1:]] > 0).all()  # every step is allowed
    assert 0 < rd.BIGRAM_ENTROPY < np.log(rd.BIGRAM_K)  # Dirichlet weights: below uniform


def rows_in(rows, pool):
    """(n,) whether each row of rows (n, T) is a row of pool (R, T)."""
    return (rows[:, None] == pool[None]).all(-1).any(-1)


def test_the_sampler_mixes_shared_fresh_rows_with_each_members_own():
    sample = rd.sampler(MEMBERS)
    gen = torch.Generator().manual_seed(0)
    (batch,) = sample(gen, 0)
    n_shared = rd.N_FRESH + rd.N_BIGRAM
    assert batch.shape == (len(MEMBERS), n_shared + rd.N_REP, rd.T)
    assert all(torch.equal(batch[0, :n_shared], batch[e, :n_shared]) for e in range(5))
    assert has_repeat(batch[0, : rd.N_FRESH]).all()  # induction rows first
    chains = batch[0, rd.N_FRESH : n_shared]  # then bigram chains
    assert (rd.BIGRAM[chains[:, :-1], chains[:, 1:]] > 0).all()
    pool0, noise = rd.make_pool(MEMBERS[1]), rd.make_pool(MEMBERS[2])
    own = batch[:, n_shared:]
    assert rows_in(own[1], pool0).all() and rows_in(own[2], noise).all()
    assert not rows_in(own[0], pool0).any() and has_repeat(own[0]).all()  # control: fresh
    assert rows_in(own[3], pool0).all()  # before its stop
    assert not has_repeat(own[4]).any()  # the noise control: fresh random rows
    (later,) = sample(gen, 2)
    own = later[:, n_shared:]
    assert not rows_in(own[3], pool0).any() and has_repeat(own[3]).all()  # fresh, its kind
    assert rows_in(own[1], pool0).all()


def test_the_shared_rows_follow_the_stream_not_the_sweep():
    (a,) = rd.sampler(MEMBERS)(torch.Generator().manual_seed(3), 0)
    (b,) = rd.sampler(MEMBERS[:1])(torch.Generator().manual_seed(3), 0)
    (c,) = rd.sampler(MEMBERS[:1])(torch.Generator().manual_seed(4), 0)
    n_shared = rd.N_FRESH + rd.N_BIGRAM
    assert torch.equal(a[0, :n_shared], b[0, :n_shared])
    assert not torch.equal(b[0, :n_shared], c[0, :n_shared])


def test_a_sweep_holds_one_seed():
    with pytest.raises(ValueError, match="one seed"):
        rd.train_sweep([rd.Member(0, 0), rd.Member(0, 1)], steps=1)


def test_relative_damage():
    assert rd.relative_damage(0.8, 0.8, 4.16) == 0
    assert rd.relative_damage(4.16, 0.8, 4.16) == 1
    assert rd.relative_damage(3.2, 3.4, 4.16) < 0
    with pytest.raises(ValueError):
        rd.relative_damage(1.0, 4.16, 4.16)


def test_member_nll_is_each_members_own_loss():
    models = [build_transformer(task.model_config(2), seed=s) for s in (0, 1)]
    ens = Ensemble(models)
    tokens = torch.randint(rd.V, (2, 3, rd.T), generator=torch.Generator().manual_seed(1))
    nll = rd.member_nll(ens, tokens)
    assert nll.shape == (2, 3, rd.T - 1)
    for e, m in enumerate(models):
        expected = task.per_token_loss(m(tokens[e]), tokens[e])
        torch.testing.assert_close(nll[e], expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(rd.ensemble_loss(ens, tokens), nll.mean(dim=(1, 2)).sum())


def test_largest_rise():
    assert rd.largest_rise(np.array([3.0, 2.0, 1.0])) == 0.0
    assert rd.largest_rise(np.array([4.0, 3.0, 3.5, 3.2, 3.9, 2.0])) == pytest.approx(0.9)
    with pytest.raises(ValueError):
        rd.largest_rise(np.array([]))
    with pytest.raises(ValueError):
        rd.largest_rise(np.zeros((2, 2)))


def test_curves_refuses_an_unknown_metric():
    with pytest.raises(ValueError, match="unknown metric"):
        rd.curves(None, "accuracy", 2)


def test_exercise_damage():
    assert_check_tells_right_from_wrong(
        rd.relative_damage,
        lambda loss, control, start: (loss - control) / (start - control),
        lambda loss, control, start: (loss - control) / start,  # not relative to what was learnt
        rd.exercise_cases("damage"),
    )


def test_exercise_bag():
    def right(tokens, period, d_vocab, offset=0):
        start = offset + period
        seen = [
            [len(set(row[: t + 1].tolist())) for t in range(start, len(row) - 1)] for row in tokens
        ]
        return float(np.log(d_vocab) - np.log(np.array(seen, dtype=float)).mean())

    def wrong(tokens, period, d_vocab, offset=0):  # counts the distinct tokens of the block only
        return float(np.log(d_vocab) - np.log(period))

    assert_check_tells_right_from_wrong(rd.bag_icl, right, wrong, rd.exercise_cases("bag"))


def test_exercise_rise():
    assert_check_tells_right_from_wrong(
        rd.largest_rise,
        lambda c: float((c - np.minimum.accumulate(c)).max()),
        lambda c: float(max(c[-1] - c.min(), 0)),  # only at the end: misses an undone rise
        rd.exercise_cases("rise"),
    )


def train_alone(members, e, steps, d_model, fwd_hooks=()):
    """Member e of a sweep trained by itself, by hand: its own model (its seed, the induction
    model at width d_model), Adam at the chapter's rate, on row e of the sweep's batches drawn
    from a generator seeded with the seed, the mean next-token loss, with fwd_hooks on."""
    cfg = dict(task.model_config(2), d_model=d_model, d_head=d_model // task.N_HEADS)
    model = build_transformer(cfg, seed=members[e].seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=task.LR)
    sample, gen = rd.sampler(members), torch.Generator().manual_seed(members[e].seed)
    for step in range(steps):
        (batch,) = sample(gen, step)
        with model.hooks(fwd_hooks=list(fwd_hooks)):
            loss = task.per_token_loss(model(batch[e]), batch[e]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def assert_same_weights(swept, alone):
    """The same weights up to float rounding, but for the key biases: they shift every score
    of a query alike, so their true gradient is 0 and Adam turns rounding noise into steps
    (~1e-5 apart between a vmapped and a plain model)."""
    swept = swept.state_dict()
    for name, value in alone.state_dict().items():
        if not name.endswith("attn.k.bias"):
            torch.testing.assert_close(
                swept[name], value, atol=1e-6, rtol=1e-5, msg=lambda m, name=name: f"{name}: {m}"
            )


SWEEP = [rd.Member(0, 0), rd.Member(4, 0), rd.Member(4, 0, "random", stop_at=2)]


def test_train_sweep_trains_every_member_as_if_alone():
    """Each member of a sweep ends with the weights of its own model trained alone on its
    own rows of the batches (Ensemble: each member's gradient is its own), and its logged
    pool loss is that model's loss on its pool (the control's: the first 64 test sequences)."""
    run = rd.train_sweep(SWEEP, steps=3, d_model=8, log_every=3)
    assert run.metric("step").tolist() == [0, 3]
    for e, member in enumerate(SWEEP):
        alone = train_alone(SWEEP, e, steps=3, d_model=8)
        assert_same_weights(run.model.member(e), alone)
        pool = rd.make_pool(member)
        rows = rd.TEST_TOKENS[:64] if pool is None else pool[torch.arange(64) % len(pool)]
        with torch.no_grad():
            pool_loss = task.per_token_loss(alone(rows), rows).mean().item()
        assert run.metric(f"pool {e}")[-1] == pytest.approx(pool_loss, abs=1e-5)


def test_train_sweep_trains_and_scores_with_its_hooks():
    """A clamp of head L0H0 to the previous-token pattern acts in training (the weights are
    those of each member trained alone under the clamp, not without it) and in scoring: the
    best previous-token score in layer 0 is the clamped head's, exactly 1, at every log."""
    members, clamp = SWEEP[:2], [hooks.clamp_pattern(0, 0)]
    run = rd.train_sweep(members, steps=2, d_model=8, log_every=2, fwd_hooks=clamp)
    for e in range(2):
        model = run.model.member(e)
        assert run.metric(f"prev {e}").tolist() == [1.0, 1.0]
        assert rd.best_head_scores(model)["prev"] < 0.5  # unclamped: about 0.1
        assert_same_weights(model, train_alone(members, e, 2, 8, clamp))
        unclamped = train_alone(members, e, 2, 8)
        assert (model.embed.W_E - unclamped.embed.W_E).abs().max() > 1e-4
