"""Analyses of the grokking chapter: how a one-layer transformer adds mod p.

Everything here follows Nanda et al. (2023) and the exact definitions in the
book's notes (``shared/papers.md`` section 1a). The toolbox of the chapter
``notebooks/grokking.py``: its model, loss and metrics, the Fourier analyses
(the basis itself, which the next chapter uses too, is :mod:`toylab.fourier`), the
progress measures and phases, the exercise check, its training curves and the figure
the front page shows. The task's data is in :mod:`toylab.data` (the next chapter uses
it too).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor, nn
from transformer_lens.model_bridge import TransformerBridge

from toylab import exercises
from toylab.bridge import init_like_hooked_transformer
from toylab.data import ModularAdditionData
from toylab.fourier import fourier_basis
from toylab.models import build_transformer
from toylab.plotting import shade_phases
from toylab.train import Run

TASK_VERSION = "modular-addition/1"  # bump when the loss or metrics below change


# --- the model --------------------------------------------------------------------------------


def grokking_transformer(
    p: int, d_model: int = 128, n_heads: int = 4, d_mlp: int = 512, seed: int = 0
) -> TransformerBridge:
    """The one-layer transformer of Nanda et al. (2023) for ``a + b mod p``.

    Tokens are ``0..p-1`` and '=' (``p``); logits over the p answers. ReLU MLP,
    learned positions, no LayerNorm, biases fixed at zero (frozen), weights
    ~ N(0, 1/d_model) except the unembedding ~ N(0, 1/d_vocab).

    Taught in: grokking §2.
    """
    if d_model % n_heads:
        raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
    model = build_transformer(
        dict(
            n_layers=1,
            d_model=d_model,
            d_head=d_model // n_heads,
            n_heads=n_heads,
            d_mlp=d_mlp,
            d_vocab=p + 1,
            d_vocab_out=p,
            n_ctx=3,
            act_fn="relu",
            normalization_type=None,
        ),
        seed=seed,
    )
    gen = torch.Generator().manual_seed(seed)
    init_like_hooked_transformer(  # in HookedTransformer's order, so a seed keeps its run
        model,
        lambda name, shape: (
            torch.randn(shape, generator=gen) / (p + 1 if name == "W_U" else d_model) ** 0.5
        ),
    )
    for name, param in model.named_parameters():
        param.requires_grad_(not name.endswith("bias"))  # no biases: zero and frozen
    return model


# --- training -------------------------------------------------------------------------------


def _keep_equals_position(resid_mid: Tensor, hook) -> Tensor:
    return resid_mid[:, -1:]  # (batch, 1, d_model)


def logits_at_equals(model: nn.Module, inputs: Tensor) -> Tensor:
    """Logits read at the '=' position: (batch, 3) tokens -> (batch, p).

    Only '=' is read out, and in a one-layer model nothing after the attention
    mixes positions, so a hook cuts the residual stream to that position before
    the MLP and unembedding: the same logits as ``model(inputs)[:, -1]`` at a
    third of the MLP's cost.

    Taught in: grokking §2.
    """
    with model.hooks(fwd_hooks=[("blocks.0.hook_resid_mid", _keep_equals_position)]):
        return model(inputs)[:, -1]


def loss_fn(model: nn.Module, inputs: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy of the answer at '=' (in float64, since the loss gets very small).

    Taught in: grokking §3.
    """
    logits = logits_at_equals(model, inputs).double()
    return F.cross_entropy(logits, labels.to(logits.device))


