"""Trajectories of small ODEs, the classical integrators, and tools that read an integrator off a model.

The chapter's task: a sequence holds the states y_0 … y_{T-1} ∈ R² of one
trajectory of dx/dt = A x, observed every h time units (optionally with noise),
with a new random A per sequence; a causal model predicts each next state from
the prefix. This module holds

- the systems (:func:`sample_systems`), their exact flow map e^{hA} and the
  trajectories (:func:`linear_trajectories`); RK4 for nonlinear vector fields
  (:func:`integrate`, :func:`pendulum`);
- the model: :class:`StateTransformer`, a TransformerLens model over continuous states;
- the predictors a model is compared with, all with one signature
  ``predict(y, A, h) -> (B, T, 2)``: copy the last state, constant velocity,
  Euler / AB2 / RK4 / the exact flow with the true A, in-context least squares;
- what is read off a model: the stencil Jacobian ∂ŷ_{T}/∂y_{T-1-k}, the
  eigenvalues of the one-step map it implies, the empirical order of convergence,
  rollouts and the energy of an oscillator along them; the mean-ablation hook
  (:func:`mean_heads`) that takes a head's input-specific output away.

The toolbox of the chapter ``notebooks/ode_circuits.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from transformer_lens.model_bridge import TransformerBridge

from toylab import exercises
from toylab.hooks import Hook
from toylab.models import build_transformer

# --- systems ----------------------------------------------------------------------------------


def damped_rotation(gamma: Tensor | float, omega: Tensor | float) -> Tensor:
    """A = [[−δ, ω], [−ω, −δ]] (δ = ``gamma``): eigenvalues −δ ± iω; (…, 2, 2).

    Taught in: ode_circuits §6.
    """
    gamma, omega = (
        torch.as_tensor(gamma, dtype=torch.float32),
        torch.as_tensor(omega, dtype=torch.float32),
    )
    gamma, omega = torch.broadcast_tensors(gamma, omega)
    row0 = torch.stack([-gamma, omega], dim=-1)
    row1 = torch.stack([-omega, -gamma], dim=-1)
    return torch.stack([row0, row1], dim=-2)


def _uniform(n: int, bounds: tuple[float, float], gen: torch.Generator | None) -> Tensor:
    lo, hi = bounds
    if hi < lo:
        raise ValueError(f"bad range {bounds}: the upper bound is below the lower")
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def sample_systems(
    n: int,
    *,
    generator: torch.Generator | None = None,
    family: str = "mixed",
    decay: tuple[float, float] = (0.0, 0.15),
    freq: tuple[float, float] = (0.5, 1.5),
    real: tuple[float, float] = (-0.3, 0.0),
) -> Tensor:
    """``n`` random 2×2 matrices A, (n, 2, 2).

    Families:
        ``"rotation"``: damped rotations [[−δ, ω], [−ω, −δ]], δ ∈ ``decay``,
        |ω| ∈ ``freq`` (random sign): circular spirals.
        ``"mixed"``: half complex eigenvalues −δ ± iω as above, half two real
        eigenvalues drawn from ``real``; each in a random basis P (columns of
        unit length at least 30° apart), A = P Λ P⁻¹: elliptic spirals and
        node-like flows.

    Taught in: ode_circuits §1.
    """
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    gamma, omega = _uniform(n, decay, generator), _uniform(n, freq, generator)
    omega = omega * torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    rot = damped_rotation(gamma, omega)
    if family == "rotation":
        return rot
    if family != "mixed":
        raise ValueError(f"unknown family {family!r}; use 'rotation' or 'mixed'")
    lam = torch.stack([_uniform(n, real, generator), _uniform(n, real, generator)], dim=-1)
    is_real = torch.rand(n, generator=generator) < 0.5
    core = torch.where(is_real[:, None, None], torch.diag_embed(lam), rot)
    theta = 2 * math.pi * torch.rand(n, generator=generator)
    gap = (math.pi / 6) + (2 * math.pi / 3) * torch.rand(n, generator=generator)  # 30°..150° apart
    P = torch.stack(
        [
            torch.stack([theta.cos(), (theta + gap).cos()], -1),
            torch.stack([theta.sin(), (theta + gap).sin()], -1),
        ],
        dim=-2,
    )  # columns = directions
    return P @ core @ torch.linalg.inv(P)


def eigenvalues(M: Tensor) -> Tensor:
    """Eigenvalues of each matrix, complex, sorted by imaginary then real part: (…, n).

    Taught in: ode_circuits §1.
    """
    ev = torch.linalg.eigvals(M.to(torch.float64))
    key = ev.imag * 1e6 + ev.real
    return torch.gather(ev, -1, key.argsort(dim=-1))


# --- one-step maps of the integrators (linear systems) --------------------------------------


def _hA(A: Tensor, h: Tensor | float) -> Tensor:
    h = torch.as_tensor(h, dtype=A.dtype, device=A.device)
    return h[..., None, None] * A if h.ndim else h * A


def flow_map(A: Tensor, h: Tensor | float) -> Tensor:
    """The exact one-step map e^{hA} of dx/dt = A x: (…, 2, 2); h a float or one per system.

    Taught in: ode_circuits §4.
    """
    return torch.linalg.matrix_exp(_hA(A, h))


def euler_map(A: Tensor, h: Tensor | float) -> Tensor:
    """Explicit Euler's one-step map I + hA.

    Taught in: ode_circuits §6.
    """
    return torch.eye(A.shape[-1], dtype=A.dtype, device=A.device) + _hA(A, h)


def rk4_map(A: Tensor, h: Tensor | float) -> Tensor:
    """Classical RK4's one-step map on a linear system: I + hA + (hA)²/2 + (hA)³/6 + (hA)⁴/24.

    Taught in: ode_circuits §6.
    """
    Z = _hA(A, h)
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device).expand_as(Z)
    out, term = eye.clone(), eye
    for k in range(1, 5):
        term = term @ Z / k
        out = out + term
    return out


def euler_stability(z: Tensor) -> Tensor:
    """Euler's stability function R(z) = 1 + z: one step multiplies an eigen-direction by R(hλ).

    Taught in: ode_circuits §8.
    """
    return 1 + z


def rk4_stability(z: Tensor) -> Tensor:
    """RK4's stability function R(z) = 1 + z + z²/2 + z³/6 + z⁴/24 (the exact flow has e^z).

    Taught in: ode_circuits §8.
    """
    return 1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24


# --- trajectories -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trajectories:
    """A batch of sampled trajectories of dx/dt = A x.

    Taught in: ode_circuits §6.
    """

    x: Tensor  # (B, T, 2) the true states x(t_0 + k h)
    y: Tensor  # (B, T, 2) what the model sees: x plus observation noise
    A: Tensor  # (B, 2, 2)
    h: Tensor  # (B,) the step of each trajectory

    def __post_init__(self) -> None:
        B, T, d = self.x.shape
        if self.y.shape != self.x.shape or self.A.shape != (B, d, d) or self.h.shape != (B,):
            raise ValueError(
                f"inconsistent shapes x {tuple(self.x.shape)}, y {tuple(self.y.shape)}, "
                f"A {tuple(self.A.shape)}, h {tuple(self.h.shape)}"
            )

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, index) -> Trajectories:
        """A sub-batch, e.g. ``traj[:100]`` or ``traj[mask]``."""
        x, y, A, h = self.x[index], self.y[index], self.A[index], self.h[index]
        if x.ndim != 3:
            raise IndexError(
                "index a batch of trajectories with a slice, a mask or a list, not one integer"
            )
        return Trajectories(x, y, A, h)


def linear_trajectories(
    A: Tensor,
    h: Tensor | float,
    n_states: int,
    *,
    generator: torch.Generator | None = None,
    noise_std: float = 0.0,
    x0: Tensor | None = None,
) -> Trajectories:
    """Sample each system's trajectory exactly (x_{k+1} = e^{hA} x_k) from a random start on the unit circle.

    States are computed in float64 and returned in A's dtype.

    Args:
        A: (B, 2, 2) systems.
        h: the step, a float or one per system (B,).
        n_states: T, the number of states per trajectory.
        noise_std: σ of Gaussian observation noise added to every state (``y``).
        x0: (B, 2) start states instead of random ones.

    Taught in: ode_circuits §1.
    """
    if A.ndim != 3 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"A must be (B, d, d), got {tuple(A.shape)}")
    if n_states < 1 or noise_std < 0:
        raise ValueError(f"need n_states >= 1 and noise_std >= 0, got {n_states}, {noise_std}")
    B = A.shape[0]
    h = torch.as_tensor(h, dtype=A.dtype)
    h = h.expand(B).clone() if h.ndim == 0 else h
    if h.shape != (B,) or (h <= 0).any():
        raise ValueError(
            f"h must be positive, a float or one per system ({B},), got {tuple(h.shape)}"
        )
    if x0 is None:
        phase = 2 * math.pi * torch.rand(B, generator=generator)
        x0 = torch.stack([phase.cos(), phase.sin()], dim=-1)
    M = flow_map(A.double(), h.double())
    states = [x0.double()]
    for _ in range(n_states - 1):
        states.append((M @ states[-1][..., None])[..., 0])
    x = torch.stack(states, dim=1).to(A.dtype)  # computed in float64, returned in A's precision
    y = (
        x + noise_std * torch.randn(x.shape, generator=generator, dtype=x.dtype)
        if noise_std > 0
        else x.clone()
    )
    return Trajectories(x, y, A, h)


def rk4_step(f: Callable[[Tensor], Tensor], x: Tensor, h: float) -> Tensor:
    """One classical Runge–Kutta step of dx/dt = f(x).

    Taught in: ode_circuits §6, through ``integrate``.
    """
    k1 = f(x)
    k2 = f(x + h / 2 * k1)
    k3 = f(x + h / 2 * k2)
    k4 = f(x + h * k3)
    return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def integrate(
    f: Callable[[Tensor], Tensor], x0: Tensor, h: float, n_states: int, substeps: int = 10
) -> Tensor:
    """Solve dx/dt = f(x) with RK4 (``substeps`` steps of h/substeps per sample); (B, n_states, d) in x0's dtype.

    Taught in: ode_circuits §6.
    """
    if n_states < 1 or substeps < 1 or h <= 0:
        raise ValueError(f"need n_states, substeps >= 1 and h > 0, got {n_states}, {substeps}, {h}")
    states = [x0.double()]
    for _ in range(n_states - 1):
        x = states[-1]
        for _ in range(substeps):
            x = rk4_step(f, x, h / substeps)
        states.append(x)
    return torch.stack(states, dim=1).to(x0.dtype)


def pendulum(x: Tensor) -> Tensor:
    """The pendulum θ'' = −sin θ as a first-order system in (θ, θ'); near θ = 0 it is the rotation with ω = 1.

    Taught in: ode_circuits §6.
    """
    return torch.stack([x[..., 1], -torch.sin(x[..., 0])], dim=-1)


def energy(x: Tensor) -> Tensor:
    """½|x|²: conserved by the undamped rotation dx/dt = [[0, ω], [−ω, 0]] x.

    Taught in: ode_circuits §6.
    """
    return 0.5 * (x**2).sum(-1)


# --- the model ------------------------------------------------------------------------------------


class StateTransformer(nn.Module):
    """A causal transformer over continuous states: x_t ∈ R^d_state in, a vector out per position.

    A linear map embeds each state (``state_embed``); learned positions are added as
    usual; the unembedding reads out ``d_vocab_out = d_state`` numbers, the
    prediction of the next state. Everything between is an ordinary TransformerLens
    ``TransformerBridge`` (``self.bridge``) fed the residual stream directly
    (``start_at_layer=0``), so hooks, caches and head indices work as for tokens:
    ``model.run_with_cache(states)``, ``model.run_with_hooks(states, fwd_hooks=...)``.
    With ``predict_increment`` (the default) the read-out is added to the input
    state, like an integrator's update: the prediction at position t is y_t + output_t.

    Taught in: ode_circuits §2, through ``state_transformer``.
    """

    def __init__(self, bridge: TransformerBridge, d_state: int, predict_increment: bool = True):
        super().__init__()
        self.bridge = bridge
        self.d_state = d_state
        self.predict_increment = predict_increment
        self.state_embed = nn.Linear(d_state, bridge.cfg.d_model)

    @property
    def cfg(self):
        return self.bridge.cfg

    @property
    def W_pos(self) -> Tensor:
        return self.bridge.W_pos

    def _residual(self, states: Tensor) -> Tensor:  # (batch, pos, d_state) -> (batch, pos, d_model)
        if states.ndim != 3 or states.shape[-1] != self.d_state:
            raise ValueError(
                f"states must be (batch, pos, {self.d_state}), got {tuple(states.shape)}"
            )
        if states.shape[1] > self.cfg.n_ctx:
            raise ValueError(
                f"{states.shape[1]} states exceed the model's context of {self.cfg.n_ctx}"
            )
        states = states.to(self.state_embed.weight.device)  # inputs follow the weights
        return self.state_embed(states) + self.W_pos[: states.shape[1]]

    def _read_out(self, states: Tensor, out: Tensor) -> Tensor:
        return states.to(out.device) + out if self.predict_increment else out

    def forward(self, states: Tensor) -> Tensor:  # (batch, pos, d_state) -> same
        return self._read_out(states, self.bridge(self._residual(states), start_at_layer=0))

    def run_with_cache(self, states: Tensor, **kwargs) -> tuple[Tensor, Any]:
        """The prediction and the bridge's ``ActivationCache`` (kwargs: ``names_filter``, ...)."""
        out, cache = self.bridge.run_with_cache(self._residual(states), start_at_layer=0, **kwargs)
        return self._read_out(states, out), cache

    def run_with_hooks(self, states: Tensor, fwd_hooks: list) -> Tensor:
        """The prediction with TransformerLens hooks ``(name, fn)`` attached."""
        with self.bridge.hooks(fwd_hooks=fwd_hooks):
            return self(states)


def state_transformer(
    n_layers: int = 2,
    d_model: int = 64,
    n_heads: int = 4,
    n_ctx: int = 32,
    d_state: int = 2,
    attn_only: bool = False,
    layer_norm: bool = True,
    predict_increment: bool = True,
    seed: int = 0,
) -> StateTransformer:
    """A small causal :class:`StateTransformer` (LayerNorm or none, GELU MLP of 4·d_model), seeded.

    Taught in: ode_circuits §2.
    """
    if d_model % n_heads:
        raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
    if min(n_layers, d_model, n_heads, n_ctx, d_state) < 1:
        raise ValueError("n_layers, d_model, n_heads, n_ctx and d_state must all be positive")
    bridge = build_transformer(
        dict(
            n_layers=n_layers,
            d_model=d_model,
            d_head=d_model // n_heads,
            n_heads=n_heads,
            d_mlp=None if attn_only else 4 * d_model,
            attn_only=attn_only,
            act_fn="gelu",
            # no tokens: a 1-row W_E is built but unused, states go through state_embed
            d_vocab=1,
            d_vocab_out=d_state,
            n_ctx=n_ctx,
            normalization_type="LN" if layer_norm else None,
        ),
        seed=seed,
    )  # leaves the global generator where HookedTransformer left it: state_embed draws next
    return StateTransformer(bridge, d_state, predict_increment)


# --- predictors of the next state (the baselines) -------------------------------------------
# Each takes the observed states y (B, T, 2), the systems A (B, 2, 2) and steps h (B,)
# and returns (B, T, 2): row t is the prediction of state t + 1 from y_0 … y_t.


def _apply(M: Tensor, y: Tensor) -> Tensor:  # M (B, 2, 2), y (B, T, 2) -> M y_t for every t
    return torch.einsum("bij,btj->bti", M.to(y.dtype), y)


def copy_last(y: Tensor, A: Tensor | None = None, h: Tensor | None = None) -> Tensor:
    """ŷ_{t+1} = y_t: 'nothing moves'.

    Taught in: ode_circuits §1, through ``BASELINES``.
    """
    return y.clone()


def constant_velocity(y: Tensor, A: Tensor | None = None, h: Tensor | None = None) -> Tensor:
    """ŷ_{t+1} = 2y_t − y_{t−1}: the stencil [2, −1] (copy at t = 0).

    Taught in: ode_circuits §1, through ``BASELINES``.
    """
    prev = torch.cat([y[:, :1], y[:, :-1]], dim=1)
    return 2 * y - prev


def euler(y: Tensor, A: Tensor, h: Tensor) -> Tensor:
    """Explicit Euler with the true A: ŷ_{t+1} = (I + hA) y_t.

    Taught in: ode_circuits §1, through ``BASELINES``.
    """
    return _apply(euler_map(A, h), y)


def rk4(y: Tensor, A: Tensor, h: Tensor) -> Tensor:
    """Classical RK4 with the true A.

    Taught in: ode_circuits §1, through ``BASELINES``.
    """
    return _apply(rk4_map(A, h), y)


def exact_flow(y: Tensor, A: Tensor, h: Tensor) -> Tensor:
    """The exact flow with the true A: ŷ_{t+1} = e^{hA} y_t.

    Taught in: ode_circuits §1, through ``BASELINES``.
    """
    return _apply(flow_map(A, h), y)


def recency_smoother(y: Tensor, A: Tensor, h: Tensor, weight: float) -> Tensor:
    """A predictor that knows the law and smooths the state over a recency-weighted window.

    The estimate of x_t is (1 − w) y_t + w e^{hA} (estimate of x_{t−1}), weights w^k on the
    state k steps back moved forward by the true flow, and it predicts e^{hA} times that. It
    reads earlier states but never the law: the null of the splice test (ode_circuits §2).
    w = 0 is the exact flow; the Kalman filter is the best such weighting.

    Taught in: ode_circuits §2.
    """
    if not 0 <= weight < 1:
        raise ValueError(f"weight must be in [0, 1), got {weight}")
    M = flow_map(A.double(), torch.as_tensor(h, dtype=torch.float64))
    y64, est, preds = y.double(), y[:, 0].double(), []
    for t in range(y.shape[1]):
        if t > 0:
            est = (1 - weight) * y64[:, t] + weight * (M @ est[..., None])[..., 0]
        preds.append((M @ est[..., None])[..., 0])
    return torch.stack(preds, dim=1).to(y.dtype)


def ending_at(
    A: Tensor,
    h: Tensor | float,
    x_end: Tensor,
    n_states: int,
    *,
    generator: torch.Generator | None = None,
    noise_std: float = 0.0,
) -> Trajectories:
    """Trajectories of the laws ``A`` whose last (n_states − 1-th) state is ``x_end`` (B, 2).

    The start is x_end moved back n_states − 1 steps by e^{−hA}. Spliced before a
    trajectory of another law that goes on from x_end, it changes the law with no jump
    in the state (ode_circuits §2).

    Taught in: ode_circuits §2.
    """
    h = torch.as_tensor(h, dtype=A.dtype)
    back = torch.linalg.matrix_power(flow_map(A.double(), -h.double()), n_states - 1)
    x0 = (back @ x_end.double()[..., None])[..., 0].to(A.dtype)
    return linear_trajectories(A, h, n_states, generator=generator, noise_std=noise_std, x0=x0)


def adams_bashforth2(y: Tensor, A: Tensor, h: Tensor) -> Tensor:
    """Two-step Adams–Bashforth with the true A: ŷ_{t+1} = y_t + h(3/2 A y_t − 1/2 A y_{t−1}) (Euler at t = 0).

    Taught in: ode_circuits §1, through ``BASELINES``.
    """
    f = _apply(A, y)
    f_prev = torch.cat([f[:, :1], f[:, :-1]], dim=1)
    hh = torch.as_tensor(h, dtype=y.dtype).reshape(-1, 1, 1)
    out = y + hh * (1.5 * f - 0.5 * f_prev)
    out[:, 0] = y[:, 0] + hh[:, 0] * f[:, 0]
    return out


def least_squares(
    y: Tensor, A: Tensor | None = None, h: Tensor | None = None, ridge: float = 1e-2
) -> Tensor:
    """In-context least squares: fit y_{s+1} ≈ M y_s on the pairs s < t, predict M̂_t y_t.

    The fit is shrunk towards M = I (ridge on M − I), so with no pairs yet it
    copies the last state; A and h are not used.

    Taught in: ode_circuits §4.
    """
    if ridge <= 0:
        raise ValueError(f"ridge must be > 0, got {ridge}")
    dtype, y = y.dtype, y.double()
    B, T, d = y.shape
    inp, diff = y[:, :-1], y[:, 1:] - y[:, :-1]  # pairs s = 0 … T−2
    xx = torch.cumsum(torch.einsum("bsi,bsj->bsij", inp, inp), dim=1)
    dx = torch.cumsum(torch.einsum("bsi,bsj->bsij", diff, inp), dim=1)
    zero = torch.zeros(B, 1, d, d, dtype=y.dtype)
    # after prepending a zero, index t holds the sums over pairs s < t (the pairs seen by time t)
    xx, dx = torch.cat([zero, xx], dim=1), torch.cat([zero, dx], dim=1)  # (B, T, d, d)
    D = dx @ torch.linalg.inv(xx + ridge * torch.eye(d, dtype=y.dtype))
    return (y + torch.einsum("btij,btj->bti", D, y)).to(dtype)


def kalman_filter(
    y: Tensor, A: Tensor, h: Tensor, noise_std: float, prior_var: float = 0.5
) -> Tensor:
    """The best linear prediction given the true law: a Kalman filter for x_{t+1} = e^{hA} x_t, y_t = x_t + noise.

    There is no process noise, so the filter's estimate of x_t is the posterior
    mean given y_0 … y_t under the prior x_0 ~ N(0, ``prior_var`` I) (a start on
    the unit circle has covariance I/2); it predicts e^{hA} times that estimate.
    With Gaussian noise of known σ = ``noise_std`` it is the best *linear*
    predictor that knows A (a start known to lie on the unit circle could be
    used a little better): a floor for any model that must also infer A.

    Taught in: ode_circuits §1.
    """
    if noise_std <= 0 or prior_var <= 0:
        raise ValueError(f"noise_std and prior_var must be > 0, got {noise_std}, {prior_var}")
    dtype, y = y.dtype, y.double()
    B, T, d = y.shape
    M = flow_map(A.double(), torch.as_tensor(h, dtype=torch.float64))
    eye = torch.eye(d, dtype=torch.float64)
    mean, cov = torch.zeros(B, d, dtype=torch.float64), prior_var * eye.expand(B, d, d)
    preds = []
    for t in range(T):
        gain = cov @ torch.linalg.inv(cov + noise_std**2 * eye)  # update with y_t
        mean = mean + (gain @ (y[:, t] - mean)[..., None])[..., 0]
        cov = (eye - gain) @ cov
        mean, cov = (M @ mean[..., None])[..., 0], M @ cov @ M.transpose(-1, -2)  # predict x_{t+1}
        preds.append(mean)
    return torch.stack(preds, dim=1).to(dtype)


BASELINES: dict[str, Callable[..., Tensor]] = {
    "copy last state": copy_last,
    "constant velocity": constant_velocity,
    "Euler (true A)": euler,
    "AB2 (true A)": adams_bashforth2,
    "RK4 (true A)": rk4,
    "exact flow (true A)": exact_flow,
    "least squares in context": least_squares,
}


def least_squares_sums(y: Tensor) -> Tensor:
    """What in-context least squares reads: (1/(T−1)) Σ_s y_{s+1} y_sᵀ (4) and Σ_s y_s y_sᵀ (3), (B, 7).

    Taught in: ode_circuits §3.
    """
    nxt, cur = y[:, 1:], y[:, :-1]  # (B, T−1, 2)
    cross = torch.einsum("bsi,bsj->bij", nxt, cur).flatten(1)  # (B, 4)
    gram = torch.einsum("bsi,bsj->bij", cur, cur).flatten(1)[:, [0, 1, 3]]  # (B, 3), symmetric
    return torch.cat([cross, gram], dim=1) / cur.shape[1]


def heldout_r2(features: Tensor, target: Tensor, n_fit: int) -> float:
    """R² of a linear fit (with intercept) of ``target`` (B, k) on ``features`` (B, m).

    Fitted on the first ``n_fit`` rows, scored on the rest, all k outputs pooled.

    Taught in: ode_circuits §3.
    """
    if not 0 < n_fit < len(features):
        raise ValueError(f"n_fit must leave rows to score, got {n_fit} of {len(features)}")
    X = torch.cat([features, torch.ones(len(features), 1)], dim=1).double()
    Z = target.double()
    W = torch.linalg.lstsq(X[:n_fit], Z[:n_fit]).solution
    res, held = Z[n_fit:] - X[n_fit:] @ W, Z[n_fit:]
    return float(1 - res.pow(2).sum() / (held - held.mean(0)).pow(2).sum())


def row_correlation(a: Tensor, b: Tensor) -> Tensor:
    """Pearson correlation of each row of ``a`` with the same row of ``b`` (…, n) → (…).

    Taught in: ode_circuits §3.
    """
    a, b = a - a.mean(-1, keepdim=True), b - b.mean(-1, keepdim=True)
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1)).clamp_min(1e-12)


