"""In-context linear regression: the tasks, the attention models, and the algorithms they are compared with.

A sequence holds N pairs (x_i, y_i) of one random linear task y = wᵀx (+ noise)
and a query x_q; the model must predict y_q from the context alone. Following
von Oswald et al. (2023), one layer of linear self-attention can implement one
step of gradient descent on the context's least-squares loss; following He et
al. (2025), pairs of softmax heads implement a debiased version of it.

The toolbox of the chapter ``notebooks/icl_regression.py``.
Predictors share one signature, ``predict(X, y, x_q) -> y_hat`` with
X (B, N, d), y (B, N), x_q (B, d) and y_hat (B,), so that models and
closed-form algorithms can be compared by the same metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from toylab import exercises

Predictor = Callable[[Tensor, Tensor, Tensor], Tensor]  # (X, y, x_q) -> y_hat


# --- tasks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegressionTasks:
    """A batch of in-context regression problems, one linear task per row.

    Taught in: icl_regression §1, through ``sample_tasks``.
    """

    X: Tensor  # (B, N, d) context inputs
    y: Tensor  # (B, N) context targets
    x_q: Tensor  # (B, d) query input
    y_q: Tensor  # (B,) query target
    w: Tensor  # (B, d) each task's true weights

    def to(self, device: torch.device | str) -> RegressionTasks:
        """The same tasks on ``device``."""
        return RegressionTasks(
            *(t.to(device) for t in (self.X, self.y, self.x_q, self.y_q, self.w))
        )


def sample_tasks(
    batch: int,
    n_ctx: int,
    d: int,
    *,
    generator: torch.Generator | None = None,
    x_dist: str = "normal",
    x_scale: float = 1.0,
    noise_std: float = 0.0,
    x_cov: Tensor | None = None,
) -> RegressionTasks:
    """Draw ``batch`` tasks w ~ N(0, I_d) with ``n_ctx`` context pairs and one query each.

    Args:
        x_dist: ``"normal"`` for x ~ N(0, I_d) or ``"uniform"`` for x ~ U(-1, 1)^d
            (von Oswald et al.'s choice).
        x_scale: multiplies every x; values > 1 give out-of-distribution inputs.
        noise_std: standard deviation of Gaussian noise added to every y.
        x_cov: a (d, d) covariance Λ for normal inputs, x ~ N(0, Λ) (anisotropic
            inputs); ``None`` for the identity.

    Taught in: icl_regression §1 (x_cov: §6).
    """
    for name, value in (("batch", batch), ("n_ctx", n_ctx), ("d", d)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if x_dist not in ("normal", "uniform"):
        raise ValueError(f"x_dist must be 'normal' or 'uniform', got {x_dist!r}")
    if noise_std < 0 or x_scale <= 0:
        raise ValueError("noise_std must be >= 0 and x_scale > 0")
    root = None if x_cov is None else covariance_root(x_cov, d)
    if root is not None and x_dist != "normal":
        raise ValueError("x_cov is for normal inputs only")
    shape = (batch, n_ctx + 1, d)
    if x_dist == "normal":
        xs = torch.randn(shape, generator=generator)
        if root is not None:
            xs = xs @ root.T  # (B, N+1, d): rows ~ N(0, root rootᵀ) = N(0, Λ)
    else:
        xs = 2 * torch.rand(shape, generator=generator) - 1
    xs = xs * x_scale
    w = torch.randn(batch, d, generator=generator)
    ys = torch.einsum("bnd,bd->bn", xs, w) + noise_std * torch.randn(
        batch, n_ctx + 1, generator=generator
    )
    return RegressionTasks(xs[:, :-1], ys[:, :-1], xs[:, -1], ys[:, -1], w)


def covariance_root(cov: Tensor, d: int) -> Tensor:
    """The Cholesky factor L (L Lᵀ = ``cov``) of a (d, d) covariance; a clear error if it is not one.

    Taught in: icl_regression §6, through ``sample_tasks``.
    """
    cov = torch.as_tensor(cov, dtype=torch.float32)
    if cov.shape != (d, d):
        raise ValueError(f"x_cov must have shape ({d}, {d}), got {tuple(cov.shape)}")
    if not torch.allclose(cov, cov.T, atol=1e-6):
        raise ValueError("x_cov must be symmetric")
    root, info = torch.linalg.cholesky_ex(cov.double())
    if info != 0:
        raise ValueError("x_cov must be positive definite")
    return root.float()


def power_covariance(d: int, rho: float) -> Tensor:
    """Λ_ij = ρ^|i−j|: correlated inputs with a spread of variances (the covariance in He et al.'s code).

    Taught in: icl_regression §6.
    """
    if not 0 <= rho < 1:
        raise ValueError(f"rho must be in [0, 1), got {rho}")
    i = torch.arange(d)
    return rho ** (i[:, None] - i[None]).abs().float()


def to_tokens(X: Tensor, y: Tensor, x_q: Tensor) -> Tensor:
    """Tokens e_i = (x_i, y_i) for the context and (x_q, 0) for the query: (B, N+1, d+1).

    Taught in: icl_regression §3, through ``LinearSelfAttention``.
    """
    context = torch.cat([X, y[..., None]], dim=-1)  # (B, N, d+1)
    query = torch.cat([x_q, torch.zeros_like(x_q[:, :1])], dim=-1)[:, None]  # (B, 1, d+1)
    return torch.cat([context, query], dim=1)


# --- closed-form predictors -----------------------------------------------------------------


def gd_predict(X: Tensor, y: Tensor, x_q: Tensor, eta: float, steps: int = 1) -> Tensor:
    """Prediction after ``steps`` of gradient descent from w = 0 on ℒ(w) = 1/(2N) Σ (wᵀx_i − y_i)².

    Taught in: icl_regression §1.
    """
    w = torch.zeros_like(x_q)  # (B, d)
    for _ in range(steps):
        residual = y - torch.einsum("bnd,bd->bn", X, w)  # (B, N)
        w = w + eta * torch.einsum("bn,bnd->bd", residual, X) / X.shape[1]
    return (w * x_q).sum(-1)


def optimal_gd_eta(n_ctx: int, d: int) -> float:
    """The best single GD step size from w = 0 for x ~ N(0, I_d) and w ~ N(0, I_d): N / (N + d + 1).

    Minimising 𝔼[(η/N Σ y_i x_iᵀ x_q − wᵀx_q)²] over η uses 𝔼[‖Σ_i y_i x_i‖²] = N(N + d + 1)
    for Gaussian inputs (fourth moments), and 𝔼[Σ y_i x_iᵀ w] = N d.

    Taught in: icl_regression §1.
    """
    return n_ctx / (n_ctx + d + 1)


def optimal_preconditioner(cov: Tensor, n_ctx: int) -> Tensor:
    """Γ* = ((1 + 1/N) Λ + tr(Λ)/N · I)⁻¹: the best matrix Γ for one step ŷ = x_qᵀ Γ (1/N) Σ y_i x_i.

    For x ~ N(0, Λ) and w ~ N(0, I), with C = (1/N) Σ x_i x_iᵀ, the risk
    𝔼[(x_qᵀ(ΓC − I)w)²] = tr(Λ Γ 𝔼[C²] Γᵀ) − 2 tr(Λ Γ Λ) + tr(Λ) (see ``expected_preconditioned_risk``)
    is minimised at Γ = Λ 𝔼[C²]⁻¹, and the Wishart moment 𝔼[C²] = (1 + 1/N) Λ² + tr(Λ)/N · Λ
    gives Γ*. For Λ = I it is η* I with η* = N/(N + d + 1).

    Taught in: icl_regression §6.
    """
    cov = torch.as_tensor(cov, dtype=torch.float64)
    d = cov.shape[0]
    return torch.linalg.inv((1 + 1 / n_ctx) * cov + torch.trace(cov) / n_ctx * torch.eye(d)).float()


def preconditioned_gd_predict(X: Tensor, y: Tensor, x_q: Tensor, gamma: Tensor) -> Tensor:
    """One preconditioned GD step from w = 0: ŷ = x_qᵀ Γ (1/N) Σ_i y_i x_i, Γ = ``gamma`` (d, d).

    Taught in: icl_regression §6.
    """
    u = torch.einsum("bn,bnd->bd", y, X) / X.shape[1]  # (B, d): the plain gradient step
    return torch.einsum("bd,de,be->b", x_q, gamma, u)


def expected_preconditioned_risk(cov: Tensor, n_ctx: int, gamma: Tensor) -> float:
    """𝔼[(ŷ − y_q)²] of ``preconditioned_gd_predict`` for x ~ N(0, Λ), w ~ N(0, I), no noise.

    tr(Λ Γ M Γᵀ) − 2 tr(Λ Γ Λ) + tr(Λ) with M = 𝔼[C²] = (1 + 1/N) Λ² + tr(Λ)/N · Λ.

    Taught in: icl_regression §6.
    """
    lam, g = (torch.as_tensor(m, dtype=torch.float64) for m in (cov, gamma))
    m = (1 + 1 / n_ctx) * lam @ lam + torch.trace(lam) / n_ctx * lam
    return float(torch.trace(lam @ g @ m @ g.T) - 2 * torch.trace(lam @ g @ lam) + torch.trace(lam))


def line_search_eta(
    tasks: RegressionTasks, steps: int = 1, lo: float = 0.0, hi: float = 2.0, n_grid: int = 401
) -> float:
    """The step size with the lowest mean squared error of :func:`gd_predict` on ``tasks``.

    Taught in: icl_regression §1.
    """
    etas = torch.linspace(lo, hi, n_grid)
    errors = torch.stack(
        [
            (gd_predict(tasks.X, tasks.y, tasks.x_q, float(eta), steps) - tasks.y_q).pow(2).mean()
            for eta in etas
        ]
    )
    return float(etas[errors.argmin()])


def gd_plus_plus_predict(
    X: Tensor, y: Tensor, x_q: Tensor, gammas: Sequence[float], etas: Sequence[float]
) -> Tensor:
    """GD++ (von Oswald et al.): per step, a GD step on the residuals and a curvature correction of the inputs.

    Step l updates, at the same time, the residuals r_i ← r_i − η_l uᵀx_i with
    u = (1/N) Σ_i r_i x_i (the query's prediction grows by η_l uᵀx_q), and every
    input, the query's included, x ← (I − γ_l C) x with C = (1/N) Σ_i x_i x_iᵀ.
    The correction shrinks C's large eigenvalues, so later GD steps see a better
    conditioned problem. With all γ_l = 0 this is plain GD with steps η_l.

    Taught in: icl_regression §4.
    """
    if len(gammas) != len(etas) or len(etas) == 0:
        raise ValueError("gammas and etas must be non-empty and of equal length")
    n_ctx = X.shape[1]
    xs = torch.cat([X, x_q[:, None]], dim=1)  # (B, N+1, d)
    residual, y_hat = y, torch.zeros_like(y[:, 0])
    for gamma, eta in zip(gammas, etas):
        ctx = xs[:, :-1]
        u = torch.einsum("bn,bnd->bd", residual, ctx) / n_ctx  # (B, d)
        y_hat = y_hat + eta * (u * xs[:, -1]).sum(-1)
        residual = residual - eta * torch.einsum("bd,bnd->bn", u, ctx)
        cov = torch.einsum("bni,bnj->bij", ctx, ctx) / n_ctx  # (B, d, d)
        xs = xs - gamma * torch.einsum("bij,bnj->bni", cov, xs)
    return y_hat


def least_squares_predict(X: Tensor, y: Tensor, x_q: Tensor, ridge: float = 0.0) -> Tensor:
    """Prediction of the (ridge-regularised) least-squares fit to the context; minimum-norm if N < d.

    Taught in: icl_regression §1.
    """
    if ridge > 0:
        gram = X.transpose(1, 2) @ X + ridge * torch.eye(X.shape[-1])
        w = torch.linalg.solve(gram, (X.transpose(1, 2) @ y[..., None]))[..., 0]
    else:
        w = (torch.linalg.pinv(X) @ y[..., None])[..., 0]
    return (w * x_q).sum(-1)


def debiased_gd_predict(X: Tensor, y: Tensor, x_q: Tensor, eta: float) -> Tensor:
    """One GD step on centred inputs: η/N Σ_i y_i (x_i − x̄)ᵀ x_q.

    What a pair of softmax heads with opposite signs computes to first order: a
    head gives μ Σ_i softmax_i(κ x_iᵀx_q) y_i ≈ μ [ȳ + κ/N Σ_i y_i (x_i − x̄)ᵀ x_q];
    with (μ, κ) and (−μ, −κ) the ȳ terms cancel and the slopes add.

    Taught in: icl_regression §5.
    """
    centred = X - X.mean(dim=1, keepdim=True)
    return eta * torch.einsum("bn,bnd,bd->b", y, centred, x_q) / X.shape[1]


def kernel_regression_predict(X: Tensor, y: Tensor, x_q: Tensor, omega: float) -> Tensor:
    """Nadaraya-Watson regression with weights softmax_i(κ x_iᵀ x_q), κ = ``omega``: one softmax head reading y.

    Taught in: icl_regression §5.
    """
    weights = torch.softmax(omega * torch.einsum("bnd,bd->bn", X, x_q), dim=-1)
    return (weights * y).sum(-1)


# --- models ---------------------------------------------------------------------------------


class LinearSelfAttention(nn.Module):
    """Stacked single-head linear self-attention layers with residuals (von Oswald et al. 2023).

    Every token j is updated by e_j ← e_j + P W_V (1/N) Σ_{i≤N} e_i (W_K e_i)ᵀ (W_Q e_j),
    where i runs over the N context tokens (the query is never a key). The
    prediction is minus the query token's last entry after the last layer, so
    that the gradient-descent construction reads out +ŷ. The 1/N makes a
    trained layer meaningful at other context lengths; at fixed N it only
    rescales P.

    Without a softmax the sum regroups: e_j ← e_j + P W_V S W_Kᵀ W_Q e_j with
    S = (1/N) Σ_i e_i e_iᵀ, the context's (d+1, d+1) second moments. That is how it
    is computed: the same function as scores times values, in about half the time.

    Taught in: icl_regression §3.
    """

    def __init__(self, d: int, n_layers: int = 1, init_std: float = 0.1, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        shape = (n_layers, d + 1, d + 1)
        self.W_K, self.W_Q, self.W_V, self.P = (
            nn.Parameter(init_std * torch.randn(shape, generator=gen)) for _ in range(4)
        )

    def forward_tokens(self, tokens: Tensor) -> Tensor:
        """Tokens (B, N+1, d+1), the last one the query, after every layer."""
        n_ctx = tokens.shape[1] - 1
        for W_K, W_Q, W_V, P in zip(self.W_K, self.W_Q, self.W_V, self.P):
            ctx = tokens[:, :-1]  # (B, N, d+1): keys and values
            S = ctx.transpose(1, 2) @ ctx / n_ctx  # (B, d+1, d+1): context second moments
            update = (P @ W_V) @ S @ (W_K.T @ W_Q)  # (B, d+1, d+1), no softmax
            tokens = tokens + tokens @ update.transpose(1, 2)
        return tokens

    def forward(self, X: Tensor, y: Tensor, x_q: Tensor) -> Tensor:
        return -self.forward_tokens(to_tokens(X, y, x_q))[:, -1, -1]


def attention_products(model: LinearSelfAttention) -> tuple[Tensor, Tensor]:
    """The identifiable products of every layer: W_Kᵀ W_Q and P W_V, each (L, d+1, d+1).

    Taught in: icl_regression §3.
    """
    with torch.no_grad():
        return model.W_K.transpose(1, 2) @ model.W_Q, model.P @ model.W_V


def lsa_preconditioner(model: LinearSelfAttention, layer: int = 0) -> Tensor:
    """The (d, d) matrix Γ with which a layer's prediction is x_qᵀ Γ (1/N) Σ y_i x_i: scale-free.

    The query's y entry reads (P W_V)_yy · y_i through the scores x_iᵀ K x_q, K the x-block
    of W_KᵀW_Q, so Γ = −(P W_V)_yy · Kᵀ: the product, which the two factors' traded scale
    leaves alone. For the GD construction it is η I.

    Taught in: icl_regression §6.
    """
    kq, pv = (m[layer] for m in attention_products(model))
    d = kq.shape[-1] - 1
    return -pv[d, d] * kq[:d, :d].T


def matrix_cosine(a: Tensor, b: Tensor) -> float:
    """The cosine between two matrices as vectors: 1 when one is a positive multiple of the other.

    Taught in: icl_regression §6.
    """
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} and {tuple(b.shape)}")
    a, b = a.double().flatten(), b.double().flatten()
    return float(a @ b / (a.norm() * b.norm()).clamp_min(1e-300))


def lsa_from_products(kq: Tensor, pv: Tensor) -> LinearSelfAttention:
    """An LSA whose layers have the products ``kq`` = W_KᵀW_Q and ``pv`` = P W_V, each (L, d+1, d+1).

    Taught in: icl_regression §3, through ``interpolate``.
    """
    if kq.shape != pv.shape or kq.ndim != 3 or kq.shape[1] != kq.shape[2]:
        raise ValueError(
            f"kq and pv must both be (L, d+1, d+1), got {tuple(kq.shape)} and {tuple(pv.shape)}"
        )
    n_layers, d = kq.shape[0], kq.shape[1] - 1
    model = LinearSelfAttention(d, n_layers)
    eye = torch.eye(d + 1).expand_as(kq)
    with torch.no_grad():
        for param, value in ((model.W_K, eye), (model.W_Q, kq), (model.P, eye), (model.W_V, pv)):
            param.copy_(value)
    return model


def gd_plus_plus_construction(
    d: int, gammas: Sequence[float], etas: Sequence[float]
) -> LinearSelfAttention:
    """LSA weights that run GD++ (:func:`gd_plus_plus_predict`); one layer per (γ_l, η_l).

    W_KᵀW_Q = [[I_d, 0], [0, 0]] (scores x_iᵀx_j) and P W_V = [[−γ_l I_d, 0], [0, −η_l]]:
    the x-block moves every input by −γ_l C x, the y-block writes −η_l uᵀx into
    the y entry, so the query's y entry ends at −ŷ.

    Taught in: no chapter yet. icl_regression §4 describes these weights in words and reads
    (γ_l, η_l) back from trained layers with ``layer_step_sizes``, whose unit test builds its
    case with this function.
    """
    if len(gammas) != len(etas) or len(etas) == 0:
        raise ValueError("gammas and etas must be non-empty and of equal length")
    n_layers = len(etas)
    kq = torch.zeros(n_layers, d + 1, d + 1)
    kq[:, :d, :d] = torch.eye(d)
    pv = torch.zeros(n_layers, d + 1, d + 1)
    for layer, (gamma, eta) in enumerate(zip(gammas, etas)):
        pv[layer, :d, :d] = -gamma * torch.eye(d)
        pv[layer, d, d] = -eta
    return lsa_from_products(kq, pv)


def gd_construction(d: int, eta: float, n_layers: int = 1) -> LinearSelfAttention:
    """LSA weights that run ``n_layers`` steps of GD from w = 0 with step size ``eta``.

    W_K = W_Q = [[I_d, 0], [0, 0]] (attention scores x_iᵀx_j), W_V = [[0, 0], [0, −1]]
    (value −y_i), P = η [[0, 0], [0, 1]] (write into the y entry only): the
    paper's four matrices, whose products are those of GD++ with γ = 0.

    Taught in: icl_regression §2.
    """
    model = LinearSelfAttention(d, n_layers)
    read_x = torch.zeros(d + 1, d + 1)
    read_x[:d, :d] = torch.eye(d)
    minus_y, write_y = torch.zeros(d + 1, d + 1), torch.zeros(d + 1, d + 1)
    minus_y[d, d], write_y[d, d] = -1.0, eta
    with torch.no_grad():
        for param, value in (
            (model.W_K, read_x),
            (model.W_Q, read_x),
            (model.W_V, minus_y),
            (model.P, write_y),
        ):
            param.copy_(value.expand_as(param))
    return model


def layer_step_sizes(model: LinearSelfAttention) -> tuple[Tensor, Tensor]:
    """Read each layer's GD++ step sizes (γ_l, η_l) off its weight products: two (L,) tensors.

    With W_KᵀW_Q ≈ a I and P W_V ≈ [[b I, 0], [0, c]] on the blocks that matter,
    the layer moves inputs by (ab) C x and the query's y entry by c·a uᵀx_q, so
    γ = −ab and η = −ac (a, b = means of the x-block diagonals).

    Taught in: icl_regression §4.
    """
    kq, pv = attention_products(model)
    d = kq.shape[-1] - 1
    a = kq[:, :d, :d].diagonal(dim1=1, dim2=2).mean(-1)
    b = pv[:, :d, :d].diagonal(dim1=1, dim2=2).mean(-1)
    return -a * b, -a * pv[:, d, d]


def interpolate(
    model: LinearSelfAttention, reference: LinearSelfAttention, t: float = 0.5
) -> LinearSelfAttention:
    """The LSA (1 − t)·model + t·reference, taken on the weight products after fixing the scale.

    Only products are identifiable, and W_KᵀW_Q may be c·(the reference's) while
    P W_V is (1/c)·(the reference's): the same function. Each layer's model
    products are first rescaled by c = tr(W_KᵀW_Q)_x / tr(reference's)_x, so that
    interpolating compares like with like.

    Taught in: icl_regression §3.
    """
    kq, pv = attention_products(model)
    kq_ref, pv_ref = attention_products(reference)
    if kq.shape != kq_ref.shape:
        raise ValueError(f"models differ in shape: {tuple(kq.shape)} vs {tuple(kq_ref.shape)}")
    d = kq.shape[-1] - 1
    trace = lambda m: m[:, :d, :d].diagonal(dim1=1, dim2=2).sum(-1)[:, None, None]  # noqa: E731
    c = trace(kq) / trace(kq_ref)
    return lsa_from_products((1 - t) * kq / c + t * kq_ref, (1 - t) * pv * c + t * pv_ref)


class SoftmaxAttentionRegressor(nn.Module):
    """One layer of H softmax heads from the query (x_q, 0) to the context tokens, no positions (He et al. 2025).

    ŷ = Σ_m Σ_i softmax_i(e_iᵀ W_K^mᵀ W_Q^m e_q) (v_mᵀ e_i): ``A[m]`` holds head m's
    (d+1, d+1) key-query product W_K^mᵀ W_Q^m and ``v[m]`` its read-out v_m of the
    value, the two products that are identifiable.

    Taught in: icl_regression §5.
    """

    def __init__(self, d: int, n_heads: int, init_std: float = 0.1, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.A = nn.Parameter(init_std * torch.randn(n_heads, d + 1, d + 1, generator=gen))
        self.v = nn.Parameter(init_std * torch.randn(n_heads, d + 1, generator=gen))

    def head_outputs(self, X: Tensor, y: Tensor, x_q: Tensor) -> Tensor:
        """Each head's contribution to ŷ: (B, H)."""
        tokens = to_tokens(X, y, x_q)
        ctx, query = tokens[:, :-1], tokens[:, -1]  # (B, N, d+1), (B, d+1)
        keys_read = torch.einsum("hij,bj->bhi", self.A, query)  # (B, H, d+1): A[m] e_q
        scores = keys_read @ ctx.transpose(1, 2)  # (B, H, N): e_iᵀ A[m] e_q
        values = (ctx @ self.v.T).transpose(1, 2)  # (B, H, N): v_mᵀ e_i
        return (torch.softmax(scores, dim=-1) * values).sum(-1)

    def forward(self, X: Tensor, y: Tensor, x_q: Tensor) -> Tensor:
        return self.head_outputs(X, y, x_q).sum(-1)

    def omega_mu(self) -> tuple[Tensor, Tensor]:
        """Each head's κ_m (mean diagonal of the x-block of ``A[m]``) and μ_m (v_m's y entry): two (H,) tensors."""
        d = self.A.shape[-1] - 1
        with torch.no_grad():
            return self.A[:, :d, :d].diagonal(dim1=1, dim2=2).mean(-1), self.v[:, d].clone()


# --- comparing predictors -------------------------------------------------------------------


def sensitivity(predict: Predictor, X: Tensor, y: Tensor, x_q: Tensor) -> Tensor:
    """∂ŷ/∂x_q for every task: (B, d). Rows are independent, so one backward pass suffices.

    Taught in: icl_regression §3, through ``agreement``.
    """
    x_q = x_q.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(predict(X, y, x_q).sum(), x_q)
    return grad


@dataclass(frozen=True)
class Agreement:
    """How alike two predictors are on a batch of tasks (von Oswald et al.'s measures).

    Taught in: icl_regression §3, through ``agreement``.
    """

    preds_diff: float  # mean |ŷ_a − ŷ_b|
    relative_preds_diff: float  # preds_diff / mean |ŷ_b|
    model_cos: float  # mean cosine between the sensitivities ∂ŷ/∂x_q
    model_diff: float  # mean ‖∂ŷ_a/∂x_q − ∂ŷ_b/∂x_q‖


def agreement(a: Predictor, b: Predictor, tasks: RegressionTasks) -> Agreement:
    """Compare predictor ``a`` with reference ``b`` on ``tasks``.

    Taught in: icl_regression §3.
    """
    X, y, x_q = tasks.X, tasks.y, tasks.x_q
    with torch.no_grad():
        ya, yb = a(X, y, x_q), b(X, y, x_q)
    sa, sb = sensitivity(a, X, y, x_q), sensitivity(b, X, y, x_q)
    diff = (ya - yb).abs().mean()
    return Agreement(
        preds_diff=float(diff),
        relative_preds_diff=float(diff / yb.abs().mean().clamp_min(1e-12)),
        model_cos=float(nn.functional.cosine_similarity(sa, sb, dim=-1).mean()),
        model_diff=float((sa - sb).norm(dim=-1).mean()),
    )


def mse(predict: Predictor, tasks: RegressionTasks) -> float:
    """Mean squared error of a predictor on the query targets (on the model's device if it is a module).

    Taught in: icl_regression §1.
    """
    if isinstance(predict, nn.Module) and (param := next(predict.parameters(), None)) is not None:
        tasks = tasks.to(param.device)
    with torch.no_grad():
        return float((predict(tasks.X, tasks.y, tasks.x_q) - tasks.y_q).pow(2).mean())


def r_squared(pred: Tensor, target: Tensor) -> float:
    """1 − SS_res / SS_tot of ``pred`` against ``target``.

    Taught in: icl_regression §5.
    """
    return float(1 - (pred - target).pow(2).sum() / (target - target.mean()).pow(2).sum())


def expected_gd_risk(n_ctx: int, d: int, eta: float, noise_std: float = 0.0) -> float:
    """𝔼[(ŷ_GD − y_q)²] of one GD step for Gaussian x and w, noiseless targets if noise_std = 0.

    With u = (1/N) Σ y_i x_i: 𝔼‖u‖² = (N + d + 1) d / N (+ σ² d / N with noise), 𝔼[uᵀw] = d,
    𝔼‖w‖² = d, so the risk is η² 𝔼‖u‖² − 2η d + d + σ².

    Taught in: icl_regression §1.
    """
    second = (n_ctx + d + 1) * d / n_ctx + noise_std**2 * d / n_ctx
    return eta**2 * second - 2 * eta * d + d + noise_std**2


def fit_gd_plus_plus(
    gammas: Sequence[float],
    etas: Sequence[float],
    n_ctx: int,
    d: int,
    *,
    steps: int = 600,
    batch: int = 1024,
    lr: float = 3e-3,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    """Tune GD++'s step sizes (γ_l, η_l) with Adam on fresh Gaussian tasks, starting from the given ones.

    GD++'s loss is not convex in its step sizes, so where it ends depends on the
    start; starting from a trained model's own step sizes asks whether the model
    sits at (a local) best of the GD++ family.

    Taught in: icl_regression §4.
    """
    params = torch.tensor([list(gammas), list(etas)], dtype=torch.float32, requires_grad=True)
    opt = torch.optim.Adam([params], lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        t = sample_tasks(batch, n_ctx, d, generator=gen)
        loss = (gd_plus_plus_predict(t.X, t.y, t.x_q, params[0], params[1]) - t.y_q).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return params[0].detach(), params[1].detach()


def best_scale(pred: Tensor, target: Tensor) -> float:
    """The c minimising ‖c·pred − target‖²: fits the step size of a predictor linear in it.

    Taught in: icl_regression §5.
    """
    return float((pred * target).sum() / pred.pow(2).sum().clamp_min(1e-12))


def step_size(kq: Tensor, pv: Tensor) -> float:
    """The GD step size η a one-layer LSA implements, from its products kq = W_KᵀW_Q, pv = P W_V.

    Scores are a·x_iᵀx_q (a = the mean diagonal of kq's x block) and the query's y
    entry gets pv[d, d]·a·Σ y_i x_iᵀx_q / N, so η = −a·pv[d, d], whatever scale the
    two products trade.

    Taught in: icl_regression §3 (an exercise).
    """
    d = kq.shape[-1] - 1
    return float(-kq[:d, :d].diagonal().mean() * pv[d, d])


def exercise_cases(name: str = "step_size", d: int = 4, seed: int = 0) -> list[exercises.Case]:
    """The cases an exercise of the chapter is checked on: random inputs and edge cases.

    ``"gd_step"`` and ``"debiased_step"``: regression tasks, one example in context, η = 0.
    ``"step_size"``: one-layer GD constructions with a known step size, their
    products rescaled (kq·c, pv/c, c possibly negative) and with junk in the
    blocks that cannot reach the prediction.

    Taught in: icl_regression §1, §3 and §5 (the exercises).
    """
    gen = torch.Generator().manual_seed(seed)
    if name in ("gd_step", "debiased_step"):
        tasks = sample_tasks(6, 8, 3, generator=gen)
        one = sample_tasks(2, 1, 5, generator=gen)
        Case = exercises.Case
        return [
            Case("6 tasks, 8 examples in 3-D, eta 0.7", (tasks.X, tasks.y, tasks.x_q, 0.7)),
            Case("a single example in context, eta 1.3", (one.X, one.y, one.x_q, 1.3)),
            Case("eta 0", (tasks.X, tasks.y, tasks.x_q, 0.0)),
        ]
    if name != "step_size":
        raise ValueError(f"no exercise named {name!r}")
    cases = []
    for eta, c in ((0.6, 1.0), (1.3, -2.5), (0.25, 0.4)):
        kq, pv = (m[0] for m in attention_products(gd_construction(d, eta)))
        kq, pv = c * kq.detach(), pv.detach() / c
        kq[:, d] = torch.randn(d + 1, generator=gen)  # reads the query's y entry, which is 0
        pv[:d] = torch.randn(d, d + 1, generator=gen)  # writes into x entries, never read out
        cases.append(exercises.Case(f"step size {eta}, products scaled by {c}, junk", (kq, pv)))
    return cases