def evaluator(data: ModularAdditionData):
    """``evaluate(model)`` for :func:`toylab.train.train`: loss and accuracy on each split.

    ``unseen`` is the test subset whose commuted pair is also unseen: memorising
    (a, b) answers (b, a) for free, so only this subset starts at chance.

    Taught in: grokking §3.
    """
    splits = {"train": data.train_idx, "test": data.test_idx, "unseen": data.test_unseen_swap_idx}

    def evaluate(model: nn.Module) -> dict[str, float]:
        device = next(model.parameters()).device
        logits = logits_at_equals(model, data.inputs.to(device)).double().cpu()
        out = {}
        for split, idx in splits.items():
            out[f"{split}_loss"] = F.cross_entropy(logits[idx], data.labels[idx]).item()
            out[f"{split}_acc"] = (
                (logits[idx].argmax(-1) == data.labels[idx]).double().mean().item()
            )
        return out

    return evaluate


# --- Fourier structure ----------------------------------------------------------------------


def all_logits(model: nn.Module, data: ModularAdditionData) -> Tensor:
    """Logits for every input as a (p, p, p) grid over (a, b, answer c), float64 on CPU.

    Taught in: grokking §4.5.
    """
    device = next(model.parameters()).device
    with torch.no_grad():
        logits = logits_at_equals(model, data.inputs.to(device)).double().cpu()
    return logits.reshape(data.p, data.p, data.p)


def row_frequencies(p: int) -> Tensor:
    """The frequency k of each row of ``toylab.fourier.fourier_basis(p)`` (0 for the constant).

    Taught in: grokking §4.1, through ``frequency_share``.
    """
    return (torch.arange(p) + 1) // 2