def next_state_error(pred: Tensor, x: Tensor) -> Tensor:
    """Squared error of each prediction of the next true state, (B, T − 1): row t of ``pred`` vs x_{t+1}.

    Taught in: ode_circuits §1.
    """
    return ((pred[:, :-1] - x[:, 1:]) ** 2).sum(-1)


# --- what is read off a model -------------------------------------------------------------------


def stencil_jacobian(model: nn.Module, y: Tensor, n_back: int) -> Tensor:
    """J_k = ∂ŷ_T/∂y_{T−1−k} for k = 0 … n_back − 1: the learned stencil, (B, n_back, 2, 2).

    ŷ_T is the model's prediction of the state after the last one in ``y``
    (B, T, 2); J_0 is its derivative with respect to the last state, J_1 to the
    one before, and so on, each with the rest of the context held fixed.

    Taught in: ode_circuits §4.
    """
    B, T, d = y.shape
    if not 1 <= n_back <= T:
        raise ValueError(f"n_back must lie in [1, {T}], got {n_back}")
    y = y.detach().clone().requires_grad_(True)
    pred = model(y)[
        :, -1
    ]  # (B, d); sequences are independent, so the batch sum has per-sequence grads
    rows = []
    for i in range(d):
        (grad,) = torch.autograd.grad(pred[:, i].sum(), y, retain_graph=i < d - 1)
        rows.append(grad.flip(1)[:, :n_back])  # (B, n_back, d): ∂ŷ_i/∂y_{T−1−k}
    return torch.stack(rows, dim=-2).detach()  # (B, n_back, d_out, d_in)


