"""The grokking analyses, checked on hand-built embeddings, neurons and logits."""

import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from exercise_checks import assert_check_tells_right_from_wrong
from matplotlib.figure import Figure

from toylab import exercises
from toylab import grokking as G
from toylab.data import modular_addition_data
from toylab.fourier import fourier_basis
from toylab.grokking import grokking_transformer
from toylab.train import Run

P = 23
KEYS = [3, 7, 10]


def clock_logits(p, freqs, alphas):
    """Logits of the clock algorithm: sum_k alpha_k cos(w_k (a + b - c)), as a (p, p, p) grid."""
    a, b, c = torch.meshgrid(*(torch.arange(p, dtype=torch.float64),) * 3, indexing="ij")
    return sum(al * torch.cos(2 * math.pi * k / p * (a + b - c)) for k, al in zip(freqs, alphas))


def test_frequency_share_of_planted_embedding():
    basis, _ = fourier_basis(P)
    gen = torch.Generator().manual_seed(0)
    coefs = torch.zeros(P, 32)
    for k in KEYS:
        coefs[2 * k - 1 : 2 * k + 1] = torch.randn(2, 32, generator=gen)
    share = G.frequency_share(basis.T @ coefs)
    assert set(torch.nonzero(share > 1e-6).flatten().tolist()) == set(KEYS)
    assert share.sum().item() == pytest.approx(1.0)


def test_neuron_frequencies_and_clusters():
    x = torch.arange(P, dtype=torch.float64)
    a, b = x[:, None, None], x[None, :, None]
    rng = np.random.default_rng(0)
    freqs = [KEYS[i % 3] for i in range(30)] + [5]  # 10 neurons per key frequency, one stray
    phases = torch.tensor(rng.uniform(0, 2 * math.pi, size=(len(freqs),)))
    w = 2 * math.pi * torch.tensor(freqs, dtype=torch.float64) / P
    acts = torch.cos(w * (a + b) + phases) + 0.5  # (P, P, 31): one frequency each
    acts = torch.cat([acts, torch.zeros(P, P, 1)], dim=-1)  # plus a dead neuron
    freq, frac = G.neuron_frequencies(acts)
    assert freq[:-1].tolist() == freqs and freq[-1] == 0
    assert torch.allclose(frac[:-1], torch.ones(31, dtype=torch.float64)) and frac[-1] == 0
    assert G.key_frequencies(freq, frac) == KEYS  # the stray neuron is below 5% of 31


def test_variance_in_a_set_of_frequencies():
    x = torch.arange(P, dtype=torch.float64)
    a, b = x[:, None, None], x[None, :, None]
    w3, w7 = 2 * math.pi * 3 / P, 2 * math.pi * 7 / P
    mixed = torch.cos(w3 * (a + b)) + 0.5 * torch.cos(w7 * a)  # variance 1/2 and 1/8 of 1/2
    acts = torch.cat([mixed, torch.zeros(P, P, 1)], dim=-1)  # plus a dead neuron
    share = G.variance_in(acts, [3, 7])
    assert share[0].item() == pytest.approx(1.0) and share[1] == 0
    assert G.variance_in(acts, [3])[0].item() == pytest.approx(0.5 / (0.5 + 0.125))
    _, frac = G.neuron_frequencies(acts)
    assert frac[0].item() == pytest.approx(0.8), "one frequency alone: the larger share"


def test_clock_fit_recovers_planted_amplitudes():
    logits = clock_logits(P, KEYS, [2.0, 1.0, 0.5]) + 3.0
    alphas, r2 = G.clock_fit(logits, KEYS)
    assert torch.allclose(alphas, torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64), atol=1e-9)
    assert r2 == pytest.approx(1.0)
    _, r2_wrong = G.clock_fit(logits, [1, 2])
    assert r2_wrong < 0.05


