"""The local learning coefficient (LLC) of saved snapshots, estimated with ``devinterp``.

The toolbox of the chapter ``notebooks/learning_coefficient.py`` (Lau et al. 2023;
Hoogland et al. 2024; Wang et al. 2024). The estimator is devinterp's
(``devinterp.slt.llc.llc``: SGLD chains from the snapshot, λ̂ = nβ (E[L] − L(w*)));
this module only feeds it, checks what comes back, and caches it:

- :func:`estimate_llc` runs the chains quietly, refuses a diverged chain instead of
  returning devinterp's overflowed number, leaves the global random generators as it
  found them, and keeps the result in the run cache, keyed by the weights, the data and
  the settings;
- :func:`head_masks` selects one attention head's weights of a ``TransformerBridge``
  (devinterp's own ``create_param_masks`` knows ``HookedTransformer``'s parameter names,
  not the bridge's), for the weight-refined LLC.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import importlib.metadata
import random
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from torch import Tensor, nn

from toylab import cache
from toylab.train import default_device, move_quietly

FORMAT = 2  # bump when what a cached estimate holds changes (2: cache.memoize's layout)


@dataclass(frozen=True)
class SGLDSettings:
    """The sampler's settings: step size ε (``lr``), inverse temperature nβ, localisation γ, chains.

    Every chain takes ``num_draws`` SGLD steps from the snapshot, on batches of
    ``batch_size`` sequences; chain c is seeded with ``seed + c``. :func:`estimate_llc`
    wants the chains to pass over the data a whole number of times (see there).

    Taught in: learning_coefficient §1.
    """

    lr: float
    n_beta: float
    localization: float
    num_chains: int = 2
    num_draws: int = 96  # three passes over 1,024 sequences in batches of 32
    batch_size: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.lr, self.n_beta) <= 0 or self.localization < 0:
            raise ValueError(f"lr and n_beta must be > 0 and localization >= 0: {self}")
        if min(self.num_chains, self.num_draws, self.batch_size) < 1:
            raise ValueError(f"num_chains, num_draws and batch_size must be >= 1: {self}")


@dataclass
class LLCEstimate:
    """What :func:`estimate_llc` returns.

    Taught in: learning_coefficient §1.
    """

    llc_per_chain: np.ndarray  # (chain,) nβ (mean loss along the chain − loss at the snapshot)
    loss_trace: np.ndarray  # (chain, step) the SGLD chains' batch losses
    init_loss: float  # the loss at the snapshot, L(w*)
    settings: SGLDSettings
    seconds: float  # sampling time when it was computed (not when loaded)

    @property
    def llc(self) -> float:
        """The mean over chains."""
        return float(self.llc_per_chain.mean())

    @property
    def llc_std(self) -> float:
        """The spread over chains (0 for one chain)."""
        return float(self.llc_per_chain.std())

    @property
    def below_init(self) -> float:
        """devinterp's health check: the share of draws whose batch loss is below L(w*).

        A chain sampling around a minimum stays above it, but for the batch noise;
        a large share means the chains are sliding downhill from a point that is not
        a minimum of the loss they sample (e.g. a snapshot trained with weight decay).
        """
        return float((self.loss_trace < self.init_loss).mean())


def token_dataset(tokens: Tensor):
    """A ``datasets.Dataset`` with an ``input_ids`` column (torch format), as devinterp takes it.

    Taught in: learning_coefficient §1.
    """
    from datasets import Dataset

    if tokens.ndim != 2 or tokens.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"tokens must be (batch, n_ctx) integers, got {tuple(tokens.shape)}")
    return Dataset.from_dict({"input_ids": tokens.tolist()}).with_format("torch")


@contextlib.contextmanager
def _same_random_state():
    """devinterp reseeds torch, numpy and random for every chain; put them back afterwards."""
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        torch.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])


@contextlib.contextmanager
def _quiet_devinterp():
    """No progress bar per chain (they would fill the page), no ``gc.collect`` per chain.

    devinterp collects garbage before and after every chain to free GPU memory; on a
    page full of objects each collection takes about 0.2 s, a fifth of a short estimate.
    """
    import devinterp.slt.sampler as sampler
    from tqdm.auto import trange

    with (
        mock.patch.object(sampler, "trange", functools.partial(trange, disable=True)),
        mock.patch.object(sampler, "_gc_and_empty_cache", _empty_gpu_cache),
    ):
        yield


def _empty_gpu_cache() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def estimate_llc(
    model: nn.Module,
    tokens: Tensor,
    settings: SGLDSettings,
    *,
    masks: dict[str, Tensor] | None = None,
    loss: tuple[str, Callable[[nn.Module, Tensor], Tensor]] | None = None,
    use_cache: bool = True,
) -> LLCEstimate:
    """The LLC at ``model``'s weights on ``tokens`` (next-token loss), with devinterp's SGLD.

    λ̂ multiplies a small difference of two averages by nβ, so both must average
    the same sequences, equally weighted: the loss at the snapshot is taken over one
    pass through ``tokens``, and the chains must take a whole number of passes
    (``num_draws · batch_size`` a multiple of ``len(tokens)``). Otherwise some batches
    count once more than others, and for one head's weights, whose loss rises by
    thousandths of a nat, that imbalance can outweigh the estimate.

    Args:
        model: the snapshot, e.g. ``run.model_at(step)``; it is not changed.
        tokens: (n_sequences, n_ctx) the data the loss is measured on, a whole number
            of batches (the sampler cycles through it in the same order every pass).
        settings: the sampler's settings.
        masks: weight-refined LLC: ``{parameter name: bool mask}`` of the weights
            the chains may move (:func:`head_masks`); the rest stay at the snapshot.
        loss: ``(name, loss_fn)`` for a model that is not a language model:
            ``loss_fn(model, rows) -> (batch, n_cols − 1)`` per-example losses (devinterp's
            shape; :func:`modular_addition_loss`). The name goes into the cache key.
        use_cache: set False to sample again without reading or writing the cache.

    Raises:
        FloatingPointError: a chain diverged (a NaN or infinite loss): the step size is
            too large for this snapshot. devinterp only warns and returns an overflowed
            number; a diverged chain says nothing about the LLC.

    Taught in: learning_coefficient §1.
    """
    n, b = len(tokens), settings.batch_size
    if n % b or (settings.num_draws * b) % n:
        raise ValueError(
            f"{n} sequences in batches of {b} with {settings.num_draws} draws: the data must be "
            "a whole number of batches and the chains must pass over it a whole number of "
            f"times (e.g. num_draws={3 * n // b}), or λ̂ weighs some batches more than others"
        )
    device = default_device()
    params = dict(model.named_parameters())
    if masks is not None:
        unknown = sorted(set(masks) - set(params))
        if unknown:
            raise KeyError(f"masks name parameters the model does not have: {unknown}")
        for name, m in masks.items():
            if m.shape != params[name].shape:
                raise ValueError(
                    f"mask of {name} is {tuple(m.shape)}, the parameter {tuple(params[name].shape)}"
                )
    spec = {
        "format": FORMAT,
        "devinterp": importlib.metadata.version("devinterp"),
        "settings": dataclasses.asdict(settings),
        "weights": cache.tensor_digest(model.state_dict().values()),
        "names": sorted(model.state_dict()),
        "tokens": cache.tensor_digest([tokens]),
        "loss": None if loss is None else loss[0],
        "masks": None
        if masks is None
        else {k: cache.tensor_digest([v]) for k, v in sorted(masks.items())},
        "device": device.type,
    }
    path = cache.cache_dir() / "llc" / f"{cache.config_hash(spec)}.pt"
    sample = functools.partial(_sample, model, tokens, settings, masks, loss, device)
    result, _ = cache.memoize(path, spec, sample, use_cache)
    return _from_entry(result, settings)


def _sample(model, tokens, settings, masks, loss, device) -> dict:
    """Run devinterp's chains (:func:`estimate_llc` checked the inputs); what the cache keeps."""
    from devinterp.slt.llc import llc

    n, b = len(tokens), settings.batch_size
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, _same_random_state(), _quiet_devinterp():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = llc(
                model,
                token_dataset(tokens),
                {},
                lr=settings.lr,
                n_beta=settings.n_beta,
                localization=settings.localization,
                num_chains=settings.num_chains,
                num_draws=settings.num_draws,
                batch_size=settings.batch_size,
                init_seed=settings.seed,
                num_init_loss_batches=n // b,  # one pass: every sequence once
                param_masks=None if masks is None else {k: v.bool() for k, v in masks.items()},
                device=device.type,
                output_path=Path(tmp) / "samples.zarr",
                loss_fn=None if loss is None else loss[1],
            )
            trace = np.asarray(out.loss_trace.values, dtype=np.float64)  # (chain, step)
            per_chain = np.asarray(out.llc_per_chain.values, dtype=np.float64)
            init_loss = float(out.init_loss)
    failed = [str(w.message) for w in caught if "Chain failed" in str(w.message)]
    if failed or not np.isfinite(trace).all() or not np.isfinite(per_chain).all():
        raise FloatingPointError(
            f"an SGLD chain diverged at lr={settings.lr}, n_beta={settings.n_beta}, "
            f"localization={settings.localization} ({failed[0] if failed else 'non-finite loss'}): "
            "lower the step size or raise the localization"
        )
    return {  # tensors, not arrays: the cache loads with torch.load(weights_only=True)
        "llc_per_chain": torch.from_numpy(per_chain),
        "loss_trace": torch.from_numpy(trace),
        "init_loss": init_loss,
        "seconds": time.perf_counter() - t0,
    }