def companion(J: Tensor) -> Tensor:
    """The one-step map a stencil defines on the stacked state (y_t, y_{t−1}, …, y_{t−K+1}).

    A linear multistep rule ŷ_{t+1} = Σ_k J_k y_{t−k} advances the stacked state by the block
    companion matrix [[J_0 J_1 … J_{K−1}], [I 0 …], …, [… I 0]]; its eigenvalues are the
    rule's growth factors per step (the exact flow's are e^{hλ}, plus parasitic roots).

    Taught in: ode_circuits §8.
    """
    *batch, K, d, _ = J.shape
    C = torch.zeros(*batch, K * d, K * d, dtype=J.dtype)
    C[..., :d, :] = J.transpose(-3, -2).reshape(*batch, d, K * d)
    if K > 1:
        C[..., d:, :-d] = torch.eye((K - 1) * d, dtype=J.dtype)
    return C


def nearest_roots(J: Tensor, targets: Tensor) -> Tensor:
    """For each target growth factor, the nearest eigenvalue of the stencil's companion matrix.

    ``J`` (B, K, 2, 2) is a stencil (e.g. :func:`stencil_jacobian`), ``targets``
    (B, n) complex numbers (e.g. e^{hλ}); returns (B, n) complex roots. A rule that
    is exact on the trajectories of x' = Ax has every e^{hλ} among its roots.

    Taught in: ode_circuits §8.
    """
    roots = torch.linalg.eigvals(companion(J.double()))  # (B, 2K)
    targets = targets.to(roots.dtype)
    nearest = (roots[:, None, :] - targets[:, :, None]).abs().argmin(-1)  # (B, n)
    return roots.gather(-1, nearest)


