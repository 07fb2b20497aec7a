"""Solvers, baselines and the stencil/order tools on linear ODEs whose answers are known in closed form."""

import math

import numpy as np
import pytest
import tiny
import torch
from exercise_checks import assert_check_tells_right_from_wrong

from toylab import exercises
from toylab import ode_circuits as ode


def systems(n=32, seed=0, family="mixed"):
    return ode.sample_systems(
        n, generator=torch.Generator().manual_seed(seed), family=family
    ).double()


def test_damped_rotation_has_eigenvalues_minus_gamma_plus_minus_i_omega():
    A = ode.damped_rotation(0.2, 1.3)
    ev = ode.eigenvalues(A)
    assert torch.allclose(ev, torch.tensor([-0.2 - 1.3j, -0.2 + 1.3j], dtype=ev.dtype), atol=1e-6)


def test_sampled_systems_have_eigenvalues_in_the_stated_ranges():
    ev = ode.eigenvalues(systems(400))
    assert (ev.real <= 1e-6).all() and (ev.real >= -0.3 - 1e-6).all()
    complex_pairs = ev.imag.abs().amax(-1) > 1e-6
    assert 0.3 < complex_pairs.float().mean() < 0.7  # half rotations, half real eigenvalues
    assert (ev.imag.abs().amax(-1)[complex_pairs] >= 0.5 - 1e-6).all()


def test_rk4_map_is_the_fourth_order_taylor_polynomial_of_the_flow():
    A, h = ode.damped_rotation(0.0, 1.0).double(), 0.5
    # for the rotation, e^{hA} = R(h); RK4 agrees up to h^5/120 ≈ 2.6e-4
    assert (ode.rk4_map(A, h) - ode.flow_map(A, h)).abs().max() < h**5 / 120 * 1.01
    z = torch.tensor(0.5j, dtype=torch.complex128)
    assert abs(ode.rk4_stability(z) - (1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24)) < 1e-15
    ev = ode.eigenvalues(ode.euler_map(A, h))
    assert torch.allclose(ev, ode.euler_stability(h * ode.eigenvalues(A)), atol=1e-12)


def test_trajectories_follow_the_flow_and_exact_flow_has_zero_one_step_error():
    A = systems()
    traj = ode.linear_trajectories(A, 0.4, 20, generator=torch.Generator().manual_seed(1))
    assert traj.x.shape == (32, 20, 2) and torch.equal(traj.x, traj.y)
    assert torch.allclose(
        traj.x[:, 0].norm(dim=-1), torch.ones(32, dtype=torch.float64)
    )  # starts on the unit circle
    err = ode.next_state_error(ode.exact_flow(traj.y, traj.A, traj.h), traj.x)
    assert err.max() < 1e-10
    part = traj[:5]
    assert len(part) == 5 and torch.equal(part.A, traj.A[:5]) and torch.equal(part.y, traj.y[:5])
    with pytest.raises(IndexError, match="not one integer"):
        traj[0]
    noisy = ode.linear_trajectories(
        A, 0.4, 20, generator=torch.Generator().manual_seed(1), noise_std=0.1
    )
    assert 0.05 < (noisy.y - noisy.x).std() < 0.15


@pytest.mark.parametrize(
    "method, order", [("Euler (true A)", 1), ("AB2 (true A)", 2), ("RK4 (true A)", 4)]
)
def test_empirical_order_of_the_integrators(method, order):
    A = systems(64, family="rotation")
    hs = np.array([0.01, 0.02, 0.04, 0.08])
    errors = []
    for h in hs:
        traj = ode.linear_trajectories(A, float(h), 8, generator=torch.Generator().manual_seed(2))
        err = ode.next_state_error(ode.BASELINES[method](traj.y, traj.A, traj.h), traj.x)
        errors.append(
            err[:, 2:].mean().sqrt().item()
        )  # AB2 is only second order from its second step
    assert ode.empirical_order(hs, np.array(errors)) == pytest.approx(order, abs=0.15)


def test_empirical_order_reads_a_power_law():
    hs = np.array([0.1, 0.2, 0.4])
    assert ode.empirical_order(hs, 3 * hs**3) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="positive errors"):
        ode.empirical_order(hs, np.array([1.0, 0.0, 1.0]))


def test_least_squares_in_context_recovers_the_map_from_two_pairs_on():
    traj = ode.linear_trajectories(systems(), 0.5, 10, generator=torch.Generator().manual_seed(3))
    pred = ode.least_squares(traj.y, ridge=1e-9)
    err = ode.next_state_error(pred, traj.x)
    assert torch.allclose(pred[:, 0], traj.y[:, 0], atol=1e-6)  # no pairs yet: copy
    assert err[:, 2:].max() < 1e-5  # two pairs determine the 2×2 map