def frequency_norms(coefs: Tensor) -> Tensor:
    """Squared norm per frequency of Fourier coefficients along dim 0.

    Args:
        coefs: (p, ...) coefficients in the basis of :func:`toylab.fourier.fourier_basis`.

    Returns:
        (p//2 + 1,) squared norms: entry 0 is the constant, entry k sums the
        cos k and sin k rows over every other axis.

    Taught in: grokking §4.1, through ``frequency_share``.
    """
    p = coefs.shape[0]
    sq = coefs.reshape(p, -1).pow(2).sum(dim=1)
    return torch.zeros(p // 2 + 1).index_add_(0, row_frequencies(p), sq.float().cpu())


def fourier_2d(grid: Tensor) -> Tensor:
    """2-D Fourier transform of a (p, p, ...) grid over (a, b).

    Entry [i, j] of the result is the coefficient of ``basis[i] ⊗ basis[j]``.

    Taught in: grokking §4.1, through ``neuron_frequencies``.
    """
    basis, _ = fourier_basis(grid.shape[0])
    basis = basis.to(grid.device, grid.dtype)
    return torch.einsum("ia,jb,ab...->ij...", basis, basis, grid)


def gini(x: Tensor) -> float:
    """Gini coefficient of a vector of non-negative values (Hurley & Rickard 2009).

    Sort x ascending; G = 1 - 2 Σ_i (x_i / ‖x‖₁) (N - i + 1/2) / N with
    i = 1..N. It is 0 for a constant vector and approaches 1 when one entry
    holds all the mass.

    Taught in: grokking §6, through ``progress_measures``.
    """
    x = x.detach().flatten().double().abs().sort().values
    n, total = x.numel(), x.sum()
    if n == 0 or total == 0:
        raise ValueError("gini needs a non-empty vector with a non-zero entry")
    i = torch.arange(1, n + 1, dtype=torch.float64)
    return float(1 - 2 * ((x / total) * (n - i + 0.5) / n).sum())


def frequency_share(W: Tensor) -> Tensor:
    """Share of a (p, d) matrix's squared norm in each frequency along its first axis.

    Used on the embedding of the numbers, ``model.embed.W_E[:p]``. Index 0 is
    the constant; index k sums the cos k and sin k components.

    Taught in: grokking §4.1.
    """
    basis, _ = fourier_basis(W.shape[0])
    norms = frequency_norms(basis.double() @ W.detach().cpu().double())
    return norms / norms.sum()


def neuron_activations(model: nn.Module, data: ModularAdditionData, where: str = "post") -> Tensor:
    """The MLP's neurons at '=' for every input: (p, p, d_mlp) over (a, b, neuron).

    ``where="post"``: the ReLU's outputs; ``"pre"``: its inputs.

    Taught in: grokking §4.1 (and §4.6, before the ReLU).
    """
    if where not in ("pre", "post"):
        raise ValueError(f"where must be 'pre' or 'post', got {where!r}")
    name = f"blocks.0.mlp.hook_{where}"
    device = next(model.parameters()).device
    with torch.no_grad():
        _, cache = model.run_with_cache(data.inputs.to(device), names_filter=name)
    acts = cache[name][:, -1].double().cpu()  # (p*p, d_mlp)
    return acts.reshape(data.p, data.p, -1)


def product_share(acts: Tensor, freq: Tensor | None = None) -> Tensor:
    """The share of each neuron's variance in products of a wave in a and a wave in b: (n,).

    In the 2-D Fourier transform over (a, b) (mean removed), a component
    basis_i(a)·basis_j(b) with i = 0 or j = 0 is a function of one input alone;
    with both non-constant it is a product such as cos(ω_k a)·cos(ω_k b). Returned:
    the squared norm in the products over the total. With ``freq`` (n,), only the
    products of neuron n's own frequency, cos/sin(ω_k a)·cos/sin(ω_k b) with k = freq[n],
    as a share of all its products. Dead neurons get 0.

    Args:
        acts: (p, p, n) over (a, b, neuron).

    Taught in: grokking §4.6.
    """
    coefs, total = _power(acts)
    products = coefs[1:, 1:].sum(dim=(0, 1))  # (n,)
    if freq is None:
        return torch.where(total <= 1e-20, 0.0, products / total.clamp_min(1e-30))
    if freq.shape != products.shape:
        raise ValueError(f"need one frequency per neuron, {products.shape}, got {freq.shape}")
    rows = row_frequencies(acts.shape[0])  # (p,)
    mine = rows[:, None] == freq[None, :]  # (p, n): the rows of each neuron's frequency
    own = (coefs * (mine[:, None, :] & mine[None, :, :])).sum(dim=(0, 1))
    return torch.where(products <= 1e-20, 0.0, own / products.clamp_min(1e-30))


def neuron_frequencies(acts: Tensor) -> tuple[Tensor, Tensor]:
    """Each neuron's frequency and the fraction of its variance that frequency explains.

    For each neuron, the 2-D Fourier transform of its activation over (a, b)
    (mean removed); frequency k explains the squared norm in the block
    {const, cos k, sin k} x {const, cos k, sin k}. Dead neurons get frequency 0
    and fraction 0.

    Args:
        acts: (p, p, n_neurons).

    Returns:
        freq: (n_neurons,) long, the best k >= 1; frac: (n_neurons,) its fraction.

    Taught in: grokking §4.1.
    """
    coefs, total = _power(acts)
    fracs = torch.stack([_block(coefs, [k]) for k in range(1, acts.shape[0] // 2 + 1)])
    frac, idx = (fracs / total.clamp_min(1e-30)).max(dim=0)  # over the (n_freq, n) fractions
    dead = total <= 1e-20
    return torch.where(dead, 0, idx + 1), torch.where(dead, 0.0, frac)


def variance_in(acts: Tensor, freqs: list[int]) -> Tensor:
    """The fraction of each neuron's variance that the frequencies ``freqs`` explain together.

    The squared norm in the block {const, cos k, sin k for k in freqs}⊗² of the 2-D
    Fourier transform (mean removed), as in :func:`neuron_frequencies` for one k.
    Dead neurons get 0.

    Args:
        acts: (p, p, n_neurons).

    Returns:
        (n_neurons,) fractions in [0, 1].

    Taught in: grokking §4.3.
    """
    coefs, total = _power(acts)
    return torch.where(total <= 1e-20, 0.0, _block(coefs, freqs) / total.clamp_min(1e-30))


def _power(acts: Tensor) -> tuple[Tensor, Tensor]:
    """Squared 2-D Fourier coefficients of the mean-removed activations (p, p, n), and their sum (n,)."""
    acts = acts - acts.mean(dim=(0, 1), keepdim=True)
    coefs = fourier_2d(acts.double()).pow(2)
    return coefs, coefs.sum(dim=(0, 1))


def _block(coefs: Tensor, freqs: list[int]) -> Tensor:
    """The squared norm of ``coefs`` (p, p, n) in the block {const and the waves of freqs}⊗²: (n,)."""
    rows = torch.isin(row_frequencies(coefs.shape[0]), torch.tensor([0, *freqs]))
    return coefs[rows][:, rows].sum(dim=(0, 1))


def key_frequencies(
    freq: Tensor, frac: Tensor, min_share: float = 0.05, min_frac: float = 0.5
) -> list[int]:
    """The frequencies the network computes with: those that own a cluster of neurons.

    A neuron belongs to the cluster of its frequency if that frequency explains
    more than ``min_frac`` of its variance; a frequency is key if its cluster
    holds at least ``min_share`` of those clustered neurons.

    Taught in: grokking §4.1.
    """
    clustered = freq[(frac > min_frac) & (freq > 0)]
    if clustered.numel() == 0:
        return []
    counts = torch.bincount(clustered)
    return sorted(int(k) for k in torch.nonzero(counts >= min_share * clustered.numel()).flatten())


def neuron_logit_map(model: nn.Module) -> Tensor:
    """W_L = W_out W_U: how each MLP neuron writes to each answer's logit, (d_mlp, p).

    Taught in: grokking §4.4.
    """
    return (model.blocks[0].mlp.W_out @ model.unembed.W_U).detach().cpu().double()


def project_embedding(model: nn.Module, freqs: list[int]) -> nn.Module:
    """A copy of ``model`` whose embedding of the numbers keeps only the constant and ``freqs``.

    Each column of W_E[:p] (one per residual dimension, a function of the token)
    is projected onto the constant and the cos/sin of each k in ``freqs``; the
    embedding of '=' is left alone. The input-side ablation of grokking §5.

    Taught in: grokking §5.
    """
    W = model.embed.W_E
    p = W.shape[0] - 1  # the last token is '='
    if any(not 1 <= k <= (p - 1) // 2 for k in freqs):
        raise ValueError(f"frequencies must be in 1..{(p - 1) // 2}, got {freqs}")
    basis, _ = fourier_basis(p)
    keep = basis[torch.isin(row_frequencies(p), torch.tensor([0, *freqs]))].double()  # (2K+1, p)
    ablated = copy.deepcopy(model)
    with torch.no_grad():
        W_E = ablated.embed.W_E
        W_E[:p] = (keep.T @ (keep @ W_E[:p].double().cpu())).to(W_E.device, W_E.dtype)
    return ablated


def sum_directions(p: int, freqs: list[int]) -> Tensor:
    """Orthonormal (a, b)-grid vectors cos(ω_k(a+b)) and sin(ω_k(a+b)) for each k: (p*p, 2K).

    In the 2-D Fourier basis these are (cos⊗cos − sin⊗sin)/√2 and
    (sin⊗cos + cos⊗sin)/√2, the only directions the clock algorithm uses.

    Taught in: grokking §5, through ``restricted_logits``.
    """
    x = torch.arange(p, dtype=torch.float64)
    s = (x[:, None] + x[None, :]).flatten()  # a + b
    cols = []
    for k in freqs:
        if not 1 <= k <= (p - 1) // 2:
            raise ValueError(f"frequency {k} out of range 1..{(p - 1) // 2} for p={p}")
        w = 2 * math.pi * k / p
        cols += [torch.cos(w * s) * math.sqrt(2) / p, torch.sin(w * s) * math.sqrt(2) / p]
    return torch.stack(cols, dim=1) if cols else torch.zeros(p * p, 0, dtype=torch.float64)


def restricted_logits(logits: Tensor, freqs: list[int]) -> Tensor:
    """Keep only the constant and the cos/sin(ω_k(a+b)) directions of the logits, for each answer.

    Args:
        logits: (p, p, p) grid over (a, b, c).

    Taught in: grokking §5.
    """
    p = logits.shape[0]
    flat = logits.reshape(p * p, p)
    Q = sum_directions(p, freqs)
    kept = flat.mean(dim=0, keepdim=True) + Q @ (Q.T @ flat)
    return kept.reshape(p, p, p)


def excluded_logits(logits: Tensor, freqs: list[int]) -> Tensor:
    """Remove the cos/sin(ω_k(a+b)) directions of the logits; keep everything else.

    Taught in: grokking §5.
    """
    p = logits.shape[0]
    flat = logits.reshape(p * p, p)
    Q = sum_directions(p, freqs)
    return (flat - Q @ (Q.T @ flat)).reshape(p, p, p)


def grid_loss(logits: Tensor, data: ModularAdditionData, idx: Tensor | None = None) -> float:
    """Cross-entropy of a (p, p, p) logit grid on the rows ``idx`` (default: all p² pairs).

    Taught in: grokking §5.
    """
    flat = logits.reshape(-1, data.p)
    idx = torch.arange(flat.shape[0]) if idx is None else idx
    return F.cross_entropy(flat[idx], data.labels[idx]).item()


def median_loss_ratio(ablated: Tensor, logits: Tensor, data: ModularAdditionData) -> float:
    """Median over the p² pairs of (a pair's loss under ``ablated``) / (its loss under ``logits``).

    The mean loss of a network still cleaning up is set by the few pairs it gets
    wrong; the median ratio says what an ablation does to the typical pair.
    Both grids are (p, p, p) over (a, b, c).

    Taught in: grokking §5.
    """
    if ablated.shape != logits.shape:
        raise ValueError(f"grids of shapes {tuple(ablated.shape)} and {tuple(logits.shape)}")

    def pair_loss(grid: Tensor) -> Tensor:  # (p²,)
        flat = grid.reshape(-1, data.p).double()
        return F.cross_entropy(flat, data.labels, reduction="none").clamp_min(1e-300)

    return (pair_loss(ablated) / pair_loss(logits)).median().item()


def clock_fit(logits: Tensor, freqs: list[int]) -> tuple[Tensor, float]:
    """Least-squares fit of the logits by Σ_k ρ_k cos(ω_k(a + b − c)).

    The logits are centred over c first (softmax ignores a per-input constant).

    Returns:
        alphas: (K,) the fitted clock weights ρ_k; r2: the fraction of variance explained.

    Taught in: grokking §4.5.
    """
    p = logits.shape[0]
    y = (logits - logits.mean(dim=-1, keepdim=True)).flatten()
    a, b, c = torch.meshgrid(*(torch.arange(p, dtype=torch.float64),) * 3, indexing="ij")
    X = torch.stack([torch.cos(2 * math.pi * k / p * (a + b - c)).flatten() for k in freqs], dim=1)
    alphas = torch.linalg.lstsq(X, y[:, None]).solution.flatten()
    r2 = 1 - (y - X @ alphas).pow(2).sum() / y.pow(2).sum()
    return alphas, float(r2)


# --- progress measures over training --------------------------------------------------------


@dataclass
class ProgressMeasures:
    """Nanda et al.'s progress measures, one value per snapshot step.

    Taught in: grokking §6, through ``progress_measures``.
    """

    steps: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    restricted_loss: np.ndarray  # only the key-frequency directions, all p² pairs
    excluded_loss: np.ndarray  # key-frequency directions removed, training pairs
    gini_W_E: np.ndarray  # Gini of the norms of W_E's Fourier components (token axis)
    gini_W_L: np.ndarray  # Gini of the norms of W_L's Fourier components (logit axis)
    weight_norm: np.ndarray  # total sum of squared trainable weights


def progress_measures(run: Run, data: ModularAdditionData, freqs: list[int]) -> ProgressMeasures:
    """Compute every progress measure at every snapshot of ``run``, for fixed key ``freqs``.

    Taught in: grokking §6.
    """
    basis, _ = fourier_basis(data.p)
    basis = basis.double()
    rows: dict[str, list[float]] = {
        k: [] for k in ProgressMeasures.__dataclass_fields__ if k != "steps"
    }
    for step in run.snapshot_steps:
        model = run.model_at(step)
        logits = all_logits(model, data)
        rows["train_loss"].append(grid_loss(logits, data, data.train_idx))
        rows["test_loss"].append(grid_loss(logits, data, data.test_idx))
        rows["restricted_loss"].append(grid_loss(restricted_logits(logits, freqs), data))
        rows["excluded_loss"].append(
            grid_loss(excluded_logits(logits, freqs), data, data.train_idx)
        )
        W_E = model.embed.W_E[: data.p].detach().cpu().double()
        rows["gini_W_E"].append(gini((basis @ W_E).norm(dim=1)))
        rows["gini_W_L"].append(gini((neuron_logit_map(model) @ basis.T).norm(dim=0)))
        trained = [q for q in model.parameters() if q.requires_grad]
        rows["weight_norm"].append(float(sum(q.detach().double().pow(2).sum() for q in trained)))
    return ProgressMeasures(
        np.asarray(run.snapshot_steps), **{k: np.asarray(v) for k, v in rows.items()}
    )


@dataclass
class Phases:
    """Step boundaries of the three phases of grokking, found from the curves.

    A boundary the run never reached is None (a run without weight decay memorises but never
    cleans up), so the curves of any run can be drawn; the chapter's checks then say what is missing.

    Taught in: grokking §3, through ``find_phases``.
    """

    memorised: int | None  # train accuracy first reaches 100%
    cleanup_start: int | None  # test loss leaves its plateau
    cleanup_end: int | None  # test loss settles near its final value

    @property
    def grokked(self) -> bool:
        return self.cleanup_start is not None

    def as_dict(self) -> dict[str, tuple[int, int]]:
        """The phases whose both ends were reached, as ``{name: (start, end)}``."""
        bounds = [
            ("memorisation", 0, self.memorised),
            ("circuit formation", self.memorised, self.cleanup_start),
            ("cleanup", self.cleanup_start, self.cleanup_end),
        ]
        return {name: (lo, hi) for name, lo, hi in bounds if lo is not None and hi is not None}


def first_step(steps: np.ndarray, condition: np.ndarray) -> int | None:
    """The first step at which ``condition`` holds, or None.

    Taught in: grokking §3.
    """
    hits = np.flatnonzero(condition)
    return int(steps[hits[0]]) if hits.size else None


def find_phases(run: Run, plateau_drop: float = 0.1, settle_factor: float = 10.0) -> Phases:
    """Memorisation, circuit formation and cleanup, from the logged curves of ``run``.

    - memorisation ends when training accuracy first reaches 100%;
    - cleanup starts when the test loss (on the ``unseen`` pairs) first falls
      below ``plateau_drop`` times its plateau (its maximum after memorisation);
    - cleanup ends when that loss first comes within ``settle_factor`` of its final value.

    Boundaries the run did not reach are None (see :class:`Phases`).

    Taught in: grokking §3.
    """
    steps = run.metric("step")
    memorised = first_step(steps, run.metric("train_acc") >= 1.0)
    if memorised is None:
        return Phases(None, None, None)
    loss = run.metric("unseen_loss")
    after = steps >= memorised
    plateau = loss[after].max()
    start = first_step(steps, after & (loss < plateau_drop * plateau))
    if start is None:
        return Phases(memorised, None, None)
    end = first_step(steps, (steps >= start) & (loss < settle_factor * loss[-1]))
    return Phases(memorised, start, max(end, start))


# --- exercise -------------------------------------------------------------------------------


def clock_logits(a: Tensor, b: Tensor, freqs: list[int], p: int) -> Tensor:
    """The clock algorithm's logits Σ_k cos(ω_k(a + b − c)) for every answer c: (n, p).

    Taught in: grokking §4.5 (an exercise).
    """
    c = torch.arange(p, dtype=torch.float64)
    a, b = a.double()[:, None], b.double()[:, None]
    return sum(torch.cos(2 * math.pi * k / p * (a + b - c)) for k in freqs)


def exercise_cases(name: str = "clock", seed: int = 0) -> list[exercises.Case]:
    """The cases an exercise of the chapter is checked on: random inputs and edge cases.

    ``name`` is one of ``"frequency_share"``, ``"clock"``, ``"excluded"``.

    Taught in: grokking §4.1, §4.5 and §5 (the exercises).
    """
    gen = torch.Generator().manual_seed(seed)
    Case = exercises.Case
    if name == "frequency_share":
        p, j = 59, torch.arange(59, dtype=torch.float64)
        wave = torch.stack([torch.cos(2 * math.pi * 7 * j / p + ph) for ph in (0.0, 1.0, 2.0)], 1)
        constant = torch.ones(p, 2) + 0.1 * torch.randn(p, 2, generator=gen)
        return [
            Case("a random (59, 8) embedding", (torch.randn(p, 8, generator=gen),)),
            Case("columns that are all waves of frequency 7", (wave.float(),)),
            Case("nearly constant columns (frequency 0)", (constant,)),
            Case("p = 7", (torch.randn(7, 3, generator=gen),)),
        ]
    if name == "excluded":
        grid = torch.randn(7, 7, 7, generator=gen, dtype=torch.float64)
        a = torch.arange(7)
        clocks = clock_logits(a.repeat_interleave(7), a.repeat(7), [1, 3], 7).reshape(7, 7, 7)
        return [
            Case("random logits, p = 7, frequencies [1, 3]", (grid, [1, 3])),
            Case("the clock's own logits (nothing should be left)", (clocks, [1, 3])),
            Case("no frequency to remove", (grid, [])),
        ]
    if name != "clock":
        raise ValueError(f"no exercise named {name!r}")
    a, b = torch.randint(31, (200,), generator=gen), torch.randint(31, (200,), generator=gen)
    edge = torch.tensor([0, 0, 30, 30, 15])
    return [
        exercises.Case("200 random pairs, p = 31, frequencies 3, 8, 14", (a, b, [3, 8, 14], 31)),
        exercises.Case("0 and p - 1, one frequency", (edge, edge.flip(0), [1], 31)),
        exercises.Case("p = 59, four frequencies", (a + b, a, [1, 19, 24, 27], 59)),
    ]


# --- figures --------------------------------------------------------------------------------


def plot_curves(
    steps: np.ndarray,
    curves: dict[str, np.ndarray],
    *,
    ylabel: str,
    logy: bool = False,
    phases: dict[str, tuple[float, float]] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Several curves against training steps on one axis (log-scaled steps).

    Taught in: grokking §3.
    """
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    for label, values in curves.items():
        ax.plot(np.maximum(steps, 1), values, label=label)
    if phases:
        shade_phases(ax, phases)
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=9)
    return ax


def glue_figure(key: str, fig: Figure) -> None:
    """Store ``fig`` under ``key`` for another page of the book to show (myst-nb's glue).

    The chapter still shows the figure as usual. Outside a book build (Colab, an editor without
    myst-nb) this does nothing.

    Taught in: grokking §3, whose training curves the front page shows.
    """
    try:
        from myst_nb import glue
    except ImportError:
        return
    glue(key, fig, display=False)