def parasitic_roots(J: Tensor, targets: Tensor) -> Tensor:
    """The stencil's roots without the principal ones: the nearest root to each target removed.

    ``J`` (B, K, 2, 2), ``targets`` (B, n) distinct growth factors (e.g. e^{hλ}); returns
    (B, 2K − n) complex roots. Whether a rule is absolutely stable at a trajectory's h
    is a question about these: the principal roots follow e^{hλ}, whose modulus is the
    law's own (1 on an undamped rotation).

    Taught in: ode_circuits §8.
    """
    roots = torch.linalg.eigvals(companion(J.double()))  # (B, 2K)
    keep = torch.ones(roots.shape, dtype=torch.bool)
    for j in range(targets.shape[1]):
        dist = (roots - targets[:, j : j + 1].to(roots.dtype)).abs()
        dist[~keep] = float("inf")  # a root is principal for one target only
        keep[torch.arange(len(roots)), dist.argmin(-1)] = False
    return roots[keep].reshape(len(roots), -1)


def empirical_order(hs: np.ndarray, errors: np.ndarray) -> float:
    """Order p from local (one-step) errors: errors ∝ h^{p+1}, so p = slope of log error vs log h, minus 1.

    ``errors`` are error norms (not squared), one per step size in ``hs``.

    Taught in: ode_circuits §8.
    """
    hs, errors = np.asarray(hs, dtype=float), np.asarray(errors, dtype=float)
    if hs.shape != errors.shape or hs.size < 2 or (hs <= 0).any() or (errors <= 0).any():
        raise ValueError("need at least two positive step sizes and as many positive errors")
    slope = np.polyfit(np.log(hs), np.log(errors), 1)[0]
    return float(slope - 1)


