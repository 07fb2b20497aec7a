"""He et al.'s network and its Fourier read-out, checked on weights with planted waves."""

import math

import pytest
import torch
from exercise_checks import assert_check_tells_right_from_wrong

from toylab import exercises
from toylab import grokking_network as GN
from toylab.ensemble import Ensemble
from toylab.models import ModularMLP

P = 23


def planted(freqs, amps, phases, p=P):
    """Rows amp * cos(2 pi k j / p + phase)."""
    j = torch.arange(p, dtype=torch.float64)
    return torch.stack(
        [a * torch.cos(2 * math.pi * k * j / p + ph) for k, a, ph in zip(freqs, amps, phases)]
    ).float()


def test_forward_is_the_papers_network():
    m = ModularMLP(P, width=16, activation="square", seed=0)
    x, y = torch.tensor([0, 5, 22]), torch.tensor([3, 5, 1])
    want = torch.square(m.theta[:, x] + m.theta[:, y]).T @ m.xi
    assert torch.allclose(m(x, y), want) and m(x, y).shape == (3, P)
    with pytest.raises(ValueError, match="activation must be one of"):
        ModularMLP(P, activation="tanh")


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
    models = [ModularMLP(P, width=8, seed=s) for s in range(3)]
    x, y = torch.arange(P), torch.arange(P).flip(0)
    out = Ensemble(models)(x, y)
    assert out.shape == (3, P, P)
    assert all(torch.allclose(out[i], m(x, y), atol=1e-6) for i, m in enumerate(models))


def test_dominant_waves_keep_pure_neurons_and_give_the_papers_indicator():
    phi = torch.linspace(-3, 3, 40)  # phases spread evenly within every frequency
    freqs = [1 + i % 11 for i in range(40 * 11)]
    phases = phi.repeat(11)
    m = ModularMLP(P, width=len(freqs), activation="square")
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


def wave_solution(w, k):
    p = len(w)
    j = torch.arange(p, dtype=torch.float32)
    c = (w * torch.cos(2 * math.pi * k * j / p)).sum() * 2 / p
    s = (w * torch.sin(2 * math.pi * k * j / p)).sum() * 2 / p
    return torch.sqrt(c**2 + s**2), torch.atan2(-s, c)


def misalignment(theta, xi, factor=2):
    w_in = GN.neuron_waves(theta)
    return GN.wrap(GN.neuron_waves(xi, freq=w_in.freq).phase - factor * w_in.phase)


def lottery(theta, xi, factor=2):
    c_in, s_in = GN.wave_coefficients(theta)
    c_out, s_out = GN.wave_coefficients(xi)
    alpha, phi = torch.sqrt(c_in**2 + s_in**2), torch.atan2(-s_in, c_in)
    beta, psi = torch.sqrt(c_out**2 + s_out**2), torch.atan2(-s_out, c_out)
    return alpha**2 * beta * torch.cos(psi - factor * phi)


EXERCISES = {  # name -> (reference, a right answer, a plausible wrong one, comparison)
    "ipr": (
        GN.inverse_participation,
        lambda pw: pw.pow(2).sum(-1) / pw.sum(-1).pow(2),
        lambda pw: pw.pow(2).sum(-1) / pw.sum(-1),  # forgot to square the total
        exercises.compare,
    ),
    "wave": (
        GN.read_wave,
        wave_solution,
        lambda w, k: (wave_solution(w, k)[0] / 2, wave_solution(w, k)[1]),  # norm p, not p/2
        GN.compare_wave,
    ),
    "misalignment": (
        GN.phase_misalignment,
        misalignment,
        lambda t, x: misalignment(t, x, factor=1),  # psi - phi
        GN.compare_angles,
    ),
    "lottery": (
        GN.lottery_scores,
        lottery,
        lambda t, x: lottery(t, x, factor=1),  # cos(psi - phi)
        exercises.compare,
    ),
}


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_each_exercise_check_accepts_a_right_answer_and_refuses_a_wrong_one(name, capsys):
    reference, right, wrong, compare = EXERCISES[name]
    assert_check_tells_right_from_wrong(reference, right, wrong, GN.exercise_cases(name), compare)
    assert "goes on with the book's version" in capsys.readouterr().out