def _from_entry(result: dict, settings: SGLDSettings) -> LLCEstimate:
    return LLCEstimate(
        llc_per_chain=result["llc_per_chain"].numpy(),
        loss_trace=result["loss_trace"].numpy(),
        init_loss=result["init_loss"],
        settings=settings,
        seconds=result["seconds"],
    )


def hutchinson(hvp: Callable[[Tensor], Tensor], probes: Tensor) -> float:
    """Hutchinson's estimate of tr(H) from Hessian-vector products: the mean of vᵀHv over the probes.

    ``hvp(v)`` returns H v for a flat vector v (dim,); ``probes`` is (n_probes, dim).
    With Rademacher probes (entries ±1) E[vᵀHv] = tr(H), and the estimate is exact
    when H is diagonal.

    Taught in: learning_coefficient §2 (exercise 2).
    """
    if probes.ndim != 2:
        raise ValueError(f"probes must be (n_probes, dim), got shape {tuple(probes.shape)}")
    return float(torch.stack([v @ hvp(v) for v in probes]).mean())


def hessian_trace(
    model: nn.Module,
    data: Tensor,
    n_probes: int = 16,
    seed: int = 0,
    loss: Callable[[nn.Module, Tensor], Tensor] | None = None,
    estimator: Callable[[Callable[[Tensor], Tensor], Tensor], float] = hutchinson,
) -> tuple[float, float]:
    """tr(H) of the mean loss on ``data`` at ``model``'s weights (Hutchinson), and its standard error.

    The loss is the one :func:`estimate_llc` measures: next-token cross-entropy on
    ``data`` (n_sequences, n_ctx), or ``loss(model, rows)`` per example (devinterp's
    shape, e.g. :func:`modular_addition_loss`). Each Rademacher probe sees its own
    slice of ``data`` (``n_probes`` near-equal slices). The trace is linear in the
    loss, and the data's loss is the slices' losses weighted by their sizes, so the
    same weighted mean of the slices' vᵀH v is an unbiased estimate of the data's
    tr(H); the spread of the slices' values gives its standard error, which counts
    the slices' noise with the probes'. It costs one Hessian-vector product over the
    data. ``estimator(hvp, probes)`` is :func:`hutchinson` or the reader's version of
    it, given one probe at a time. ``model`` is not changed (a copy is moved to the
    device).

    Taught in: learning_coefficient §2.
    """
    if not 2 <= n_probes <= len(data):
        raise ValueError(f"need 2 to {len(data)} probes (one slice of data each), got {n_probes}")
    device = default_device()
    model = copy.deepcopy(model)
    move_quietly(model, device)
    params = [p for p in model.parameters() if p.requires_grad]
    gen = torch.Generator().manual_seed(seed)
    values = []
    chunks = torch.tensor_split(data, n_probes)
    for chunk in chunks:
        chunk = chunk.to(device)
        value = model(chunk, return_type="loss") if loss is None else loss(model, chunk).mean()
        grads = torch.autograd.grad(value, params, create_graph=True)
        flat = torch.cat([g.reshape(-1) for g in grads])  # (dim,)

        def hvp(v: Tensor, flat: Tensor = flat) -> Tensor:
            out = torch.autograd.grad(flat, params, grad_outputs=v, retain_graph=True)
            return torch.cat([h.reshape(-1) for h in out]).detach()

        probe = (torch.randint(0, 2, (1, flat.numel()), generator=gen) * 2 - 1).to(flat)
        values.append(estimator(hvp, probe))
    values = np.array(values)
    weights = np.array([len(c) for c in chunks]) / len(data)
    mean = float(weights @ values)
    # the weighted mean's standard error: sqrt(sum w^2) times the values' spread
    return mean, float(values.std(ddof=1) * np.sqrt((weights**2).sum()))