def test_constant_velocity_and_ab2_stencils():
    y = torch.tensor([[[0.0, 0.0], [1.0, 2.0], [3.0, 3.0]]])
    assert torch.equal(ode.constant_velocity(y)[0, 2], torch.tensor([5.0, 4.0]))
    A, h = torch.eye(2)[None], torch.tensor([0.1])
    # AB2 on dx/dt = x: y_t + h(3/2 y_t − 1/2 y_{t−1})
    assert torch.allclose(
        ode.adams_bashforth2(y, A, h)[0, 2],
        torch.tensor([3.0, 3.0])
        + 0.1 * (1.5 * torch.tensor([3.0, 3.0]) - 0.5 * torch.tensor([1.0, 2.0])),
    )


class LinearStencil(torch.nn.Module):
    """A hand-built model ŷ_{t+1} = 2 y_t − y_{t−1} (+ a 2×2 map on y_t)."""

    def __init__(self, M):
        super().__init__()
        self.M = M

    def forward(self, y):
        prev = torch.cat([torch.zeros_like(y[:, :1]), y[:, :-1]], dim=1)
        return y @ self.M.T + y - prev


def test_stencil_jacobian_reads_back_a_hand_built_stencil_and_companion_roots():
    M = torch.tensor([[1.0, 0.5], [-0.5, 1.0]])
    J = ode.stencil_jacobian(LinearStencil(M), torch.randn(3, 6, 2), 3)
    assert J.shape == (3, 3, 2, 2)
    assert torch.allclose(J[:, 0], (M + torch.eye(2)).expand(3, 2, 2))
    assert torch.allclose(J[:, 1], -torch.eye(2).expand(3, 2, 2)) and J[:, 2].abs().max() == 0
    # constant velocity [2I, −I]: double root 1 of z² − 2z + 1 (per coordinate)
    C = ode.companion(torch.stack([2 * torch.eye(2), -torch.eye(2)])[None])
    assert torch.allclose(torch.linalg.eigvals(C), torch.ones(4, dtype=torch.complex64), atol=1e-3)


def test_kalman_filter_is_the_posterior_mean_and_beats_the_exact_flow_on_noisy_states():
    A = systems(64)
    traj = ode.linear_trajectories(
        A, 0.5, 12, generator=torch.Generator().manual_seed(4), noise_std=0.1
    )
    pred = ode.kalman_filter(traj.y, traj.A, traj.h, noise_std=0.1)
    # by hand for one sequence at t = 5: x_t = M^t x_0, posterior of x_0 given y_0..y_5, prior N(0, I/2)
    M = ode.flow_map(A[0], 0.5)
    G = torch.cat(
        [torch.linalg.matrix_power(M, s) for s in range(6)]
    )  # (12, 2): y_s = M^s x_0 + noise
    post_prec = torch.eye(2, dtype=M.dtype) / 0.5 + G.T @ G / 0.01
    x0 = torch.linalg.solve(post_prec, G.T @ traj.y[0, :6].reshape(-1) / 0.01)
    assert torch.allclose(pred[0, 5], torch.linalg.matrix_power(M, 6) @ x0, atol=1e-8)
    kalman = ode.next_state_error(pred, traj.x)[:, 6:].mean()
    exact = ode.next_state_error(ode.exact_flow(traj.y, traj.A, traj.h), traj.x)[:, 6:].mean()
    assert kalman < 0.5 * exact
    with pytest.raises(ValueError, match="must be > 0"):
        ode.kalman_filter(traj.y, traj.A, traj.h, noise_std=0.0)


def test_nearest_roots_find_the_growth_factors_of_an_exact_two_step_rule():
    A = systems(16)
    h = torch.full((16,), 0.4, dtype=torch.float64)
    M = ode.flow_map(A, h)
    c0, c1 = M.diagonal(dim1=-2, dim2=-1).sum(-1), -torch.linalg.det(M)
    eye = torch.eye(2, dtype=torch.float64)
    J = torch.stack([c0[:, None, None] * eye, c1[:, None, None] * eye], dim=1)  # (16, 2, 2, 2)
    target = torch.exp(0.4 * ode.eigenvalues(A))
    assert (ode.nearest_roots(J, target) - target).abs().max() < 1e-8


def test_cayley_hamilton_stencil_passes_the_exercise_check():
    def stencil(A, h):
        M = ode.flow_map(A, h)
        return torch.stack([M.diagonal(dim1=-2, dim2=-1).sum(-1), -torch.linalg.det(M)], dim=-1)

    cases = ode.exercise_cases()
    assert exercises.passes(stencil, ode.two_step_stencil, cases)[0]
    euler = lambda A, h: torch.tensor([2.0, -1.0]).expand(len(h), 2)  # noqa: E731
    ok, message = exercises.passes(euler, ode.two_step_stencil, cases)
    assert not ok and "expected" in message
    with pytest.raises(ValueError, match="no exercise named"):
        ode.exercise_cases("nope")


