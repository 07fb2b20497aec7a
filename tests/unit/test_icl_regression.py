"""The in-context regression toolbox, checked against explicit gradient descent and known answers."""

import pytest
import torch
from exercise_checks import assert_check_tells_right_from_wrong

from toylab import exercises
from toylab import icl_regression as R
from toylab.train import TrainConfig, train


def tasks(batch=256, n_ctx=20, d=10, seed=0, **kw):
    return R.sample_tasks(batch, n_ctx, d, generator=torch.Generator().manual_seed(seed), **kw)


def test_tasks_are_linear_and_tokens_hold_them():
    t = tasks(batch=4, n_ctx=5, d=3)
    assert t.X.shape == (4, 5, 3) and t.y.shape == (4, 5) and t.x_q.shape == (4, 3)
    assert torch.allclose(t.y, torch.einsum("bnd,bd->bn", t.X, t.w), atol=1e-6)
    tok = R.to_tokens(t.X, t.y, t.x_q)
    assert tok.shape == (4, 6, 4)
    assert (
        torch.equal(tok[:, :5, 3], t.y)
        and torch.equal(tok[:, 5, :3], t.x_q)
        and (tok[:, 5, 3] == 0).all()
    )
    u = tasks(batch=1000, n_ctx=3, d=2, x_dist="uniform", x_scale=2.0)
    assert u.X.abs().max() <= 2.0 and u.X.abs().max() > 1.5


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(batch=0), "batch must be a positive integer"),
        (dict(n_ctx=-1), "n_ctx must be a positive integer"),
        (dict(x_dist="cauchy"), "x_dist must be"),
        (dict(noise_std=-1.0), "noise_std must be >= 0"),
        (dict(x_cov=torch.eye(3)), r"x_cov must have shape \(2, 2\)"),
        (dict(x_cov=torch.tensor([[1.0, 0.5], [0.0, 1.0]])), "x_cov must be symmetric"),
        (dict(x_cov=torch.tensor([[1.0, 2.0], [2.0, 1.0]])), "positive definite"),
        (dict(x_cov=torch.eye(2), x_dist="uniform"), "normal inputs only"),
    ],
)
def test_bad_task_settings(bad, message):
    args = {"batch": 2, "n_ctx": 3, "d": 2, **bad}
    with pytest.raises(ValueError, match=message):
        R.sample_tasks(args.pop("batch"), args.pop("n_ctx"), args.pop("d"), **args)


def test_anisotropic_inputs_have_the_covariance_asked_for():
    cov = R.power_covariance(3, 0.6)
    assert cov[0, 2] == pytest.approx(0.36) and torch.equal(cov, cov.T)
    t = tasks(batch=4000, n_ctx=10, d=3, x_cov=cov)
    x = t.X.reshape(-1, 3)
    assert torch.allclose(x.T @ x / len(x), cov, atol=0.03)
    assert torch.allclose(t.y, torch.einsum("bnd,bd->bn", t.X, t.w), atol=1e-5)


def test_lsa_layer_is_scores_times_values():
    """The regrouped forward (second moments S) against the layer written as attention."""
    model = R.LinearSelfAttention(4, n_layers=2, init_std=0.5, seed=3)
    t = tasks(batch=8, n_ctx=6, d=4)
    tokens = R.to_tokens(t.X, t.y, t.x_q)
    for W_K, W_Q, W_V, P in zip(model.W_K, model.W_Q, model.W_V, model.P):
        ctx = tokens[:, :-1]
        scores = (tokens @ W_Q.T) @ (ctx @ W_K.T).transpose(1, 2) / 6  # (B, N+1, N)
        tokens = tokens + scores @ (ctx @ (P @ W_V).T)
    with torch.no_grad():
        assert torch.allclose(model.forward_tokens(R.to_tokens(t.X, t.y, t.x_q)), tokens, atol=1e-5)