def modular_addition_loss(model: nn.Module, rows: Tensor) -> Tensor:
    """Per-example cross-entropy of ``model(a, b)`` against ``c`` for rows ``(a, b, c)``: (batch, 2).

    devinterp measures next-token losses, one per position after the first, so a row
    of three numbers must give two; both columns hold the example's loss, and their
    mean, which is all the LLC uses, is that loss.

    Taught in: learning_coefficient §4.
    """
    loss = torch.nn.functional.cross_entropy(
        model(rows[:, 0], rows[:, 1]), rows[:, 2].to(rows.device), reduction="none"
    )
    return torch.stack([loss, loss], dim=1)


def head_masks(model: nn.Module, layer: int, head: int) -> dict[str, Tensor]:
    """Masks of one attention head's weights in a ``TransformerBridge``: its rows of q, k, v, its columns of o.

    The bridge keeps a layer's heads side by side in ``nn.Linear`` projections:
    ``q.weight`` is (n_heads·d_head, d_model), head h owning rows h·d_head …
    (h+1)·d_head − 1 (and those entries of ``q.bias``); ``o.weight`` is
    (d_model, n_heads·d_head), head h owning those columns. ``o.bias`` is shared by
    all heads and belongs to none. Returns ``{parameter name: bool mask}`` for
    :func:`estimate_llc`.

    Taught in: learning_coefficient §3.
    """
    if not hasattr(model, "blocks"):
        raise ValueError("head_masks needs a TransformerBridge (it has no blocks)")
    cfg = model.cfg
    if not (0 <= layer < cfg.n_layers and 0 <= head < cfg.n_heads):
        raise ValueError(
            f"no head L{layer}H{head} in a model of {cfg.n_layers} layers x {cfg.n_heads} heads"
        )
    own = slice(head * cfg.d_head, (head + 1) * cfg.d_head)
    attn = model.blocks[layer].attn  # the projections q, k, v, o (each like an nn.Linear)
    name_of = {id(p): name for name, p in model.named_parameters()}  # names as the LLC sees them
    owned = [(getattr(attn, proj), kind) for proj in "qkv" for kind in ("weight", "bias")]
    masks = {}
    for linear, kind in owned + [(attn.o, "weight")]:
        p = getattr(linear, kind)
        if id(p) not in name_of:
            raise RuntimeError(f"TransformerLens changed: {kind} of a projection is no parameter")
        mask = torch.zeros_like(p, dtype=torch.bool)
        if linear is attn.o:
            mask[:, own] = True  # columns of o's weight
        else:
            mask[own] = True  # rows of the weight, entries of the bias
        masks[name_of[id(p)]] = mask
    return masks