def test_restricted_and_excluded_logits_split_the_clock():
    logits = clock_logits(P, KEYS, [2.0, 1.0, 0.5])
    noise = torch.randn(P, P, P, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    # the clock lies entirely in the kept directions ...
    assert torch.allclose(G.restricted_logits(logits, KEYS), logits, atol=1e-9)
    assert torch.allclose(G.excluded_logits(logits, KEYS), torch.zeros_like(logits), atol=1e-9)
    # ... random logits mostly do not: 2 directions per key frequency + 1 constant of p*p
    kept = G.restricted_logits(noise, KEYS)
    assert kept.pow(2).sum() < 0.05 * noise.pow(2).sum()
    # both maps are linear, and together give back the logits plus the per-answer mean
    assert torch.allclose(
        G.excluded_logits(logits + noise, KEYS), G.excluded_logits(noise, KEYS), atol=1e-9
    )
    mean = noise.reshape(P * P, P).mean(0)
    assert torch.allclose(kept + G.excluded_logits(noise, KEYS), noise + mean, atol=1e-9)


def test_sum_directions_orthonormal_and_checked():
    D = G.sum_directions(P, KEYS)
    assert D.shape == (P * P, 6)
    assert torch.allclose(D.T @ D, torch.eye(6, dtype=torch.float64), atol=1e-9)
    with pytest.raises(ValueError, match="out of range"):
        G.sum_directions(P, [12])


def test_clock_logits_are_a_perfect_classifier_loss():
    data = modular_addition_data(P, 0.3, seed=0)
    logits = clock_logits(P, KEYS, [20.0, 20.0, 20.0])
    assert G.grid_loss(logits, data) < 1e-3
    assert G.grid_loss(G.excluded_logits(logits, [KEYS[0]]), data) > 10 * G.grid_loss(logits, data)


def test_median_loss_ratio_sees_the_typical_pair_past_a_few_wrong_ones():
    data = modular_addition_data(P, 0.3, seed=0)
    logits = clock_logits(P, KEYS, [20.0, 20.0, 20.0]).clone()
    a, b = torch.tensor([0, 1, 2]), torch.tensor([5, 6, 7])
    logits[a, b, (a + b + 1) % P] += 100.0  # three pairs the network gets wrong
    ablated = G.excluded_logits(logits, [KEYS[0]])
    # the three wrong pairs set the mean loss, so removing a key frequency barely moves it ...
    assert G.grid_loss(ablated, data) < 1.5 * G.grid_loss(logits, data)
    # ... while every other pair's loss grows by orders of magnitude
    assert G.median_loss_ratio(ablated, logits, data) > 10
    assert G.median_loss_ratio(logits, logits, data) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shapes"):
        G.median_loss_ratio(logits[:-1], logits, data)


def test_logits_at_equals_match_the_full_forward():
    data = modular_addition_data(P, 0.3, seed=0)
    model = grokking_transformer(P, d_model=32, n_heads=4, d_mlp=64, seed=0)
    with torch.no_grad():
        fast = G.logits_at_equals(model, data.inputs)
        full = model(data.inputs)[:, -1]
    assert torch.allclose(fast, full, atol=1e-6)
    assert not model.hook_dict["blocks.0.hook_resid_mid"].fwd_hooks  # hook removed again


def fake_run(history):
    return Run("fake", Path("."), {}, {k: list(v) for k, v in history.items()}, {}, None, 0.0)


def test_find_phases_on_constructed_curves():
    steps = np.arange(0, 1001, 10)
    train_acc = np.where(steps >= 50, 1.0, 0.5)
    # unseen-pair test loss: rises to a plateau of 5, falls from step 600, settles by 800
    loss = np.where(
        steps < 600, np.minimum(5.0, 2 + steps / 50), 5 * np.exp(-(steps - 600) / 20) + 1e-3
    )
    phases = G.find_phases(fake_run({"step": steps, "train_acc": train_acc, "unseen_loss": loss}))
    assert phases.memorised == 50
    assert 600 < phases.cleanup_start <= 660
    assert phases.cleanup_start < phases.cleanup_end <= 800
    assert list(phases.as_dict()) == ["memorisation", "circuit formation", "cleanup"]


def test_find_phases_leaves_unreached_boundaries_empty():
    steps = np.arange(0, 100, 10)
    never_fits = G.find_phases(
        fake_run({"step": steps, "train_acc": np.zeros(10), "unseen_loss": np.ones(10)})
    )
    assert never_fits == G.Phases(None, None, None) and never_fits.as_dict() == {}
    no_grok = G.find_phases(
        fake_run({"step": steps, "train_acc": np.ones(10), "unseen_loss": np.ones(10)})
    )
    assert no_grok == G.Phases(0, None, None) and not no_grok.grokked
    assert list(no_grok.as_dict()) == ["memorisation"]


def test_clock_check_accepts_the_clock_and_refuses_a_wrong_sum():
    def clock(a, b, freqs, p):
        c = torch.arange(p, dtype=torch.float64)
        return sum(torch.cos(2 * math.pi * k / p * (a[:, None] + b[:, None] - c)) for k in freqs)

    def difference(a, b, freqs, p):  # a - b instead of a + b
        return clock(a, -b, freqs, p)

    cases = G.exercise_cases("clock")
    assert exercises.passes(clock, G.clock_logits, cases)[0]
    ok, message = exercises.passes(difference, G.clock_logits, cases)
    assert not ok and "expected" in message
    ok, message = exercises.passes(lambda *args: clock(*args)[:, :-1], G.clock_logits, cases)
    assert not ok and "shape" in message
    with pytest.raises(ValueError, match="no exercise named"):
        G.exercise_cases("nope")


def test_grokking_transformer_shapes_init_and_frozen_biases():
    model = grokking_transformer(11, d_model=32, n_heads=4, d_mlp=64, seed=0)
    out = model(torch.tensor([[1, 2, 11]]))
    assert out.shape == (1, 3, 11)
    params = dict(model.named_parameters())
    biases = [p for name, p in params.items() if name.endswith("bias")]
    weights = [p for name, p in params.items() if not name.endswith("bias")]
    assert len(biases) >= 6 and weights  # q, k, v, o, fc_in, fc_out, head: not vacuous
    assert all(not p.requires_grad and p.abs().max() == 0 for p in biases)
    assert all(p.requires_grad for p in weights)
    assert model.embed.W_E.std().item() == pytest.approx(32**-0.5, rel=0.15)


def test_heads_must_divide_width():
    with pytest.raises(ValueError, match="not divisible"):
        grokking_transformer(7, d_model=30, n_heads=4)


def test_same_seed_same_weights_other_seed_other_weights():
    def weights(seed):
        model = grokking_transformer(7, d_model=16, n_heads=2, d_mlp=16, seed=seed)
        return {
            k: v for k, v in model.named_parameters() if v.requires_grad
        }  # biases are frozen zeros

    a, b, c = weights(3), weights(3), weights(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not any(torch.equal(a[k], c[k]) for k in a)


def share_solution(W):
    basis, _ = fourier_basis(W.shape[0])
    per_row = (basis.double() @ W.double()).pow(2).sum(-1)
    share = torch.cat([per_row[:1], per_row[1::2] + per_row[2::2]])
    return share / share.sum()


def excluded_solution(logits, freqs, keep_sines=False):
    p = logits.shape[0]
    flat = logits.reshape(p * p, p)
    D = G.sum_directions(p, freqs).to(flat.dtype)
    if keep_sines:  # a plausible slip: remove only the cosine directions
        D = D[:, ::2]
    return (flat - D @ (D.T @ flat)).reshape(p, p, p)


@pytest.mark.parametrize(
    "name, reference, right, wrong",
    [
        (
            "frequency_share",
            G.frequency_share,
            share_solution,
            lambda W: share_solution(W) * 2,  # not normalised
        ),
        (
            "excluded",
            G.excluded_logits,
            excluded_solution,
            lambda logits, freqs: excluded_solution(logits, freqs, keep_sines=True),
        ),
    ],
)
def test_each_exercise_check_accepts_a_right_answer_and_refuses_a_wrong_one(
    name, reference, right, wrong
):
    assert_check_tells_right_from_wrong(reference, right, wrong, G.exercise_cases(name))


def test_product_share_tells_sums_from_products():
    w = 2 * math.pi * 3 / P
    a, b = torch.meshgrid(*(torch.arange(P, dtype=torch.float64),) * 2, indexing="ij")
    acts = torch.stack(
        [
            torch.cos(w * a) + torch.sin(w * b),  # a sum: no products
            torch.cos(w * a) * torch.cos(w * b),  # a product only
            torch.relu(torch.cos(w * a) + torch.cos(w * b)),  # a ReLU makes some
            torch.zeros(P, P),  # dead
        ],
        dim=-1,
    )
    share = G.product_share(acts)
    assert share[0] == pytest.approx(0.0, abs=1e-12)
    assert share[1] == pytest.approx(1.0, abs=1e-12)
    assert 0.05 < share[2] < 0.95 and share[3] == 0
    own = G.product_share(acts, torch.tensor([3, 3, 3, 3]))
    assert own[1] == pytest.approx(1.0, abs=1e-12) and own[3] == 0
    assert G.product_share(acts, torch.tensor([5, 5, 5, 5]))[1] == pytest.approx(0, abs=1e-12)
    # the ReLU's products include harmonics (2k, 2k, ...): its own share is below 1
    assert 0.2 < own[2] < 1
    with pytest.raises(ValueError, match="one frequency per neuron"):
        G.product_share(acts, torch.tensor([3]))


def test_project_embedding_keeps_the_chosen_frequencies_and_leaves_the_model():
    model = grokking_transformer(11, d_model=16, n_heads=2, d_mlp=32, seed=0)
    before = model.embed.W_E.detach().clone()
    everything = G.project_embedding(model, [1, 2, 3, 4, 5]).embed.W_E.detach()
    assert torch.allclose(everything, before, atol=1e-5), "all frequencies: nothing dropped"
    only_const = G.project_embedding(model, []).embed.W_E.detach()
    assert torch.allclose(
        only_const[:11], before[:11].mean(0, keepdim=True).expand(11, -1), atol=1e-5
    )
    assert torch.equal(only_const[11], before[11]), "'=' is left alone"
    basis, _ = fourier_basis(11)
    kept = basis.double() @ G.project_embedding(model, [2]).embed.W_E.detach()[:11].double()
    assert kept[[1, 2, 5, 6, 7, 8, 9, 10]].abs().max() < 1e-5  # only const, cos 2, sin 2
    assert torch.equal(model.embed.W_E.detach(), before), "the model itself is unchanged"
    with pytest.raises(ValueError, match="frequencies must be in"):
        G.project_embedding(model, [6])


def test_neuron_logit_map_is_what_the_neurons_add_to_the_logits():
    """With no LayerNorm and frozen zero biases, removing the MLP's output removes act @ W_L."""
    model = grokking_transformer(11, d_model=32, n_heads=4, d_mlp=64, seed=0)
    tokens = torch.tensor([[1, 2, 11], [3, 9, 11], [10, 0, 11]])
    with torch.no_grad():
        logits, cache = model.run_with_cache(tokens)
        zero = [("blocks.0.hook_mlp_out", lambda act, hook: torch.zeros_like(act))]
        without = model.run_with_hooks(tokens, fwd_hooks=zero)
    acts = cache["blocks.0.mlp.hook_post"][:, -1].double()  # (3, d_mlp) at '='
    added = (logits - without)[:, -1].double()  # (3, p)
    W_L = G.neuron_logit_map(model)
    assert W_L.shape == (64, 11)
    assert torch.allclose(acts @ W_L, added, atol=1e-4)


def planted_snapshots(model, keys, k0, alpha, beta, u):
    """Two hand-wired state_dicts of ``model``, grokking_transformer(p, 2p + 1, 1 head, p(p+1)/2).

    Residual dims: 0..p-1 (the summands), p..2p-1 (one per answer), 2p (a constant 1, the
    embedding of '='). Q = K = 0, so '=' attends 1/3 to each position, and V = 1, O = 3 copy
    the summands' embeddings into the residual as E[a] + E[b].

    "additive": E[x] = (cos w0 x, sin w0 x) in dims 0, 1 and W_U reads them, so the logits are
    beta (cos w0 (a - c) + cos w0 (b - c)) + u_c, u in the unembedding's bias (frozen, so not
    trained); no neuron fires (W_in = 0), but neuron 0 writes e_0, so W_L is not zero.
    "clock": one-hot E, a neuron per pair {i < j} firing on relu(x_i + x_j - 1) and one per i
    on relu(x_i - 1) (a = b = i), which write f(i + j) and 2 f(2i) to the answer dims,
    f(s)_c = alpha sum_k cos(w_k (s - c)): the logits are f(a + b) for every pair (for
    a = b = i the pair neurons add sum_{j != i} f(i + j) = -f(2i)).
    """
    p = model.cfg.d_vocab_out
    x = torch.arange(p, dtype=torch.float64)
    wave = torch.stack([torch.cos(2 * math.pi * k0 / p * x), torch.sin(2 * math.pi * k0 / p * x)])
    zeros = {k: torch.zeros_like(v, dtype=torch.float64) for k, v in model.state_dict().items()}
    # the bridge's state_dict: nn.Linear weights are (out, in), so mlp.in is (d_mlp, d)
    additive = {k: v.clone() for k, v in zeros.items()}
    additive["embed.weight"][:p, :2] = wave.T
    additive["blocks.0.attn.v.weight"][[0, 1], [0, 1]] = 1.0
    additive["blocks.0.attn.o.weight"][[0, 1], [0, 1]] = 3.0
    additive["blocks.0.mlp.out.weight"][0, 0] = 1.0
    additive["unembed.weight"][:, :2] = beta * wave.T
    additive["unembed.bias"][:] = u

    def f(s):
        return alpha * sum(torch.cos(2 * math.pi * k / p * (s - x)) for k in keys)

    clock = {k: v.clone() for k, v in zeros.items()}
    clock["embed.weight"][:p, :p] = torch.eye(p)
    clock["embed.weight"][p, 2 * p] = 1.0
    clock["blocks.0.attn.v.weight"][range(p), range(p)] = 1.0
    clock["blocks.0.attn.o.weight"][range(p), range(p)] = 3.0
    pairs = [(i, j) for i in range(p) for j in range(i + 1, p)] + [(i, i) for i in range(p)]
    for n, (i, j) in enumerate(pairs):
        clock["blocks.0.mlp.in.weight"][n, [i, j]] = 1.0  # x_i + x_j - 1, or x_i - 1 for i = j
        clock["blocks.0.mlp.in.weight"][n, 2 * p] = -1.0
        clock["blocks.0.mlp.out.weight"][p : 2 * p, n] = f(i + j) * (2 if i == j else 1)
    clock["unembed.weight"][range(p), range(p, 2 * p)] = 1.0
    return [{k: v.float() for k, v in sd.items()} for sd in (additive, clock)]


def test_progress_measures_of_planted_additive_and_clock_models():
    """progress_measures on a run whose two snapshots are wired by hand (planted_snapshots).

    Step 0, additive logits beta (cos w0 (a - c) + cos w0 (b - c)) + u_c: functions of a or b
    alone have no part along cos/sin w (a + b) and a per-answer mean of u, so the restricted
    logits are u on every pair (loss logsumexp(u) - mean(u): every answer is the label of p
    pairs) and the excluded ones are the logits themselves (loss = the train loss). W_E[:p]
    has its norm in cos w0 and sin w0 alike: 2 equal entries of p, Gini 1 - 2/p; W_L is
    neuron 0's row, beta cos w0 c: Gini 1 - 1/p. u is a frozen bias: not in the weight norm.
    Step 1, the clock f(a + b): every pair has the same loss, log sum_d exp(alpha sum_k
    cos(w_k d)) - alpha K; it lies in the key directions (restricted loss = that loss,
    excluded logits 0: loss ln p). One-hot W_E: every Fourier row has norm 1, Gini 0. W_L's
    rows are f(s) and 2 f(2i): 2K equal norms (cos and sin k alike) of p, Gini 1 - 2K/p.
    """
    p, keys, k0, alpha, beta = 7, [1, 3], 2, 3.0, 2.0
    K, u = len(keys), 0.5 * torch.arange(p, dtype=torch.float64)
    data = modular_addition_data(p, 0.3, seed=0)
    model = grokking_transformer(p, d_model=2 * p + 1, n_heads=1, d_mlp=p * (p + 1) // 2)
    additive, clock = planted_snapshots(model, keys, k0, alpha, beta, u)
    run = Run("planted", Path("."), {}, {}, {0: additive, 100: clock}, model, 0.0)
    m = G.progress_measures(run, data, keys)

    a, b, c = torch.meshgrid(*(torch.arange(p, dtype=torch.float64),) * 3, indexing="ij")
    w0 = 2 * math.pi * k0 / p
    logits = (beta * (torch.cos(w0 * (a - c)) + torch.cos(w0 * (b - c))) + u).reshape(p * p, p)

    def loss(idx):
        return torch.nn.functional.cross_entropy(logits[idx], data.labels[idx]).item()

    train, test = loss(data.train_idx), loss(data.test_idx)
    assert abs(train - test) > 0.1  # the additive model tells the splits apart
    restricted = (torch.logsumexp(u, 0) - u.mean()).item()
    d = torch.arange(p, dtype=torch.float64)
    clock_loss = torch.logsumexp(alpha * sum(torch.cos(2 * math.pi * k * d / p) for k in keys), 0)
    clock_loss = clock_loss.item() - alpha * K
    # the sums of squares: W_E, V, O, W_out, W_U; and W_E with '=', V, O, W_in, W_out, W_U
    norm_additive = p + 2 + 2 * 9 + 1 + beta**2 * p
    pairs, out_row = p * (p - 1) // 2, alpha**2 * K * p / 2  # ||f(s)||^2
    norm_clock = (p + 1) + p + 9 * p + (3 * pairs + 2 * p) + (pairs + 4 * p) * out_row + p

    approx = dict(rel=1e-5, abs=1e-5)
    assert m.steps.tolist() == [0, 100]
    assert m.train_loss.tolist() == pytest.approx([train, clock_loss], **approx)
    assert m.test_loss.tolist() == pytest.approx([test, clock_loss], **approx)
    assert m.restricted_loss.tolist() == pytest.approx([restricted, clock_loss], **approx)
    assert m.excluded_loss.tolist() == pytest.approx([train, math.log(p)], **approx)
    assert m.gini_W_E.tolist() == pytest.approx([1 - 2 / p, 0.0], **approx)
    assert m.gini_W_L.tolist() == pytest.approx([1 - 1 / p, 1 - 2 * K / p], **approx)
    assert m.weight_norm.tolist() == pytest.approx([norm_additive, norm_clock], **approx)


def test_row_frequencies_name_the_basis_rows():
    assert G.row_frequencies(7).tolist() == [0, 1, 1, 2, 2, 3, 3]
    _, names = fourier_basis(7)
    assert [int(n.split()[1]) if " " in n else 0 for n in names] == G.row_frequencies(7).tolist()


def test_frequency_norms_find_planted_frequencies():
    p, gen = 31, torch.Generator().manual_seed(0)
    basis, _ = fourier_basis(p)
    coefs = torch.zeros(p, 16)
    for k in (4, 11):  # plant two frequencies, random mixtures of cos and sin
        coefs[2 * k - 1 : 2 * k + 1] = torch.randn(2, 16, generator=gen)
    W = basis.T @ coefs  # a (p, 16) "embedding" built from those waves only
    norms = G.frequency_norms(basis @ W)
    assert set(torch.nonzero(norms > 1e-6).flatten().tolist()) == {4, 11}
    assert torch.isclose(norms.sum(), W.pow(2).sum(), rtol=1e-4)


def test_fourier_2d_of_a_product_wave():
    p = 11
    basis, names = fourier_basis(p)
    grid = torch.outer(basis[3], basis[6])  # cos 2 (a) times sin 3 (b)
    coefs = G.fourier_2d(grid)
    assert torch.isclose(coefs[3, 6], torch.tensor(1.0), atol=1e-5)
    assert coefs.pow(2).sum().item() == pytest.approx(1.0, abs=1e-5)


def test_gini_hand_cases():
    assert G.gini(torch.ones(10)) == pytest.approx(0.0, abs=1e-12)
    assert G.gini(torch.tensor([0.0, 0, 0, 5])) == pytest.approx(1 - 1 / 4)
    # sorted x = (1, 3): G = 1 - 2 [ (1/4)(2 - 1 + .5)/2 + (3/4)(2 - 2 + .5)/2 ] = 0.25
    assert G.gini(torch.tensor([3.0, 1.0])) == pytest.approx(0.25)
    assert G.gini(torch.tensor([1.0, 2.0])) == G.gini(torch.tensor([10.0, 20.0]))  # scale-free
    with pytest.raises(ValueError, match="non-zero entry"):
        G.gini(torch.zeros(3))


def test_glue_figure_stores_the_figure_for_another_page(monkeypatch):
    calls = []
    fake = types.ModuleType("myst_nb")
    fake.glue = lambda key, obj, display=True: calls.append((key, obj, display))
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    fig = Figure()
    G.glue_figure("front", fig)
    assert calls == [("front", fig, False)]  # stored, not shown a second time


def test_glue_figure_does_nothing_without_myst_nb(monkeypatch):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import raises ImportError
    fig = Figure()
    G.glue_figure("front", fig)  # no error: Colab and editors have no myst-nb


def test_plot_curves_draws_each_curve_against_log_steps():
    ax = Figure().add_subplot()
    curves = {"train": np.array([2.0, 1.0, 0.5]), "test": np.array([2.0, 2.0, 0.5])}
    out = G.plot_curves(
        np.array([0, 10, 100]), curves, ylabel="loss", logy=True, phases={"a": (0, 10)}, ax=ax
    )
    assert out is ax and [line.get_label() for line in ax.get_lines()] == ["train", "test"]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log" and ax.get_ylabel() == "loss"
    assert ax.get_lines()[0].get_xdata().tolist() == [1, 10, 100]  # step 0 drawn at 1