def test_optimal_preconditioner_is_eta_star_for_isotropic_inputs_and_minimises_the_risk():
    n, d = 20, 5
    assert torch.allclose(
        R.optimal_preconditioner(torch.eye(d), n), R.optimal_gd_eta(n, d) * torch.eye(d)
    )
    cov = R.power_covariance(d, 0.8)
    best = R.optimal_preconditioner(cov, n)
    t = tasks(batch=40000, n_ctx=n, d=d, x_cov=cov)
    measured = R.mse(lambda X, y, x_q: R.preconditioned_gd_predict(X, y, x_q, best), t)
    assert measured == pytest.approx(R.expected_preconditioned_risk(cov, n, best), rel=0.05)
    risk = R.expected_preconditioned_risk(cov, n, best)
    gen = torch.Generator().manual_seed(1)
    for _ in range(5):  # any perturbation costs risk: Γ* is the minimum
        bump = 0.05 * torch.randn(d, d, generator=gen)
        assert R.expected_preconditioned_risk(cov, n, best + bump) > risk
    eta = R.optimal_gd_eta(n, d)  # the isotropic step is worse on these inputs
    assert R.expected_preconditioned_risk(cov, n, eta * torch.eye(d)) > 1.1 * risk


def test_lsa_preconditioner_reads_the_step_whatever_the_traded_scale():
    kq, pv = (m[0] for m in R.attention_products(R.gd_construction(4, 0.6)))
    kq[:4, :4] = torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    kq[0, 1] = 5.0  # asymmetric: x_iᵀ K x_q, so Γ = Kᵀ
    model = R.lsa_from_products((-2.0 * kq)[None], (pv / -2.0)[None])
    gamma = R.lsa_preconditioner(model)
    t = tasks(batch=16, n_ctx=7, d=4)
    with torch.no_grad():
        want = model(t.X, t.y, t.x_q)
    assert torch.allclose(R.preconditioned_gd_predict(t.X, t.y, t.x_q, gamma), want, atol=1e-5)
    assert R.matrix_cosine(gamma, 3 * gamma) == pytest.approx(1.0)
    assert R.matrix_cosine(gamma, -gamma) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="shapes differ"):
        R.matrix_cosine(gamma, gamma[:3])


@pytest.mark.parametrize("n_layers", [1, 3])
def test_construction_is_exactly_gradient_descent(n_layers):
    t = tasks(d=5, n_ctx=12)
    model = R.gd_construction(5, eta=0.7, n_layers=n_layers)
    with torch.no_grad():
        got = model(t.X, t.y, t.x_q)
    want = R.gd_predict(t.X, t.y, t.x_q, eta=0.7, steps=n_layers)
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-5)


def test_optimal_step_size_matches_line_search_and_risk_formula():
    t = tasks(batch=20000, n_ctx=20, d=10)
    eta = R.optimal_gd_eta(20, 10)
    assert eta == pytest.approx(20 / 31)
    assert R.line_search_eta(t) == pytest.approx(eta, abs=0.03)
    risk = R.mse(lambda X, y, x_q: R.gd_predict(X, y, x_q, eta), t)
    assert risk == pytest.approx(R.expected_gd_risk(20, 10, eta), rel=0.05)


def test_least_squares_is_exact_without_noise():
    t = tasks(n_ctx=20, d=10)
    assert torch.allclose(R.least_squares_predict(t.X, t.y, t.x_q), t.y_q, atol=1e-3)


def test_gd_plus_plus_without_preconditioning_is_gd():
    t = tasks()
    got = R.gd_plus_plus_predict(t.X, t.y, t.x_q, [0.0, 0.0], [0.5, 0.5])
    assert torch.allclose(got, R.gd_predict(t.X, t.y, t.x_q, 0.5, steps=2), atol=1e-4)


def test_gd_plus_plus_by_hand_for_one_task():
    """Two GD++ steps written out with explicit matrices for one small task."""
    t = tasks(batch=1, n_ctx=6, d=3, seed=4)
    X, y, xq = t.X[0], t.y[0], t.x_q[0]
    gammas, etas = [0.3, 0.1], [0.8, 0.5]
    r, pred = y.clone(), 0.0
    for gamma, eta in zip(gammas, etas):
        u = X.T @ r / 6
        pred = pred + eta * u @ xq
        r = r - eta * X @ u
        C = X.T @ X / 6
        X, xq = X @ (torch.eye(3) - gamma * C).T, (torch.eye(3) - gamma * C) @ xq
    got = R.gd_plus_plus_predict(t.X, t.y, t.x_q, gammas, etas)
    assert torch.allclose(got, pred.reshape(1), atol=1e-5)