def test_rk4_integrate_matches_the_exact_rotation_and_pendulum_near_zero():
    x0 = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    rot = ode.damped_rotation(0.0, 1.0).double()
    path = ode.integrate(lambda x: x @ rot.T, x0, 0.5, 10)
    exact = ode.linear_trajectories(rot[None], 0.5, 10, x0=x0).x
    assert torch.allclose(path, exact, atol=1e-6)
    small = ode.integrate(ode.pendulum, 1e-3 * x0, 0.5, 10)  # sin θ ≈ θ: the rotation with ω = 1
    assert torch.allclose(small, 1e-3 * exact, atol=1e-9)
    assert ode.energy(path).sub(0.5).abs().max() < 1e-6


def test_state_transformer_shapes_rollout_and_bad_input():
    model = ode.state_transformer(n_layers=1, d_model=16, n_heads=2, n_ctx=8)
    y = torch.randn(3, 8, 2)
    assert model(y).shape == (3, 8, 2)
    _, cache = model.run_with_cache(y)
    assert cache["blocks.0.attn.hook_pattern"].shape == (3, 2, 8, 8)
    assert ode.rollout(model, y[:, :5], 6).shape == (3, 6, 2)  # slides past the context of 8
    with pytest.raises(ValueError, match="states must be"):
        model(torch.randn(3, 8))
    with pytest.raises(ValueError, match="exceed"):
        model(torch.randn(1, 9, 2))
    with pytest.raises(ValueError, match="divisible"):
        ode.state_transformer(d_model=10, n_heads=4)


def test_bad_systems_and_trajectories_are_refused():
    with pytest.raises(ValueError, match="family"):
        ode.sample_systems(3, family="chaotic")
    with pytest.raises(ValueError, match="h must be positive"):
        ode.linear_trajectories(systems(2), -0.1, 5)
    with pytest.raises(ValueError, match="A must be"):
        ode.linear_trajectories(torch.eye(2), 0.1, 5)
    assert math.isclose(float(ode.energy(torch.tensor([3.0, 4.0]))), 12.5)


def jacobian(model, y, n_back, flip=True):
    y = y.detach().clone().requires_grad_(True)
    pred = model(y)[:, -1]
    rows = []
    for i in range(pred.shape[-1]):
        (grad,) = torch.autograd.grad(pred[:, i].sum(), y, retain_graph=True)
        rows.append((grad.flip(1) if flip else grad)[:, :n_back])
    return torch.stack(rows, dim=-2)


def patch(act, donor, position=-1):
    patched = act.clone()
    patched[:, position] = donor[:, position]
    return patched


@pytest.mark.parametrize(
    "name, reference, right, wrong",
    [
        (
            "jacobian",
            ode.stencil_jacobian,
            jacobian,
            lambda m, y, n: jacobian(m, y, n, flip=False),  # k = 0 at the first state
        ),
        ("patch", ode.patch_last_position, patch, lambda a, d: patch(a, d, position=0)),
    ],
)
def test_each_exercise_check_accepts_a_right_answer_and_refuses_a_wrong_one(
    name, reference, right, wrong
):
    assert_check_tells_right_from_wrong(reference, right, wrong, ode.exercise_cases(name))


def test_recency_smoother_is_the_exact_flow_at_weight_zero_and_averages_otherwise():
    A = systems(8)
    h = torch.full((8,), 0.5, dtype=torch.float64)
    traj = ode.linear_trajectories(A, h, 12, generator=torch.Generator().manual_seed(2))
    y = traj.x + 0.1 * torch.randn(
        traj.x.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64
    )
    assert torch.allclose(ode.recency_smoother(y, A, h, 0.0), ode.exact_flow(y, A, h))
    # on clean states every weighting is exact: the past, moved forward, is the present
    assert torch.allclose(
        ode.recency_smoother(traj.x, A, h, 0.8), ode.exact_flow(traj.x, A, h), atol=1e-9
    )
    # on noisy ones it averages the noise down
    err = {
        w: ode.next_state_error(ode.recency_smoother(y, A, h, w), traj.x)[:, 6:].mean()
        for w in (0.0, 0.7)
    }
    assert err[0.7] < 0.5 * err[0.0]
    with pytest.raises(ValueError, match="weight"):
        ode.recency_smoother(y, A, h, 1.0)