def rollout(model: nn.Module, prefix: Tensor, n_steps: int) -> Tensor:
    """Feed the model's predictions back in: (B, n_steps, 2) states after the prefix (B, T0, 2).

    Past the model's context it sees a sliding window of its last ``n_ctx`` states.

    Taught in: ode_circuits §6.
    """
    n_ctx = model.cfg.n_ctx
    states = prefix.to(next(model.parameters()).device)  # (B, T0, 2), on the model's device
    with torch.no_grad():
        for _ in range(n_steps):
            nxt = model(states[:, -n_ctx:])[:, -1:]
            states = torch.cat([states, nxt], dim=1)
    return states[:, prefix.shape[1] :]


def two_step_stencil(A: Tensor, h: Tensor) -> Tensor:
    """(c_0, c_1) with x_{t+1} = c_0 x_t + c_1 x_{t−1} on every trajectory of dx/dt = A x at step h.

    With M = exp(hA), Cayley–Hamilton gives M² = tr(M) M − det(M) I, so c_0 = tr M
    and c_1 = −det M. ``A`` is (B, 2, 2), ``h`` (B,); returns (B, 2).

    Taught in: ode_circuits §4 (an exercise).
    """
    M = flow_map(A, h)
    return torch.stack([M.diagonal(dim1=-2, dim2=-1).sum(-1), -torch.linalg.det(M)], dim=-1)