def test_gd_plus_plus_construction_runs_gd_plus_plus_and_step_sizes_read_back():
    t = tasks(d=5, n_ctx=12)
    gammas, etas = [0.2, 0.4, 0.0], [0.9, 1.5, 2.0]
    model = R.gd_plus_plus_construction(5, gammas, etas)
    with torch.no_grad():
        got = model(t.X, t.y, t.x_q)
    assert torch.allclose(
        got, R.gd_plus_plus_predict(t.X, t.y, t.x_q, gammas, etas), rtol=1e-4, atol=1e-4
    )
    g, e = R.layer_step_sizes(model)
    assert torch.allclose(g, torch.tensor(gammas)) and torch.allclose(e, torch.tensor(etas))
    # the paper's four-matrix construction has the same products as GD++ with γ = 0
    g, e = R.layer_step_sizes(R.gd_construction(5, 0.7, n_layers=2))
    assert torch.allclose(g, torch.zeros(2)) and torch.allclose(e, torch.full((2,), 0.7))


def test_products_identify_the_function_and_interpolation_fixes_the_scale():
    t = tasks(d=4, n_ctx=10)
    gd = R.gd_construction(4, 0.6)
    kq, pv = R.attention_products(gd)
    rescaled = R.lsa_from_products(-3.0 * kq, pv / -3.0)  # same function, other scale
    with torch.no_grad():
        assert torch.allclose(rescaled(t.X, t.y, t.x_q), gd(t.X, t.y, t.x_q), atol=1e-4)
        # naive averaging of the two would cancel; the scale fix recovers the function
        mid = R.interpolate(rescaled, gd)
        assert torch.allclose(mid(t.X, t.y, t.x_q), gd(t.X, t.y, t.x_q), atol=1e-4)
    with pytest.raises(ValueError, match="models differ in shape"):
        R.interpolate(R.gd_construction(4, 0.6, n_layers=2), gd)
    with pytest.raises(ValueError, match=r"must both be \(L, d\+1, d\+1\)"):
        R.lsa_from_products(kq, pv[:, :3, :3])
    with pytest.raises(ValueError, match="equal length"):
        R.gd_plus_plus_predict(t.X, t.y, t.x_q, [0.1], [0.5, 0.5])


def test_kernel_regression_limits():
    t = tasks()
    assert torch.allclose(
        R.kernel_regression_predict(t.X, t.y, t.x_q, 0.0), t.y.mean(-1), atol=1e-6
    )


def test_opposite_softmax_heads_compute_debiased_gd():
    t = tasks(batch=512, n_ctx=40, d=5)
    omega, mu = 0.01, 50.0
    model = R.SoftmaxAttentionRegressor(5, n_heads=2)
    with torch.no_grad():
        model.A.zero_()
        model.v.zero_()
        for h, sign in enumerate((1.0, -1.0)):
            model.A[h, :5, :5] = sign * omega * torch.eye(5)
            model.v[h, 5] = sign * mu
        pred = model(t.X, t.y, t.x_q)
    debiased = R.debiased_gd_predict(t.X, t.y, t.x_q, eta=2 * mu * omega)
    assert R.r_squared(pred, debiased) > 0.99
    w, m = model.omega_mu()
    assert torch.allclose(w, torch.tensor([omega, -omega])) and torch.allclose(
        m, torch.tensor([mu, -mu])
    )


def test_agreement_of_a_predictor_with_itself():
    t = tasks()
    gd = lambda X, y, x_q: R.gd_predict(X, y, x_q, 0.6)  # noqa: E731
    same = R.agreement(R.gd_construction(10, 0.6), gd, t)
    assert (
        same.preds_diff < 1e-4
        and same.model_diff < 1e-4
        and same.model_cos == pytest.approx(1.0, abs=1e-5)
    )
    other = R.agreement(lambda X, y, x_q: R.least_squares_predict(X, y, x_q), gd, t)
    assert other.model_cos < 0.99 and other.relative_preds_diff > 0.1


