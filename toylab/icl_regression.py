"""In-context linear regression: the tasks, the attention models, and the algorithms they are compared with.

A sequence holds N pairs (x_i, y_i) of one random linear task y = wᵀx (+ noise)
and a query x_q; the model must predict y_q from the context alone. Following
von Oswald et al. (2023), one layer of linear self-attention can implement one
step of gradient descent on the context's least-squares loss; following He et
al. (2025), pairs of softmax heads implement a debiased version of it.

For the in-context regression chapter (issue 5); this module is its toolbox.
Predictors share one signature, ``predict(X, y, x_q) -> y_hat`` with
X (B, N, d), y (B, N), x_q (B, d) and y_hat (B,), so that models and
closed-form algorithms can be compared by the same metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

Predictor = Callable[[Tensor, Tensor, Tensor], Tensor]  # (X, y, x_q) -> y_hat


# --- tasks ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RegressionTasks:
    """A batch of in-context regression problems, one linear task per row."""

    X: Tensor  # (B, N, d) context inputs
    y: Tensor  # (B, N) context targets
    x_q: Tensor  # (B, d) query input
    y_q: Tensor  # (B,) query target
    w: Tensor  # (B, d) each task's true weights


def sample_tasks(
    batch: int,
    n_ctx: int,
    d: int,
    *,
    generator: torch.Generator | None = None,
    x_dist: str = "normal",
    x_scale: float = 1.0,
    noise_std: float = 0.0,
) -> RegressionTasks:
    """Draw ``batch`` tasks w ~ N(0, I_d) with ``n_ctx`` context pairs and one query each.

    Args:
        x_dist: ``"normal"`` for x ~ N(0, I_d) or ``"uniform"`` for x ~ U(-1, 1)^d
            (von Oswald et al.'s choice).
        x_scale: multiplies every x; values > 1 give out-of-distribution inputs.
        noise_std: standard deviation of Gaussian noise added to every y.
    """
    for name, value in (("batch", batch), ("n_ctx", n_ctx), ("d", d)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if x_dist not in ("normal", "uniform"):
        raise ValueError(f"x_dist must be 'normal' or 'uniform', got {x_dist!r}")
    if noise_std < 0 or x_scale <= 0:
        raise ValueError("noise_std must be >= 0 and x_scale > 0")
    shape = (batch, n_ctx + 1, d)
    if x_dist == "normal":
        xs = torch.randn(shape, generator=generator)
    else:
        xs = 2 * torch.rand(shape, generator=generator) - 1
    xs = xs * x_scale
    w = torch.randn(batch, d, generator=generator)
    ys = torch.einsum("bnd,bd->bn", xs, w) + noise_std * torch.randn(batch, n_ctx + 1, generator=generator)
    return RegressionTasks(xs[:, :-1], ys[:, :-1], xs[:, -1], ys[:, -1], w)


def to_tokens(X: Tensor, y: Tensor, x_q: Tensor) -> Tensor:
    """Tokens e_i = (x_i, y_i) for the context and (x_q, 0) for the query: (B, N+1, d+1)."""
    context = torch.cat([X, y[..., None]], dim=-1)  # (B, N, d+1)
    query = torch.cat([x_q, torch.zeros_like(x_q[:, :1])], dim=-1)[:, None]  # (B, 1, d+1)
    return torch.cat([context, query], dim=1)


# --- closed-form predictors -----------------------------------------------------------------

def gd_predict(X: Tensor, y: Tensor, x_q: Tensor, eta: float, steps: int = 1) -> Tensor:
    """Prediction after ``steps`` of gradient descent from w = 0 on L(w) = 1/(2N) Σ (wᵀx_i − y_i)²."""
    w = torch.zeros_like(x_q)  # (B, d)
    for _ in range(steps):
        residual = y - torch.einsum("bnd,bd->bn", X, w)  # (B, N)
        w = w + eta * torch.einsum("bn,bnd->bd", residual, X) / X.shape[1]
    return (w * x_q).sum(-1)


def optimal_gd_eta(n_ctx: int, d: int) -> float:
    """The best single GD step size from w = 0 for x ~ N(0, I_d) and w ~ N(0, I_d): N / (N + d + 1).

    Minimising E[(η/N Σ y_i x_iᵀ x_q − wᵀx_q)²] over η uses E[‖Σ_i y_i x_i‖²] = N(N + d + 1)
    for Gaussian inputs (fourth moments), and E[Σ y_i x_iᵀ w] = N d.
    """
    return n_ctx / (n_ctx + d + 1)


def line_search_eta(tasks: RegressionTasks, steps: int = 1, lo: float = 0.0, hi: float = 2.0,
                    n_grid: int = 401) -> float:
    """The step size with the lowest mean squared error of :func:`gd_predict` on ``tasks``."""
    etas = torch.linspace(lo, hi, n_grid)
    errors = torch.stack([
        (gd_predict(tasks.X, tasks.y, tasks.x_q, float(eta), steps) - tasks.y_q).pow(2).mean()
        for eta in etas
    ])
    return float(etas[errors.argmin()])


def gd_plus_plus_predict(X: Tensor, y: Tensor, x_q: Tensor, gamma: float, eta: float) -> Tensor:
    """GD++ (von Oswald et al.): precondition every input by x ← (I − γ Σ_j x_j x_jᵀ) x, then one GD step."""
    precond = torch.eye(X.shape[-1]) - gamma * torch.einsum("bni,bnj->bij", X, X)  # (B, d, d)
    return gd_predict(torch.einsum("bij,bnj->bni", precond, X), y,
                      torch.einsum("bij,bj->bi", precond, x_q), eta)


def least_squares_predict(X: Tensor, y: Tensor, x_q: Tensor, ridge: float = 0.0) -> Tensor:
    """Prediction of the (ridge-regularised) least-squares fit to the context; minimum-norm if N < d."""
    if ridge > 0:
        gram = X.transpose(1, 2) @ X + ridge * torch.eye(X.shape[-1])
        w = torch.linalg.solve(gram, (X.transpose(1, 2) @ y[..., None]))[..., 0]
    else:
        w = (torch.linalg.pinv(X) @ y[..., None])[..., 0]
    return (w * x_q).sum(-1)


def debiased_gd_predict(X: Tensor, y: Tensor, x_q: Tensor, eta: float) -> Tensor:
    """One GD step on centred inputs: η/N Σ_i y_i (x_i − x̄)ᵀ x_q.

    What a pair of softmax heads with opposite signs computes to first order: a
    head gives μ Σ_i softmax_i(ω x_iᵀx_q) y_i ≈ μ [ȳ + ω/N Σ_i y_i (x_i − x̄)ᵀ x_q];
    with (μ, ω) and (−μ, −ω) the ȳ terms cancel and the slopes add.
    """
    centred = X - X.mean(dim=1, keepdim=True)
    return eta * torch.einsum("bn,bnd,bd->b", y, centred, x_q) / X.shape[1]


def kernel_regression_predict(X: Tensor, y: Tensor, x_q: Tensor, omega: float) -> Tensor:
    """Nadaraya-Watson regression with weights softmax_i(ω x_iᵀ x_q): one softmax head reading y."""
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
            keys, values = ctx @ W_K.T, ctx @ (P @ W_V).T  # (B, N, d+1)
            queries = tokens @ W_Q.T  # (B, N+1, d+1)
            scores = queries @ keys.transpose(1, 2) / n_ctx  # (B, N+1, N), no softmax
            tokens = tokens + scores @ values
        return tokens

    def forward(self, X: Tensor, y: Tensor, x_q: Tensor) -> Tensor:
        return -self.forward_tokens(to_tokens(X, y, x_q))[:, -1, -1]


def gd_construction(d: int, eta: float, n_layers: int = 1) -> LinearSelfAttention:
    """LSA weights that run ``n_layers`` steps of GD from w = 0 with step size ``eta``.

    W_K = W_Q = [[I_d, 0], [0, 0]] (attention scores x_iᵀx_j), W_V = [[0, 0], [0, −1]]
    (value −y_i), P = η [[0, 0], [0, 1]] (write into the y entry only).
    """
    model = LinearSelfAttention(d, n_layers)
    read_x = torch.zeros(d + 1, d + 1)
    read_x[:d, :d] = torch.eye(d)
    minus_y, write_y = torch.zeros(d + 1, d + 1), torch.zeros(d + 1, d + 1)
    minus_y[d, d], write_y[d, d] = -1.0, eta
    with torch.no_grad():
        for param, value in ((model.W_K, read_x), (model.W_Q, read_x), (model.W_V, minus_y), (model.P, write_y)):
            param.copy_(value.expand_as(param))
    return model


class SoftmaxAttentionRegressor(nn.Module):
    """One layer of H softmax heads from the query (x_q, 0) to the context tokens, no positions (He et al. 2025).

    ŷ = Σ_h Σ_i softmax_i(e_iᵀ A_h e_q) (v_hᵀ e_i), with A_h = W_K^hᵀ W_Q^h the
    head's (d+1, d+1) key-query matrix and v_h its read-out of the value, the
    two products that are identifiable.
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
        scores = torch.einsum("bni,hij,bj->bhn", ctx, self.A, query)  # (B, H, N)
        values = torch.einsum("bni,hi->bhn", ctx, self.v)  # (B, H, N)
        return (torch.softmax(scores, dim=-1) * values).sum(-1)

    def forward(self, X: Tensor, y: Tensor, x_q: Tensor) -> Tensor:
        return self.head_outputs(X, y, x_q).sum(-1)


# --- comparing predictors -------------------------------------------------------------------

def sensitivity(predict: Predictor, X: Tensor, y: Tensor, x_q: Tensor) -> Tensor:
    """∂ŷ/∂x_q for every task: (B, d). Rows are independent, so one backward pass suffices."""
    x_q = x_q.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(predict(X, y, x_q).sum(), x_q)
    return grad


@dataclass(frozen=True)
class Agreement:
    """How alike two predictors are on a batch of tasks (von Oswald et al.'s measures)."""

    preds_diff: float  # mean |ŷ_a − ŷ_b|
    relative_preds_diff: float  # preds_diff / mean |ŷ_b|
    model_cos: float  # mean cosine between the sensitivities ∂ŷ/∂x_q
    model_diff: float  # mean ‖∂ŷ_a/∂x_q − ∂ŷ_b/∂x_q‖


def agreement(a: Predictor, b: Predictor, tasks: RegressionTasks) -> Agreement:
    """Compare predictor ``a`` with reference ``b`` on ``tasks``."""
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
    """Mean squared error of a predictor on the query targets."""
    with torch.no_grad():
        return float((predict(tasks.X, tasks.y, tasks.x_q) - tasks.y_q).pow(2).mean())


def r_squared(pred: Tensor, target: Tensor) -> float:
    """1 − SS_res / SS_tot of ``pred`` against ``target``."""
    return float(1 - (pred - target).pow(2).sum() / (target - target.mean()).pow(2).sum())


def expected_gd_risk(n_ctx: int, d: int, eta: float, noise_std: float = 0.0) -> float:
    """E[(ŷ_GD − y_q)²] of one GD step for Gaussian x and w, noiseless targets if noise_std = 0.

    With u = (1/N) Σ y_i x_i: E‖u‖² = (N + d + 1) d / N (+ σ² d / N with noise), E[uᵀw] = d,
    E‖w‖² = d, so the risk is η² E‖u‖² − 2η d + d + σ².
    """
    second = (n_ctx + d + 1) * d / n_ctx + noise_std**2 * d / n_ctx
    return eta**2 * second - 2 * eta * d + d + noise_std**2

