import numpy as np
import pytest
import torch
from exercise_checks import assert_check_tells_right_from_wrong
from tiny import model as tiny_model

from toylab import induction_task as task
from toylab import repeated_data as rd
from toylab.ensemble import Ensemble
from toylab.models import build_transformer

MEMBERS = [rd.Member(0, 0), rd.Member(4, 0), rd.Member(4, 1), rd.Member(4, 0, stop_at=2)]


@pytest.mark.parametrize(
    "kwargs", [dict(R=-1, seed=0), dict(R=0, seed=0, stop_at=5), dict(R=4, seed=0, stop_at=-1)]
)
def test_bad_member(kwargs):
    with pytest.raises(ValueError):
        rd.Member(**kwargs)


def test_labels():
    assert [m.label for m in MEMBERS] == ["control", "R=4", "R=4", "R=4, stop 2"]


def test_a_pool_is_fixed_by_its_seed_and_size():
    pool = rd.make_pool(rd.Member(4, 0))
    assert pool.shape == (4, rd.T) and pool.max() < rd.V
    assert torch.equal(pool, rd.make_pool(rd.Member(4, 0, stop_at=3)))  # the same pool
    assert not torch.equal(pool, rd.make_pool(rd.Member(4, 1)))
    assert rd.make_pool(rd.Member(0, 0)) is None


def rows_in(rows, pool):
    """(n,) whether each row of rows (n, T) is a row of pool (R, T)."""
    return (rows[:, None] == pool[None]).all(-1).any(-1)


def test_the_sampler_mixes_shared_fresh_rows_with_each_members_own():
    sample = rd.sampler(MEMBERS)
    gen = torch.Generator().manual_seed(0)
    (batch,) = sample(gen, 0)
    n_fresh = rd.BATCH - rd.N_REP
    assert batch.shape == (len(MEMBERS), rd.BATCH, rd.T)
    assert all(torch.equal(batch[0, :n_fresh], batch[e, :n_fresh]) for e in range(4))
    pool0, pool1 = rd.make_pool(MEMBERS[1]), rd.make_pool(MEMBERS[2])
    assert rows_in(batch[1, n_fresh:], pool0).all() and rows_in(batch[2, n_fresh:], pool1).all()
    assert not rows_in(batch[0, n_fresh:], pool0).any()  # the control: fresh random rows
    assert rows_in(batch[3, n_fresh:], pool0).all()  # before its stop
    (later,) = sample(gen, 2)
    assert not rows_in(later[3, n_fresh:], pool0).any()  # from its stop on: fresh rows
    assert rows_in(later[1, n_fresh:], pool0).all()


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


def test_attention_profile_of_uniform_attention():
    """With zero queries every head attends uniformly: spread 1, prev and first 1/(q + 1)."""
    m = tiny_model()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if ".q." in name:
                p.zero_()
        profile = rd.attention_profile(m, torch.randint(11, (3, 8)))
    uniform = float(np.mean([1 / (q + 1) for q in range(1, 8)]))
    for key, value in [("spread", 1.0), ("prev", uniform), ("first", uniform)]:
        assert profile[key].shape == (2, 3)
        np.testing.assert_allclose(profile[key], value, atol=1e-5)


def test_exercise_rise():
    assert_check_tells_right_from_wrong(
        rd.largest_rise,
        lambda c: float((c - np.minimum.accumulate(c)).max()),
        lambda c: float(max(c[-1] - c.min(), 0)),  # only at the end: misses an undone rise
        rd.exercise_cases("rise"),
    )