def mean_heads(layer: int, heads: list[int], mean_z: Tensor) -> Hook:
    """A hook that replaces the outputs (hook_z) of ``heads`` in ``layer`` by their mean on reference data.

    ``mean_z`` (pos, head, d_head) is the mean of ``blocks.{layer}.attn.hook_z``
    over a batch (mean-ablation): the heads keep writing what they write on
    average, but nothing that depends on this input.

    Taught in: ode_circuits §6.
    """

    def ablate(z: Tensor, hook) -> Tensor:  # z: (batch, pos, head, d_head)
        if z.shape[1:] != mean_z.shape:
            raise ValueError(
                f"{hook.name}: mean of shape {tuple(mean_z.shape)} for outputs {tuple(z.shape[1:])}"
            )
        z = z.clone()
        z[:, :, heads] = mean_z[:, heads].to(z)
        return z

    return f"blocks.{layer}.attn.hook_z", ablate


def patch_last_position(act: Tensor, donor: Tensor) -> Tensor:
    """``act`` (batch, pos, ...) with its last position replaced by ``donor``'s; ``act`` itself unchanged.

    Taught in: ode_circuits §5 (an exercise).
    """
    patched = act.clone()
    patched[:, -1] = donor[:, -1]
    return patched


def _squares(y: Tensor) -> Tensor:
    """A nonlinear causal predictor for the exercise: ŷ_{t+1} = y_t ⊙ |y_t| + 0.5 y_{t−1}."""
    prev = torch.cat([y[:, :1], y[:, :-1]], dim=1)
    return y * y.abs() + 0.5 * prev


