"""The LLC helpers on a tiny transformer: head masks by hand, the estimate's cache, checks and RNG."""

import random

import numpy as np
import pytest
import torch
from exercise_checks import assert_check_tells_right_from_wrong
from tiny import CFG, model

from toylab import learning_coefficient as lc

QUICK = lc.SGLDSettings(
    lr=1e-4, n_beta=10, localization=100, num_chains=2, num_draws=8, batch_size=4
)


def data(n=16):
    return torch.randint(
        CFG["d_vocab"], (n, CFG["n_ctx"]), generator=torch.Generator().manual_seed(2)
    )


def test_head_masks_own_one_head_and_nothing_else():
    m = model()
    d, H, D = CFG["d_head"], CFG["n_heads"], CFG["d_model"]
    union = {}
    for h in range(H):
        masks = lc.head_masks(m, 1, h)
        name_of = {id(p): n for n, p in m.named_parameters()}
        attn = m.blocks[1].attn  # the bridge's public view of the same parameters
        own = [getattr(attn, p).weight for p in "qkvo"] + [getattr(attn, p).bias for p in "qkv"]
        assert sorted(masks) == sorted(name_of[id(p)] for p in own)  # layer 1's, o's bias not
        # q, k, v: d rows of (H*d, D) and d bias entries; o: d columns of (D, H*d)
        assert sum(int(v.sum()) for v in masks.values()) == 3 * (d * D + d) + D * d
        q = masks[name_of[id(attn.q.weight)]]
        assert q[h * d : (h + 1) * d].all() and q.sum() == d * D
        o = masks[name_of[id(attn.o.weight)]]
        assert o[:, h * d : (h + 1) * d].all() and o.sum() == d * D
        for n, v in masks.items():
            assert not (union.get(n, torch.zeros_like(v)) & v).any(), "two heads share a weight"
            union[n] = union.get(n, torch.zeros_like(v)) | v
    assert all(v.all() for v in union.values()), "the heads together own their projections"


def test_head_masks_refuse_a_head_that_is_not_there():
    with pytest.raises(ValueError, match="no head L2H0"):
        lc.head_masks(model(), 2, 0)
    with pytest.raises(ValueError, match="no head L0H3"):
        lc.head_masks(model(), 0, 3)


def test_llc_from_trace_by_hand():
    trace = np.array([[3.0, 3.2, 3.4], [3.1, 3.1, 3.1]])
    assert lc.llc_from_trace(trace, 3.0, 10.0) == pytest.approx([2.0, 1.0])
    with pytest.raises(ValueError, match="chain, step"):
        lc.llc_from_trace(np.ones(3), 1.0, 1.0)


def test_settings_refuse_nonsense():
    with pytest.raises(ValueError):
        lc.SGLDSettings(lr=0, n_beta=1, localization=1)
    with pytest.raises(ValueError):
        lc.SGLDSettings(lr=1e-4, n_beta=1, localization=1, num_draws=0)


def test_estimate_is_deterministic_cached_and_leaves_model_and_rng_alone(monkeypatch):
    m = model()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    torch.manual_seed(123)
    random.seed(5)
    state = torch.get_rng_state(), random.random()
    torch.manual_seed(123)
    random.seed(5)
    first = lc.estimate_llc(m, data(), QUICK)
    assert torch.equal(torch.get_rng_state(), state[0]) and random.random() == state[1]
    assert all(torch.equal(v, before[k]) for k, v in m.state_dict().items())
    assert first.loss_trace.shape == (2, 8) and np.isfinite(first.llc)
    assert first.llc_per_chain == pytest.approx(
        lc.llc_from_trace(first.loss_trace, first.init_loss, QUICK.n_beta), rel=1e-4
    )  # devinterp sums in float32
    again = lc.estimate_llc(m, data(), QUICK, use_cache=False)
    assert np.array_equal(again.loss_trace, first.loss_trace), "same seed, same chains"

    import devinterp.slt.llc

    def no_sampling(*a, **k):
        raise AssertionError("sampled again instead of reading the cache")

    monkeypatch.setattr(devinterp.slt.llc, "llc", no_sampling)
    cached = lc.estimate_llc(m, data(), QUICK)
    assert np.array_equal(cached.loss_trace, first.loss_trace)
    with pytest.raises(AssertionError, match="sampled again"):  # other weights: a new key
        lc.estimate_llc(model(n_layers=1), data(), QUICK)


def test_a_corrupt_cache_entry_is_sampled_again():
    m = model()
    lc.estimate_llc(m, data(), QUICK)
    (entry,) = (p for p in (lc.cache.cache_dir() / "llc").iterdir())
    entry.write_bytes(entry.read_bytes()[:-10])
    with pytest.warns(RuntimeWarning, match="ignoring cache entry"):
        lc.estimate_llc(m, data(), QUICK)


def test_a_diverging_chain_is_an_error_not_a_number():
    wild = lc.SGLDSettings(
        lr=10.0, n_beta=1e4, localization=1e4, num_chains=1, num_draws=20, batch_size=4
    )
    with pytest.raises(FloatingPointError, match="diverged"):
        lc.estimate_llc(model(), data(), wild)


def test_weight_refined_chains_move_only_the_masked_head():
    m = model()
    full = lc.estimate_llc(m, data(), QUICK)
    one = lc.estimate_llc(m, data(), QUICK, masks=lc.head_masks(m, 0, 1))
    assert one.llc != full.llc
    with pytest.raises(ValueError, match="mask of"):
        bad = {k: v[:1] for k, v in lc.head_masks(m, 0, 1).items()}
        lc.estimate_llc(m, data(), QUICK, masks=bad)
    with pytest.raises(KeyError, match="does not have"):
        lc.estimate_llc(m, data(), QUICK, masks={"nope": torch.ones(1, dtype=torch.bool)})