def llc_from_trace(loss_trace: np.ndarray, init_loss: float, n_beta: float) -> np.ndarray:
    """λ̂ per chain from the chains' losses: nβ (mean over every step − the snapshot's loss).

    ``loss_trace`` is (chain, step); returns (chain,). This is how devinterp averages
    (``compute_llc``): over every step, the first ones included.

    Taught in: learning_coefficient §1 (exercise 1).
    """
    loss_trace = np.asarray(loss_trace, dtype=np.float64)
    if loss_trace.ndim != 2:
        raise ValueError(f"loss_trace must be (chain, step), got shape {loss_trace.shape}")
    return n_beta * (loss_trace.mean(axis=1) - init_loss)


def compare_masks(got, want: dict[str, Tensor]) -> str | None:
    """What is wrong with a dict of masks ``got`` given ``want``, or None (for ``exercises.check``).

    Taught in: learning_coefficient §3 (exercise 3).
    """
    if not isinstance(got, dict):
        return f"expected a dict of masks, got {type(got).__name__}"
    if set(got) != set(want):
        missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
        return f"missing parameters {missing}, unexpected {extra}"
    for name, w in want.items():
        g = torch.as_tensor(got[name])
        if g.shape != w.shape:
            return f"{name}: expected shape {tuple(w.shape)}, got {tuple(g.shape)}"
        wrong = g.bool() != w
        if wrong.any():
            where = tuple(int(i) for i in wrong.nonzero()[0])
            return f"{name}: expected {bool(w[where])} at {where}, got {bool(g.bool()[where])}"
    return None


