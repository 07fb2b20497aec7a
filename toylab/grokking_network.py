"""The two-layer network that groks modular addition (He, Wang, Chen, Yang 2026), and its analyses.

Inputs a, b (the code's ``x``, ``y``) enter as one_hot(a) + one_hot(b); the logits are
logit_c = Σ_m ξ_m[c] f(θ_m[a] + θ_m[b]) with activation f; no embedding, no biases.
Trained, each neuron m becomes a single wave: θ_m[j] ≈ α_m cos(ω_k j + φ_m) and
ξ_m[j] ≈ β_m cos(ω_k j + ψ_m) over the residues j, with ω_k = 2πk/p and the phases
aligned, ψ_m = 2φ_m.

The toolbox of the chapter ``notebooks/grokking_network.py``: the wave read-out of
the weights, the lottery, the measures over training, the exercise check. The network
itself, shared with ``notebooks/grokking_phase_diagram.py``, is
:class:`toylab.models.ModularMLP`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from toylab import exercises
from toylab.exercises import compare
from toylab.fourier import fourier_basis
from toylab.models import ModularMLP


@dataclass(frozen=True)
class NeuronWaves:
    """Each neuron's weights read as waves: per neuron, its dominant frequency and that wave.

    Taught in: grokking_network §1, through ``neuron_waves``.
    """

    freq: Tensor  # (M,) long, in 1 .. (p-1)//2
    magnitude: Tensor  # (M,) amplitude α (or β) of the wave at that frequency
    phase: Tensor  # (M,) φ (or ψ) at that frequency, in [-π, π]
    ipr: Tensor  # (M,) inverse participation ratio of the frequency spectrum: 1 = one frequency
    power: Tensor  # (M, (p-1)//2) power α_k² (or β_k²) at every frequency k = 1 .. (p-1)//2


def wave_coefficients(W: Tensor) -> tuple[Tensor, Tensor]:
    """Coefficients ⟨w, cos_k⟩, ⟨w, sin_k⟩ of each row w of W (M, p), orthonormal basis: two (M, (p-1)//2).

    Taught in: grokking_network §1, through ``neuron_waves``.
    """
    p = W.shape[-1]
    if p % 2 == 0:
        raise ValueError(f"expected an odd modulus p, got {p}")
    basis, _ = fourier_basis(p)
    coefs = W.detach().float().cpu() @ basis.T  # (M, p): const, cos 1, sin 1, cos 2, ...
    return coefs[:, 1::2], coefs[:, 2::2]


def neuron_waves(W: Tensor, freq: Tensor | None = None) -> NeuronWaves:
    """Decode rows θ_m[j] ≈ α cos(ω_k j + φ) of W (M, p); at ``freq`` if given, else at each row's dominant one.

    At frequency k the coefficients ⟨w, cos_k⟩ and ⟨w, sin_k⟩ on the orthonormal basis
    vectors give the power α_k² = ⟨w, cos_k⟩² + ⟨w, sin_k⟩², the wave's amplitude
    α = α_k·sqrt(2/p) and its phase φ = atan2(−⟨w, sin_k⟩, ⟨w, cos_k⟩) (He et al.'s
    definitions). IPR = Σ_k α_k⁴ / (Σ_k α_k²)².

    Taught in: grokking_network §1.
    """
    c, s = wave_coefficients(W)
    power = c**2 + s**2  # (M, K)
    if freq is None:
        freq = power.argmax(-1) + 1
    idx = (freq - 1)[:, None]
    c_k, s_k = c.gather(1, idx)[:, 0], s.gather(1, idx)[:, 0]
    p = W.shape[-1]
    ipr = inverse_participation(power)
    return NeuronWaves(
        freq, torch.sqrt(c_k**2 + s_k**2) * math.sqrt(2 / p), torch.atan2(-s_k, c_k), ipr, power
    )


def inverse_participation(power: Tensor) -> Tensor:
    """IPR of each row of ``power`` (M, n), the powers α_k²: Σ_k α_k⁴ / (Σ_k α_k²)², (M,).

    1 when a row's power is all at one frequency, 1/n when spread evenly over its n.

    Taught in: grokking_network §1 (an exercise).
    """
    return power.pow(2).sum(-1) / power.sum(-1).pow(2).clamp_min(1e-30)


def wrap(angle: Tensor) -> Tensor:
    """Angles wrapped into [-π, π).

    Taught in: grokking_network §1.
    """
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


def phase_misalignment(theta: Tensor, xi: Tensor) -> Tensor:
    """D_m = wrap(ψ_m − 2φ_m) at each neuron's input frequency: (M,). Aligned neurons have D ≈ 0.

    Taught in: grokking_network §1.
    """
    waves_in = neuron_waves(theta)
    waves_out = neuron_waves(xi, freq=waves_in.freq)
    return wrap(waves_out.phase - 2 * waves_in.phase)


def lottery_scores(theta: Tensor, xi: Tensor) -> Tensor:
    """Each neuron's initial head start per frequency: α_k² β_k cos(D_k), (M, (p-1)//2).

    With α_k², β_k² the powers of θ_m and ξ_m (see ``neuron_waves``) and f(z) = z²,
    frequency k of a neuron adds (2/p)^{3/2}·(α_k² β_k / 2) cos(ψ_k − 2φ_k) to
    the correct logit; under gradient flow α_k grows at a rate ∝ α_k β_k cos D_k
    and β_k at ∝ α_k² cos D_k, so the frequency with the largest initial
    magnitudes and smallest |D| gets ahead and, the paper argues, wins. This
    score is that initial contribution (a heuristic predictor of the winner).

    Taught in: grokking_network §3.
    """
    c_in, s_in = wave_coefficients(theta)
    c_out, s_out = wave_coefficients(xi)
    alpha, phi = torch.sqrt(c_in**2 + s_in**2), torch.atan2(-s_in, c_in)
    beta, psi = torch.sqrt(c_out**2 + s_out**2), torch.atan2(-s_out, c_out)
    return alpha**2 * beta * torch.cos(psi - 2 * phi)


def indicator_profile(logits: Tensor, x: int, p: int) -> dict[str, float]:
    """Mean logit, for a fixed a = ``x`` over all b, at the answer a + b, the ghosts 2a and 2b, elsewhere.

    ``logits`` is (p, p): row b (the second input), column c (the output), for the
    fixed ``x``; the ghosts' keys are ``ghost_2x`` (2a) and ``ghost_2y`` (2b). He et
    al.'s "flawed indicator" predicts answer : ghost : rest ≈ p/2 : p/4 : 0 after
    removing the mean, i.e. ghosts at half the answer's height.

    Taught in: grokking_network §2.
    """
    y = torch.arange(p)
    centred = logits - logits.mean(-1, keepdim=True)
    answer = centred[y, (x + y) % p]
    ghost_x = centred[y, (2 * x) % p]
    ghost_y = centred[y, (2 * y) % p]
    keep = ((x + y) % p != (2 * x) % p) & (
        (x + y) % p != (2 * y) % p
    )  # y != x: three distinct columns
    mask = torch.ones(p, p, dtype=torch.bool)
    mask[y, (x + y) % p] = False
    mask[y, (2 * x) % p] = False
    mask[y, (2 * y) % p] = False
    return {
        "answer": float(answer[keep].mean()),
        "ghost_2x": float(ghost_x[keep].mean()),
        "ghost_2y": float(ghost_y[keep].mean()),
        "rest": float(centred[mask].mean()),
    }


def dominant_waves(model: ModularMLP) -> ModularMLP:
    """A copy of ``model`` in which every neuron keeps only its dominant wave, in and out.

    θ_m[j] → α_m cos(ω_k j + φ_m) and ξ_m[j] → β_m cos(ω_k j + ψ_m) at the neuron's
    input frequency k: the idealised network of the paper's analysis, against
    which the rest of the spectrum can be measured.

    Taught in: grokking_network §2.
    """
    w_in = neuron_waves(model.theta)
    w_out = neuron_waves(model.xi, freq=w_in.freq)
    j = torch.arange(model.p, dtype=torch.float32)
    omega = 2 * math.pi * w_in.freq[:, None].float() / model.p
    ideal = ModularMLP(model.p, model.theta.shape[0], model.activation)
    with torch.no_grad():
        ideal.theta.copy_(w_in.magnitude[:, None] * torch.cos(omega * j + w_in.phase[:, None]))
        ideal.xi.copy_(w_out.magnitude[:, None] * torch.cos(omega * j + w_out.phase[:, None]))
    return ideal


def read_wave(w: Tensor, k: int) -> tuple[float, float]:
    """(α, φ) of the wave α cos(2πkj/p + φ) in a weight row ``w`` (p,), by two dot products.

    Taught in: grokking_network §2 (an exercise).
    """
    p = len(w)
    j = torch.arange(p, dtype=torch.float64)
    w = w.detach().double().cpu()
    c = (w * torch.cos(2 * math.pi * k * j / p)).sum() * 2 / p  # α cos φ
    s = (w * torch.sin(2 * math.pi * k * j / p)).sum() * 2 / p  # -α sin φ
    return float(torch.sqrt(c**2 + s**2)), float(torch.atan2(-s, c))


def compare_angles(got: Any, want: Any, atol: float = 1e-4) -> str | None:
    """Like :func:`toylab.exercises.compare` for angles: equal when they differ by a multiple of 2π.

    Taught in: grokking_network §1, through ``check``.
    """
    problem = compare(got, want, atol=float("inf"))  # shapes and types only
    if problem:
        return problem
    g = torch.as_tensor(np.asarray(got.detach().cpu() if isinstance(got, Tensor) else got))
    w = torch.as_tensor(np.asarray(want.detach().cpu() if isinstance(want, Tensor) else want))
    diff = torch.remainder(g.double() - w.double() + np.pi, 2 * np.pi) - np.pi
    if (diff.abs() > atol).any():
        i = int(diff.abs().flatten().argmax())
        return (
            f"expected the angle {w.flatten()[i].item():.4f} (mod 2π), "
            f"got {g.flatten()[i].item():.4f}"
        )
    return None


def compare_wave(got, want) -> str | None:
    """An exercise comparison for ``read_wave``: amplitudes as numbers, phases as angles.

    Taught in: grokking_network §2 (an exercise).
    """
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return f"return a pair (alpha, phi), got {got!r}"[:100]
    return exercises.compare(got[0], want[0], atol=1e-3) or compare_angles(
        got[1], want[1], atol=1e-3
    )


def _planted(freqs, amps, phases, p: int, const: float = 0.0) -> Tensor:
    """Rows amp·cos(2πkj/p + phase) (+ const), one per (k, amp, phase): (len, p)."""
    j = torch.arange(p, dtype=torch.float64)
    rows = [a * torch.cos(2 * math.pi * k * j / p + ph) for k, a, ph in zip(freqs, amps, phases)]
    return (torch.stack(rows) + const).float()


def exercise_cases(name: str, p: int = 23, seed: int = 0) -> list[exercises.Case]:
    """The cases the chapter's exercises are checked on: random weights and edge cases.

    ``name`` is one of ``"wave"``, ``"ipr"``, ``"misalignment"``, ``"lottery"``.

    Taught in: grokking_network §1-§3 (the exercises).
    """
    gen = torch.Generator().manual_seed(seed)
    K = (p - 1) // 2
    Case = exercises.Case
    if name == "wave":
        cases = [(3, 1.5, 0.4), (1, 0.2, -2.9), (K, 3.0, 2.0), (5, 0.7, math.pi - 1e-3)]
        return [
            Case(
                f"k={k}, alpha={a}, phi={ph}, plus a constant",
                (_planted([k], [a], [ph], p, 0.3)[0], k),
            )
            for k, a, ph in cases
        ]
    if name == "ipr":
        one_hot = torch.zeros(3, K)
        one_hot[torch.arange(3), torch.tensor([0, 4, K - 1])] = 2.0
        return [
            Case("all power at one frequency (IPR 1)", (one_hot,)),
            Case("power spread evenly (IPR 1/K)", (torch.ones(2, K),)),
            Case("random power", (torch.rand(5, K, generator=gen),)),
        ]
    if name in ("misalignment", "lottery"):
        phi = torch.rand(6, generator=gen) * 6 - 3
        freqs = [1, 2, 5, K, 7, 7]
        theta = _planted(freqs, [1.0] * 6, phi.tolist(), p)
        aligned = _planted(
            freqs, [0.5] * 6, (2 * phi + torch.tensor([0, 0.3, -1, 3, 0, 2])).tolist(), p
        )
        return [
            Case("single waves, psi = 2 phi + (0, 0.3, -1, 3, 0, 2)", (theta, aligned)),
            Case("random weights", tuple(0.1 * torch.randn(2, 8, p, generator=gen))),
            Case("random weights, wider", tuple(torch.randn(2, 30, p, generator=gen))),
        ]
    raise ValueError(f"no exercise named {name!r}")


def keep_frequency(W: Tensor, freq: Tensor) -> Tensor:
    """Each row of W (M, p) reduced to its wave at frequency ``freq[m]`` (M,): the rest set to 0.

    The wave keeps the row's own amplitude and phase there; the constant and every
    other frequency go. Applied to the initial weights at each neuron's predicted
    frequency it cuts the lottery ticket out of the initialisation.

    Taught in: grokking_network §4.5.
    """
    p = W.shape[-1]
    if freq.shape != W.shape[:1] or not ((freq >= 1) & (freq <= (p - 1) // 2)).all():
        raise ValueError(f"need one frequency in 1..{(p - 1) // 2} per row of W, got {freq}")
    basis, _ = fourier_basis(p)  # (p, p): const, cos 1, sin 1, cos 2, ...
    basis = basis.to(W.device, W.dtype)
    coefs = W @ basis.T  # (M, p)
    keep = torch.zeros_like(coefs, dtype=torch.bool)
    rows = torch.arange(len(freq), device=W.device)
    keep[rows, 2 * freq - 1] = keep[rows, 2 * freq] = True
    return (coefs * keep) @ basis


def without_constant(model: ModularMLP) -> ModularMLP:
    """A copy of ``model`` with θ's constant term removed: each row θ_m minus its mean over j.

    The constant shifts where each neuron's ReLU opens; ``dominant_waves`` drops it
    along with the other frequencies, and this ablates it alone.

    Taught in: grokking_network §4.3.
    """
    ablated = copy.deepcopy(model)
    with torch.no_grad():
        ablated.theta.sub_(ablated.theta.mean(-1, keepdim=True))
    return ablated


def _vote(logits: Tensor, labels: Tensor) -> float:
    """The mean centred logit (B, p) at the correct answer: what these logits add to it."""
    centred = logits - logits.mean(-1, keepdim=True)
    return float(centred.gather(1, labels[:, None]).mean())


def answer_votes(model: ModularMLP, x: Tensor, y: Tensor, labels: Tensor) -> tuple[float, float]:
    """How much the dominant waves and the residual each add to the right answer.

    The logits split exactly into those of ``dominant_waves(model)`` and the
    residual (the model's minus those). Each part's logits are centred per pair
    (mean over the p outputs removed); returned are the mean centred logit at the
    correct answer of the dominant part and of the residual, over the pairs given.
    A positive vote pushes the answer up, a negative one down.

    Taught in: grokking_network §4.3.
    """
    with torch.no_grad():
        full = model(x, y)
        dominant = dominant_waves(model)(x, y)
    return _vote(dominant, labels), _vote(full - dominant, labels)


def residual_split(model: ModularMLP, x: Tensor, y: Tensor, labels: Tensor) -> dict[str, float]:
    """The residual's vote split in two: θ's constant, and everything else.

    The logits are split exactly as full = dominant + (full − no_constant) +
    (no_constant − dominant), with ``no_constant = without_constant(model)``:
    ``constant`` is what removing θ's constant alone changes, ``other`` the other
    frequencies and the interactions between the waves. Also ``no_constant_acc``,
    the accuracy of the network without θ's constant, and ``acc``, the network's.

    Taught in: grokking_network §4.3.
    """
    with torch.no_grad():
        full = model(x, y)
        dominant = dominant_waves(model)(x, y)
        no_const = without_constant(model)(x, y)
    labels = labels.to(full.device)
    return {
        "dominant": _vote(dominant, labels),
        "residual": _vote(full - dominant, labels),
        "constant": _vote(full - no_const, labels),
        "other": _vote(no_const - dominant, labels),
        "acc": float((full.argmax(-1) == labels).float().mean()),
        "no_constant_acc": float((no_const.argmax(-1) == labels).float().mean()),
    }


def spectrum_measures(theta: Tensor, xi: Tensor, freq: Tensor) -> dict[str, float]:
    """Alignment and power measured over the whole spectrum, against each neuron's ``freq`` (M,).

    - ``aligned_power``: Σ α_k²β_k cos D_k / Σ α_k²β_k over every neuron and frequency,
      alignment weighted by each wave's initial head start (section 3's score);
    - ``aligned_off``: the same, over every frequency but each neuron's ``freq``: is
      the rest of the spectrum aligned too, or only the waves that win?
    - ``cos_d_final``: mean cos D at ``freq`` (in the chapter, the final frequency);
    - ``on_power``, ``off_power``: Σ_m of α² + β² at ``freq[m]``, and at every other k;
    - ``phase_bias``: within each group of neurons sharing a ``freq``, |mean e^{2iφ_m}|
      (0 when the phases are spread evenly, 1 when they coincide; the term it
      weighs, cos(ω(a−b))·cos(ωc + 2φ), only cancels over the group when it is
      small), averaged over the groups weighted by their size.

    Taught in: grokking_network §4.2.
    """
    c_in, s_in = wave_coefficients(theta)
    c_out, s_out = wave_coefficients(xi)
    alpha2, beta2 = c_in**2 + s_in**2, c_out**2 + s_out**2  # (M, K)
    phi, psi = torch.atan2(-s_in, c_in), torch.atan2(-s_out, c_out)
    weight = alpha2 * beta2.sqrt()  # each wave's head start, without its alignment
    at = (freq - 1)[:, None]
    power = alpha2 + beta2
    on = power.gather(1, at)[:, 0]
    phi_k = phi.gather(1, at)[:, 0]
    bias = torch.zeros(())
    for k in freq.unique():
        group = freq == k
        resultant = torch.polar(torch.ones(int(group.sum())), 2 * phi_k[group]).mean().abs()
        bias = bias + resultant * group.float().mean()
    off = torch.ones_like(weight, dtype=torch.bool).scatter_(1, at, False)  # (M, K)
    aligned = lottery_scores(theta, xi)  # (M, K): weight * cos D_k
    return {
        "aligned_power": float(aligned.sum() / weight.sum()),
        "aligned_off": float(aligned[off].sum() / weight[off].sum()),
        "cos_d_final": float(torch.cos(psi.gather(1, at)[:, 0] - 2 * phi_k).mean()),
        "on_power": float(on.sum()),
        "off_power": float(power.sum() - on.sum()),
        "phase_bias": float(bias),
    }


def over_training(
    model: ModularMLP, states: list[dict[str, Tensor]], x: Tensor, y: Tensor, labels: Tensor
) -> dict[str, np.ndarray]:
    """The chapter's measures at every snapshot of a run, as arrays aligned with ``states``.

    Per state: ``same_freq``, the fraction of neurons whose dominant input frequency
    is already the one they have in the last state; ``cos_d``, the mean cos D at
    each neuron's own frequency; ``ipr_in`` and ``ipr_out``, the mean IPR of θ and
    ξ; ``norm``, the squared parameter norm; on the pairs (a, b) = (``x``, ``y``) given:
    ``acc`` of the network, ``dominant_acc`` of its dominant waves alone, and
    the two ``answer_votes`` (``dominant_vote``, ``rest_vote``, the residual's); and
    the ``spectrum_measures`` against each neuron's final frequency.

    Taught in: grokking_network §4.
    """
    if not states:
        raise ValueError("need at least one state")
    final_freq = neuron_waves(states[-1]["theta"]).freq
    out: dict[str, list[float]] = {}
    net = copy.deepcopy(model).cpu()
    x, y, labels = x.cpu(), y.cpu(), labels.cpu()
    for state in states:
        net.load_state_dict(state)
        w_in, w_out = neuron_waves(state["theta"]), neuron_waves(state["xi"])
        with torch.no_grad():
            acc = (net(x, y).argmax(-1) == labels).float().mean()
            dom_acc = (dominant_waves(net)(x, y).argmax(-1) == labels).float().mean()
        votes = answer_votes(net, x, y, labels)
        row = {
            "same_freq": (w_in.freq == final_freq).float().mean(),
            "cos_d": phase_misalignment(state["theta"], state["xi"]).cos().mean(),
            "ipr_in": w_in.ipr.mean(),
            "ipr_out": w_out.ipr.mean(),
            "norm": sum(v.pow(2).sum() for v in state.values()),
            "acc": acc,
            "dominant_acc": dom_acc,
            "dominant_vote": votes[0],
            "rest_vote": votes[1],
            **spectrum_measures(state["theta"], state["xi"], final_freq),
        }
        for k, v in row.items():
            out.setdefault(k, []).append(float(v))
    return {k: np.asarray(v) for k, v in out.items()}
