"""He et al.'s network and its Fourier read-out, checked on weights with planted waves."""

import math

import pytest
import torch

from toylab import grokking_network as GN
from toylab.data import modular_addition_data
from toylab.ensemble import Ensemble

P = 23


def planted(freqs, amps, phases, p=P):
    """Rows amp * cos(2 pi k j / p + phase)."""
    j = torch.arange(p, dtype=torch.float64)
    return torch.stack(
        [a * torch.cos(2 * math.pi * k * j / p + ph) for k, a, ph in zip(freqs, amps, phases)]
    ).float()


def test_forward_is_the_papers_network():
    m = GN.ModularMLP(P, width=16, activation="square", seed=0)
    x, y = torch.tensor([0, 5, 22]), torch.tensor([3, 5, 1])
    want = torch.square(m.theta[:, x] + m.theta[:, y]).T @ m.xi
    assert torch.allclose(m(x, y), want) and m(x, y).shape == (3, P)
    with pytest.raises(ValueError, match="activation must be one of"):
        GN.ModularMLP(P, activation="tanh")


def test_waves_are_read_back_exactly():
    freqs, amps, phases = [1, 4, 11, 7], [0.5, 2.0, 1.0, 0.1], [0.3, -2.0, 3.0, -0.7]
    w = GN.neuron_waves(planted(freqs, amps, phases))
    assert w.freq.tolist() == freqs
    assert torch.allclose(w.magnitude, torch.tensor(amps), atol=1e-5)
    assert torch.allclose(w.phase, torch.tensor(phases), atol=1e-5)
    assert torch.allclose(w.ipr, torch.ones(4), atol=1e-5)
    two = planted([2], [1.0], [0.0]) + planted([5], [1.0], [1.0])  # equal power at two frequencies
    assert GN.neuron_waves(two).ipr.item() == pytest.approx(0.5, abs=1e-5)


def test_aligned_phases_have_zero_misalignment():
    phi = torch.tensor([0.4, -1.2, 2.5])
    theta = planted([3, 3, 8], [1, 1, 1], phi.tolist())
    aligned = planted([3, 3, 8], [2, 2, 2], (2 * phi).tolist())
    assert torch.allclose(GN.phase_misalignment(theta, aligned), torch.zeros(3), atol=1e-5)
    off = planted([3, 3, 8], [2, 2, 2], (2 * phi + 0.5).tolist())
    assert torch.allclose(GN.phase_misalignment(theta, off), torch.full((3,), 0.5), atol=1e-5)
    assert torch.allclose(
        GN.wrap(torch.tensor([2.5 * math.pi, -3.5])),
        torch.tensor([0.5 * math.pi, 2 * math.pi - 3.5]),
    )


def test_lottery_score_prefers_large_and_aligned_frequencies():
    # neuron with two frequencies: k=2 larger but badly aligned (D = pi), k=6 smaller and aligned
    theta = planted([2], [1.0], [0.2]) + planted([6], [0.6], [0.5])
    xi = planted([2], [1.0], [0.4 + math.pi]) + planted([6], [1.0], [1.0])
    scores = GN.lottery_scores(theta, xi)
    assert scores.shape == (1, (P - 1) // 2)
    assert int(scores.argmax()) + 1 == 6 and scores[0, 1] < 0
    assert scores[0, 5].item() == pytest.approx(0.6**2 * 1.0 * (P / 2) ** 1.5, rel=1e-4)


def test_flawed_indicator_profile():
    x = 4
    logits = torch.zeros(P, P)
    for y in range(P):
        logits[y, (x + y) % P] += P / 2
        logits[y, (2 * x) % P] += P / 4
        logits[y, (2 * y) % P] += P / 4
    prof = GN.indicator_profile(logits, x, P)
    assert prof["answer"] - prof["rest"] == pytest.approx(P / 2, rel=1e-4)
    assert prof["ghost_2x"] - prof["rest"] == pytest.approx(P / 4, rel=1e-4)
    assert prof["ghost_2y"] - prof["rest"] == pytest.approx(P / 4, rel=1e-4)


def test_the_network_runs_as_an_ensemble():
    models = [GN.ModularMLP(P, width=8, seed=s) for s in range(3)]
    x, y = torch.arange(P), torch.arange(P).flip(0)
    out = Ensemble(models)(x, y)
    assert out.shape == (3, P, P)
    assert all(torch.allclose(out[i], m(x, y), atol=1e-6) for i, m in enumerate(models))


def test_masked_ensemble_loss_is_the_sum_of_member_losses():
    d = modular_addition_data(5, 0.5, seed=0)
    x, y, labels = d.a, d.b, d.labels
    masks = GN.train_masks(5, [0.3, 0.6, 0.6], [0, 0, 1])
    assert masks.shape == (25, 3) and masks.sum(0).tolist() == [8, 15, 15]
    assert (masks[:, 0] <= masks[:, 1]).all(), "same seed: nested training sets"
    models = [GN.ModularMLP(5, width=4, seed=s) for s in range(3)]
    got = GN.ensemble_loss(Ensemble(models), x, y, labels, masks)
    want = sum(
        torch.nn.functional.cross_entropy(m(x[masks[:, i]], y[masks[:, i]]), labels[masks[:, i]])
        for i, m in enumerate(models)
    )
    assert torch.allclose(got, want, atol=1e-5)
    assert torch.equal(masks[:, 2], modular_addition_data(5, 0.6, seed=1).train_mask)
    with pytest.raises(ValueError, match="frac_train"):
        GN.train_masks(5, [1.0], [0])
    with pytest.raises(ValueError, match="equal length"):
        GN.train_masks(5, [0.5], [0, 1])


def test_dominant_waves_keep_pure_neurons_and_give_the_papers_indicator():
    phi = torch.linspace(-3, 3, 40)  # phases spread evenly within every frequency
    freqs = [1 + i % 11 for i in range(40 * 11)]
    phases = phi.repeat(11)
    m = GN.ModularMLP(P, width=len(freqs), activation="square")
    with torch.no_grad():
        m.theta.copy_(planted(freqs, [1.0] * len(freqs), phases.tolist()))
        m.xi.copy_(planted(freqs, [1.0] * len(freqs), (2 * phases).tolist()))
    ideal = GN.dominant_waves(m)
    assert torch.allclose(ideal.theta, m.theta, atol=1e-4) and torch.allclose(
        ideal.xi, m.xi, atol=1e-4
    )
    with torch.no_grad():
        prof = GN.indicator_profile(m(torch.full((P,), 4), torch.arange(P)), 4, P)
    ratio = (prof["ghost_2y"] - prof["rest"]) / (prof["answer"] - prof["rest"])
    assert ratio == pytest.approx(0.5, abs=0.03), "ghosts at half the answer's height"


def test_wave_check_accepts_the_reading_and_refuses_a_constant():
    def solution(w, k):
        p = len(w)
        j = torch.arange(p, dtype=torch.float32)
        c = (w * torch.cos(2 * math.pi * k * j / p)).sum() * 2 / p
        s = (w * torch.sin(2 * math.pi * k * j / p)).sum() * 2 / p
        return torch.sqrt(c**2 + s**2), torch.atan2(-s, c)

    assert GN.check_wave_decoding(solution)
    assert not GN.check_wave_decoding(lambda w, k: (1.0, 0.0))