def test_exercise_llc_from_trace():
    assert_check_tells_right_from_wrong(
        lc.llc_from_trace,
        lambda t, l0, nb: nb * (t.mean(axis=1) - l0),
        lambda t, l0, nb: nb * (t[:, -1] - l0),  # the last step, not the mean
        lc.exercise_cases("llc_from_trace"),
    )


def test_hutchinson_is_exact_for_a_diagonal_hessian_and_averages_the_probes():
    H = torch.diag(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    probes = torch.tensor([[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]], dtype=torch.float64)
    assert lc.hutchinson(H.__matmul__, probes) == pytest.approx(6.0)
    S = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)  # trace 0, v'Sv = 2 v1 v2
    assert lc.hutchinson(S.__matmul__, torch.tensor([[1.0, 1.0], [1.0, 1.0]]).double()) == 2.0
    with pytest.raises(ValueError):
        lc.hutchinson(H.__matmul__, probes[0])


def test_hessian_trace_of_a_known_quadratic():
    # loss(w) = mean over rows x of (w.x)^2 / 2: H = mean x x'; with rows of norm 1 every
    # slice's diagonal H has trace 1, and the ±1 probes are exact on a diagonal H
    linear = torch.nn.Linear(3, 1, bias=False)
    rows = torch.eye(3)[[0, 0, 1, 2]]

    def loss(m, x):
        return (m(x) ** 2 / 2).expand(-1, 2)  # (batch, 2), devinterp's shape

    before = linear.weight.detach().clone()
    trace, se = lc.hessian_trace(linear, rows, n_probes=4, loss=loss)
    assert trace == pytest.approx(1.0) and se == pytest.approx(0.0, abs=1e-6)
    assert torch.equal(linear.weight, before) and linear.weight.grad is None
    # unequal slices (3 rows and 2) are weighted by size: tr(H) = mean squared norm = 2.2
    uneven = torch.eye(3)[[0, 1, 2, 0, 1]] * torch.tensor([1.0, 1, 1, 2, 2])[:, None]
    assert lc.hessian_trace(linear, uneven, n_probes=2, loss=loss)[0] == pytest.approx(2.2)
    t, se = lc.hessian_trace(model(), data(8), n_probes=4, seed=1)
    assert np.isfinite(t) and se > 0  # a transformer's Hessian is not diagonal


def test_below_init_counts_draws_under_the_snapshots_loss():
    est = lc.LLCEstimate(
        llc_per_chain=np.zeros(2),
        loss_trace=np.array([[1.0, 2.0, 3.0, 0.5], [2.5, 2.5, 1.9, 4.0]]),
        init_loss=2.0,
        settings=QUICK,
        seconds=0.0,
    )
    assert est.below_init == pytest.approx(3 / 8)


def test_exercise_hutchinson():
    assert_check_tells_right_from_wrong(
        lc.hutchinson,
        lambda hvp, probes: float(sum(v @ hvp(v) for v in probes) / len(probes)),
        lambda hvp, probes: float(sum(hvp(v).sum() for v in probes) / len(probes)),  # 1'Hv
        lc.exercise_cases("hutchinson"),
    )


def test_exercise_head_masks():
    def rows_for_o(m, layer, head):  # o's rows instead of its columns
        masks = lc.head_masks(m, layer, head)
        for n in masks:
            if ".o." in n:
                masks[n] = (
                    masks[n].T.contiguous() if masks[n].shape[0] == masks[n].shape[1] else ~masks[n]
                )
        return masks

    assert_check_tells_right_from_wrong(
        lc.head_masks,
        lc.head_masks,
        rows_for_o,
        lc.exercise_cases("head_masks", model=model()),
        lc.compare_masks,
    )


def test_the_chains_must_pass_over_the_data_a_whole_number_of_times():
    with pytest.raises(ValueError, match="whole number of batches"):
        lc.estimate_llc(model(), data(18), QUICK)  # 18 sequences in batches of 4
    odd = lc.SGLDSettings(lr=1e-4, n_beta=10, localization=100, num_draws=5, batch_size=4)
    with pytest.raises(ValueError, match="num_draws=12"):
        lc.estimate_llc(model(), data(16), odd)  # 5 batches of 4 = 1.25 passes over 16


def test_modular_addition_loss_is_each_rows_cross_entropy_twice():
    import math

    class Table(torch.nn.Module):  # logits: a fixed score for the right answer, 0 elsewhere
        def forward(self, a, b):
            logits = torch.zeros(len(a), 5)
            logits[torch.arange(len(a)), (a + b) % 5] = 2.0
            return logits

    rows = torch.tensor([[1, 2, 3], [4, 4, 3], [0, 0, 1]])  # right, right, wrong answer
    loss = lc.modular_addition_loss(Table(), rows)
    right = -math.log(math.exp(2) / (math.exp(2) + 4))  # the answer at 2, four others at 0
    wrong = -math.log(1 / (math.exp(2) + 4))
    assert loss.shape == (3, 2) and torch.equal(loss[:, 0], loss[:, 1])
    assert torch.allclose(loss[:, 0], torch.tensor([right, right, wrong]))


def test_head_masks_fail_loudly_when_a_projection_is_no_parameter(monkeypatch):
    m = model()
    q = m.blocks[0].attn.q
    monkeypatch.setitem(q.__dict__, "weight", q.weight.detach().clone())  # as a release might
    with pytest.raises(RuntimeError, match="TransformerLens changed"):
        lc.head_masks(m, 0, 0)
    with pytest.raises(ValueError, match="needs a TransformerBridge"):
        lc.head_masks(torch.nn.Linear(2, 2), 0, 0)