def test_the_wave_check_refuses_a_constant_answer():
    ok, message = exercises.passes(
        lambda w, k: (1.0, 0.0), GN.read_wave, GN.exercise_cases("wave"), GN.compare_wave
    )
    assert not ok and "expected" in message
    with pytest.raises(ValueError, match="no exercise named"):
        GN.exercise_cases("nope")


def test_keep_frequency_keeps_one_wave_per_row():
    mixed = planted([2, 5], [1.0, 0.7], [0.3, -1.0]) + planted([5, 9], [0.4, 2.0], [2.0, 0.5]) + 0.3
    kept = GN.keep_frequency(mixed, torch.tensor([5, 9]))
    assert torch.allclose(kept, planted([5, 9], [0.4, 2.0], [2.0, 0.5]), atol=1e-5)
    w = GN.neuron_waves(kept)
    assert w.freq.tolist() == [5, 9] and torch.allclose(w.ipr, torch.ones(2), atol=1e-5)
    with pytest.raises(ValueError, match="one frequency in 1..11"):
        GN.keep_frequency(mixed, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="per row"):
        GN.keep_frequency(mixed, torch.tensor([3]))


def pure_network(extra: float = 0.0):
    """A square network of aligned waves (phases spread in every frequency), plus `extra` noise."""
    phi = torch.linspace(-3, 3, 12)
    freqs = [1 + i % 11 for i in range(12 * 11)]
    phases = phi.repeat(11)
    m = ModularMLP(P, width=len(freqs), activation="square")
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        m.theta.copy_(planted(freqs, [1.0] * len(freqs), phases.tolist()))
        m.xi.copy_(planted(freqs, [1.0] * len(freqs), (2 * phases).tolist()))
        m.xi.add_(extra * torch.randn(m.xi.shape, generator=gen))
    return m


def test_answer_votes_split_the_logits_into_waves_and_the_rest():
    x, y = torch.arange(P), torch.arange(P).roll(3)
    labels = (x + y) % P
    dom, rest = GN.answer_votes(pure_network(), x, y, labels)
    assert dom > 1 and abs(rest) < 1e-3 * dom, "a pure network has no rest"
    # with noise off the dominant waves, the two votes add up to the network's own
    # (pairs that share one answer, so that the noise's column does not average out)
    noisy = pure_network(extra=3.0)
    x, y = torch.arange(P), (5 - torch.arange(P)) % P
    labels = (x + y) % P
    dom_n, rest_n = GN.answer_votes(noisy, x, y, labels)
    with torch.no_grad():
        logits = noisy(x, y)
    centred = logits - logits.mean(-1, keepdim=True)
    whole = float(centred[torch.arange(P), labels].mean())
    assert dom_n + rest_n == pytest.approx(whole, rel=1e-4) and abs(rest_n) > 1e-3


def test_over_training_measures_every_state():
    pure, noisy = pure_network(), pure_network(extra=3.0)
    x, y = torch.arange(P), torch.arange(P).roll(5)
    labels = (x + y) % P
    out = GN.over_training(pure, [noisy.state_dict(), pure.state_dict()], x, y, labels)
    assert set(out) == {
        "same_freq", "cos_d", "ipr_in", "ipr_out", "norm", "acc", "dominant_acc",
        "dominant_vote", "rest_vote", "aligned_power", "cos_d_final", "on_power",
        "off_power", "phase_bias", "aligned_off",
    }  # fmt: skip
    assert all(v.shape == (2,) for v in out.values())
    assert out["same_freq"][1] == 1.0 and out["cos_d"][1] == pytest.approx(1.0, abs=1e-4)
    assert out["acc"][1] == 1.0 and out["dominant_acc"][1] == 1.0
    assert out["ipr_out"][0] < out["ipr_out"][1] == pytest.approx(1.0, abs=1e-4)
    assert out["rest_vote"][1] == pytest.approx(0.0, abs=1e-3)
    norm = pure.theta.detach().pow(2).sum() + pure.xi.detach().pow(2).sum()
    assert out["norm"][1] == pytest.approx(float(norm))
    with pytest.raises(ValueError, match="at least one state"):
        GN.over_training(pure, [], x, y, labels)