def exercise_cases(name: str = "stencil", seed: int = 7) -> list[exercises.Case]:
    """The cases an exercise of the chapter is checked on: random inputs and edge cases.

    ``"stencil"``: random systems and steps, a rotation, a repeated eigenvalue, a
    tiny step. ``"jacobian"``: constant velocity (stencil [2I, −I]), a nonlinear
    predictor, an untrained state transformer. ``"patch"``: activations of a few shapes.

    Taught in: ode_circuits §4 and §5 (the exercises).
    """
    gen = torch.Generator().manual_seed(seed)
    Case = exercises.Case
    if name == "jacobian":
        y = torch.randn(3, 6, 2, generator=gen)
        net = state_transformer(n_layers=1, d_model=16, n_heads=2, n_ctx=8, seed=seed).eval()
        return [
            Case("constant velocity, 4 taps", (constant_velocity, y, 4)),
            Case("a nonlinear predictor, all 6 taps", (_squares, y, 6)),
            Case(
                "an untrained state transformer, 1 tap",
                (net, torch.randn(2, 8, 2, generator=gen), 1),
            ),
        ]
    if name == "patch":
        return [
            Case(
                "(batch, pos, d_model)",
                (torch.randn(4, 5, 8, generator=gen), torch.randn(4, 5, 8, generator=gen)),
            ),
            Case(
                "(batch, pos, head, d_head)",
                (torch.randn(2, 3, 4, 2, generator=gen), torch.randn(2, 3, 4, 2, generator=gen)),
            ),
            Case(
                "one position",
                (torch.randn(2, 1, 3, generator=gen), torch.randn(2, 1, 3, generator=gen)),
            ),
        ]
    if name != "stencil":
        raise ValueError(f"no exercise named {name!r}")
    A = sample_systems(64, generator=gen).double()
    h = (0.1 + 0.5 * torch.rand(64, generator=gen)).double()
    rotation = torch.tensor([[[0.0, -2.0], [2.0, 0.0]]], dtype=torch.float64)
    repeated = torch.tensor([[[-0.5, 1.0], [0.0, -0.5]]], dtype=torch.float64)
    return [
        exercises.Case("64 random systems, steps 0.1-0.6", (A, h)),
        exercises.Case("a rotation (eigenvalues ±2i)", (rotation, torch.tensor([0.3]).double())),
        exercises.Case("a repeated eigenvalue -0.5", (repeated, torch.tensor([0.2]).double())),
        exercises.Case("a tiny step", (A[:4], torch.full((4,), 1e-3).double())),
    ]