def test_sensitivity_of_a_linear_predictor():
    t = tasks(batch=8, d=3, n_ctx=4)
    s = R.sensitivity(
        lambda X, y, x_q: (x_q * torch.tensor([1.0, -2.0, 3.0])).sum(-1), t.X, t.y, t.x_q
    )
    assert torch.allclose(s, torch.tensor([1.0, -2.0, 3.0]).expand(8, 3))


def test_trained_lsa_layer_approaches_one_gd_step():
    """A short run of the training loop with a sampler: fresh tasks every step, reproducible."""
    d, n_ctx = 4, 10

    def sample(gen):
        t = R.sample_tasks(256, n_ctx, d, generator=gen)
        return t.X, t.y, t.x_q, t.y_q

    def loss_fn(model, X, y, x_q, y_q):
        return (model(X, y, x_q) - y_q).pow(2).mean()

    cfg = TrainConfig(steps=400, lr=1e-2, log_every=100)
    runs = [
        train(R.LinearSelfAttention(d, seed=0), sample, loss_fn, cfg, use_cache=False)
        for _ in range(2)
    ]
    assert runs[0].history == runs[1].history
    test = tasks(batch=4096, n_ctx=n_ctx, d=d, seed=99)
    eta = R.optimal_gd_eta(n_ctx, d)
    gd = lambda X, y, x_q: R.gd_predict(X, y, x_q, eta)  # noqa: E731
    assert R.mse(runs[0].model, test) < 1.1 * R.mse(gd, test)
    assert R.agreement(runs[0].model, gd, test).model_cos > 0.95


def test_step_size_check_accepts_the_scale_free_reading_and_refuses_one_product_alone():
    def solution(kq, pv):
        d = kq.shape[0] - 1
        return float(-kq[:d, :d].diagonal().mean() * pv[d, d])

    def value_only(kq, pv):  # ignores the scale the two products trade
        return float(-pv[-1, -1])

    cases = R.exercise_cases()
    assert exercises.passes(solution, R.step_size, cases)[0]
    ok, message = exercises.passes(value_only, R.step_size, cases)
    assert not ok and "expected" in message
    with pytest.raises(ValueError, match="no exercise named"):
        R.exercise_cases("nope")


def gd_step(X, y, x_q, eta, normalise=True):
    out = eta * torch.einsum("bn,bnd,bd->b", y, X, x_q)
    return out / X.shape[1] if normalise else out


def debiased_step(X, y, x_q, eta, centre_inputs=True):
    if centre_inputs:
        return gd_step(X - X.mean(dim=1, keepdim=True), y, x_q, eta)
    return gd_step(X, y, x_q, eta)  # the plain step, not debiased


@pytest.mark.parametrize(
    "name, reference, right, wrong",
    [
        ("gd_step", R.gd_predict, gd_step, lambda *a: gd_step(*a, normalise=False)),
        (
            "debiased_step",
            R.debiased_gd_predict,
            debiased_step,
            lambda *a: debiased_step(*a, centre_inputs=False),
        ),
    ],
)
def test_each_exercise_check_accepts_a_right_answer_and_refuses_a_wrong_one(
    name, reference, right, wrong
):
    assert_check_tells_right_from_wrong(reference, right, wrong, R.exercise_cases(name))


def test_best_scale_is_the_least_squares_multiplier():
    pred, target = torch.tensor([1.0, 2.0, -1.0]), torch.tensor([2.0, 4.0, -2.0])
    assert R.best_scale(pred, target) == pytest.approx(2.0)
    noisy = target + torch.tensor([0.3, -0.3, 0.0])  # c = <p, t> / <p, p>, by hand: 11.7 / 6
    assert R.best_scale(pred, noisy) == pytest.approx((2.3 + 2 * 3.7 + 2.0) / 6)
    assert R.best_scale(torch.zeros(3), target) == 0.0  # no prediction, no scale (not a NaN)


def test_fit_gd_plus_plus_finds_the_best_single_step():
    # one layer: gamma never reaches the prediction, eta should go to N / (N + d + 1)
    g, e = R.fit_gd_plus_plus([0.0], [0.3], n_ctx=20, d=5, steps=300, lr=1e-2, seed=0)
    assert e.item() == pytest.approx(R.optimal_gd_eta(20, 5), abs=0.03)
    assert g.item() == pytest.approx(0.0, abs=1e-6)