def exercise_cases(name: str, model: nn.Module | None = None, seed: int = 0) -> list:
    """The cases an exercise of the chapter is checked on.

    ``"llc_from_trace"``: random traces of one and of several chains, and a flat
    chain (λ̂ = 0). ``"hutchinson"``: Hessians given as products (diagonal, where any
    ±1 probe gives the exact trace; symmetric with off-diagonal terms; one probe).
    ``"head_masks"``: the first and last head of each layer of ``model`` (a
    ``TransformerBridge``).

    Taught in: learning_coefficient §1, §2 and §3 (the exercises).
    """
    from toylab import exercises

    Case = exercises.Case
    if name == "llc_from_trace":
        rng = np.random.default_rng(seed)
        return [
            Case("four chains of 100 steps", (3.3 + 0.1 * rng.random((4, 100)), 3.25, 30.0)),
            Case("one chain", (4.0 + rng.random((1, 7)), 4.1, 10.0)),
            Case("a chain that never moved (0)", (np.full((2, 5), 2.0), 2.0, 30.0)),
        ]
    if name == "hutchinson":
        gen = torch.Generator().manual_seed(seed)

        def rademacher(n: int, dim: int) -> Tensor:
            return (torch.randint(0, 2, (n, dim), generator=gen) * 2 - 1).double()

        diagonal = torch.diag(torch.rand(6, generator=gen, dtype=torch.float64))
        a = torch.randn(5, 5, generator=gen, dtype=torch.float64)
        symmetric = a + a.T
        return [
            Case("a diagonal Hessian, 4 probes (exact)", (diagonal.__matmul__, rademacher(4, 6))),
            Case("a symmetric Hessian, 3 probes", (symmetric.__matmul__, rademacher(3, 5))),
            Case("one probe", (symmetric.__matmul__, rademacher(1, 5))),
        ]
    if name == "head_masks":
        if model is None:
            raise ValueError("the head_masks cases need the model")
        last = model.cfg.n_heads - 1
        return [
            Case(f"L{layer}H{head}", (model, layer, head))
            for layer in range(model.cfg.n_layers)
            for head in (0, last)
        ]
    raise ValueError(f"no exercise named {name!r}")