def test_spectrum_measures_on_planted_waves():
    n = 8  # one group of 8 neurons at k = 3, phases spread evenly over half a turn
    phi = (torch.arange(n) * math.pi / n).tolist()
    theta = planted([3] * n, [1.0] * n, phi)
    aligned = GN.spectrum_measures(theta, planted([3] * n, [0.5] * n, [2 * f for f in phi]),
                                   torch.full((n,), 3))  # fmt: skip
    assert aligned["aligned_power"] == pytest.approx(1.0, abs=1e-4)
    assert aligned["cos_d_final"] == pytest.approx(1.0, abs=1e-4)
    # the power is alpha_k^2 = (p/2) amp^2 on the orthonormal basis, all of it at k = 3
    assert aligned["on_power"] == pytest.approx(n * P / 2 * (1 + 0.25), rel=1e-4)
    assert aligned["off_power"] == pytest.approx(0.0, abs=1e-3)
    # 2 phi goes once round the circle: no bias (e^{i phi} would give 0.64)
    assert aligned["phase_bias"] == pytest.approx(0.0, abs=1e-5)
    flipped = GN.spectrum_measures(theta, planted([3] * n, [0.5] * n, [2 * f + math.pi for f in phi]),
                                   torch.full((n,), 3))  # fmt: skip
    assert flipped["aligned_power"] == pytest.approx(-1.0, abs=1e-4)
    # a wave at k = 5, aligned, beside a misaligned one at k = 3: only k = 5 is "off"
    mixed_in = planted([3] * n, [1.0] * n, phi) + planted([5] * n, [1.0] * n, phi)
    mixed_out = planted([3] * n, [1.0] * n, [2 * f + math.pi for f in phi]) + planted(
        [5] * n, [1.0] * n, [2 * f for f in phi]
    )
    mixed = GN.spectrum_measures(mixed_in, mixed_out, torch.full((n,), 3))
    assert mixed["aligned_off"] == pytest.approx(1.0, abs=1e-4)
    assert mixed["aligned_power"] == pytest.approx(0.0, abs=1e-4)
    same = GN.spectrum_measures(planted([3] * n, [1.0] * n, [0.7] * n),
                                planted([3] * n, [1.0] * n, [1.4] * n), torch.full((n,), 3))  # fmt: skip
    assert same["phase_bias"] == pytest.approx(1.0, abs=1e-5)
    # measured against another frequency, all the power is off it
    elsewhere = GN.spectrum_measures(theta, theta, torch.full((n,), 5))
    assert elsewhere["on_power"] == pytest.approx(0.0, abs=1e-3)
    assert elsewhere["off_power"] == pytest.approx(n * P, rel=1e-4)


def test_residual_split_adds_up_and_ablates_the_constant_alone():
    m = pure_network(extra=1.0)
    with torch.no_grad():
        m.theta.add_(0.5)  # a constant term in every row of theta
    x, y = torch.arange(P), (5 - torch.arange(P)) % P
    labels = (x + y) % P
    ablated = GN.without_constant(m)
    assert torch.allclose(ablated.theta.mean(-1), torch.zeros(m.theta.shape[0]), atol=1e-5)
    assert torch.allclose(m.theta.mean(-1), torch.full((m.theta.shape[0],), 0.5), atol=1e-5)
    split = GN.residual_split(m, x, y, labels)
    dom, rest = GN.answer_votes(m, x, y, labels)
    assert split["dominant"] == pytest.approx(dom) and split["residual"] == pytest.approx(rest)
    assert split["constant"] + split["other"] == pytest.approx(split["residual"], abs=1e-4)
    assert abs(split["constant"]) > 1e-3, "with f(z) = z^2 a constant shifts the logits"
    pure = GN.residual_split(pure_network(), x, y, labels)
    assert pure["constant"] == pytest.approx(0.0, abs=1e-4)
    assert pure["acc"] == pure["no_constant_acc"] == 1.0


def test_angles_are_equal_modulo_two_pi():
    assert GN.compare_angles(torch.tensor([math.pi - 1e-6]), torch.tensor([-math.pi])) is None
    assert GN.compare_angles(0.1 + 2 * math.pi, 0.1) is None
    assert "angle" in GN.compare_angles(torch.tensor([0.5]), torch.tensor([0.1]))