def test_ending_at_joins_another_law_without_a_jump():
    A, B = systems(6, seed=1), systems(6, seed=2)
    h = torch.full((6,), 0.4, dtype=torch.float64)
    second = ode.linear_trajectories(B, h, 5, generator=torch.Generator().manual_seed(4))
    first = ode.ending_at(A, h, second.x[:, 0], 7)
    assert first.x.shape == (6, 7, 2)
    assert torch.allclose(first.x[:, -1], second.x[:, 0], atol=1e-9)
    assert torch.allclose(first.x[:, 1:], ode.exact_flow(first.x, A, h)[:, :-1], atol=1e-9)


def test_parasitic_roots_leave_out_exactly_the_principal_ones():
    A = systems(16)
    h = torch.full((16,), 0.4, dtype=torch.float64)
    M = ode.flow_map(A, h)
    eye = torch.eye(2, dtype=torch.float64)
    # a three-tap rule J = [M, 0, 0]: roots are eig(M) and four zeros
    J = torch.stack([M, 0 * eye.expand_as(M), 0 * eye.expand_as(M)], dim=1)
    target = torch.exp(0.4 * ode.eigenvalues(A))
    rest = ode.parasitic_roots(J, target)
    assert rest.shape == (16, 4)
    assert rest.abs().max() < 1e-6


def test_least_squares_sums_and_heldout_r2_by_hand():
    y = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]])  # (1, 3, 2): a quarter turn
    sums = ode.least_squares_sums(y)
    # pairs (y0 -> y1), (y1 -> y2): sum y_{s+1} y_s^T = [[0, -1], [1, 0]], sum y y^T = I
    assert torch.allclose(sums, torch.tensor([[0.0, -0.5, 0.5, 0.0, 0.5, 0.0, 0.5]]))
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(400, 3, generator=gen)
    z = x @ torch.randn(3, 2, generator=gen) + 1.0
    assert ode.heldout_r2(x, z, n_fit=200) == pytest.approx(1.0)
    assert ode.heldout_r2(x, torch.randn(400, 2, generator=gen), n_fit=200) < 0.05
    a = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    assert torch.allclose(
        ode.row_correlation(a, torch.tensor([[2.0, 4.0, 6.0], [3.0, 2.0, 1.0]])),
        torch.tensor([1.0, -1.0]),
    )
    with pytest.raises(ValueError, match="n_fit"):
        ode.heldout_r2(x, z, n_fit=400)


class _StepModel(torch.nn.Module):
    """A stand-in for the state transformer: predicts each next state by a fixed rule."""

    def __init__(self, rule, n_ctx):
        super().__init__()
        self.rule, self.cfg = rule, type("Cfg", (), {"n_ctx": n_ctx})()
        self.dummy = torch.nn.Parameter(torch.zeros(()))  # rollout reads the device here

    def forward(self, y):  # (B, T, 2) -> (B, T, 2): row t predicts state t + 1
        return self.rule(y)


def test_rollout_of_an_exact_rotation_is_its_powers():
    A = ode.damped_rotation(torch.zeros(3), torch.ones(3)).double()
    M = ode.flow_map(A, 0.5)
    model = _StepModel(lambda y: torch.einsum("bij,btj->bti", M, y), n_ctx=4)
    prefix = ode.linear_trajectories(A, 0.5, 3, generator=torch.Generator().manual_seed(0)).x
    out = ode.rollout(model, prefix, 10)
    want = [torch.linalg.matrix_power(M, k) @ prefix[:, -1, :, None] for k in range(1, 11)]
    assert out.shape == (3, 10, 2)
    assert torch.allclose(out, torch.cat(want, dim=-1).transpose(1, 2), atol=1e-10)


def test_rollout_slides_its_window_past_the_context():
    # "the next state is the window's first": with a window of 3 the rollout cycles a, b, c
    model = _StepModel(lambda y: y[:, :1].expand_as(y), n_ctx=3)
    prefix = torch.arange(6.0).reshape(1, 3, 2)  # states a, b, c
    out = ode.rollout(model, prefix, 6)
    assert torch.equal(out[0], torch.cat([prefix[0], prefix[0]]))


def test_mean_ablating_last_layer_heads_swaps_their_direct_output_for_the_mean():
    m, t = tiny.model(), tiny.tokens()
    logits, cache = m.run_with_cache(t)
    z = cache["blocks.1.attn.hook_z"]
    mean_z = z.mean(0)  # (pos, head, d_head)
    ablated = m.run_with_hooks(t, fwd_hooks=[ode.mean_heads(1, [1], mean_z)])
    change = torch.einsum("bpd,dm,mv->bpv", mean_z[None, :, 1] - z[:, :, 1], m.W_O[1, 1], m.W_U)
    assert torch.allclose(ablated, logits + change, atol=1e-4)
    with pytest.raises(ValueError, match="mean of shape"):
        m.run_with_hooks(t, fwd_hooks=[ode.mean_heads(1, [1], mean_z[:3])])
