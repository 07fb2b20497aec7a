"""The one training loop every chapter uses.

Seeded and deterministic; full-batch or mini-batch; AdamW with linear warm-up;
metrics every ``log_every`` steps; parameter snapshots at chosen steps so that
analyses can run over training; a progress bar; GPU when present. Runs are
cached on disk (:mod:`toylab.cache`): a re-run is instant and an interrupted
run resumes from its last checkpoint.

The loop knows nothing about the model: a model that needs its own optimiser
(an :class:`toylab.ensemble.Ensemble` with one weight decay per member) brings
it, as minGPT's models do. Taught in: grokking §3; every chapter trains with it.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import io
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from toylab import cache

PROGRESS_ENV = "TOYLAB_PROGRESS"  # "auto" (default), "text", or "off"
# The one import-time side effect, and it must be one: cuBLAS reads this once, when CUDA
# starts, and without it deterministic matrix products on a GPU raise an error.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
CACHE_FORMAT = 2  # bump when what a cached run holds changes (2: deterministic kernels)


@dataclass(frozen=True)
class TrainConfig:
    """Everything about optimisation; the model and data are given separately.

    Args:
        steps: number of optimiser steps.
        lr, weight_decay, betas: AdamW settings. ``weight_decay`` may be a tuple
            with one (decoupled, AdamW-style) decay per member of an
            :class:`toylab.ensemble.Ensemble` (which applies them), for sweeps.
        weight_decay_until: ``None`` applies the weight decay throughout; a step
            number turns it off from that step on (an intervention: what happens
            without decay after, say, memorisation). Single models only.
        warmup_steps: the learning rate rises linearly over this many steps.
        lr_decay: ``"none"`` keeps the learning rate constant after warm-up;
            ``"cosine"`` lowers it along a half cosine to ~0 at the last step.
        batch_size: ``None`` for full-batch training, else examples per step
            (rows drawn with replacement from a generator seeded by ``seed``; the
            same rows of every data tensor).
        seed: seeds torch (e.g. dropout) and the batch sampler.
        log_every: evaluate and log metrics every this many steps (and at the end).
        snapshot_steps: steps at which to keep a copy of the parameters
            (see :func:`snapshot_schedule`).
        checkpoint_every: save a resumable checkpoint every this many steps.

    Taught in: grokking §3; used in every chapter.
    """

    steps: int
    lr: float = 1e-3
    weight_decay: float | tuple[float, ...] = 0.0
    weight_decay_until: int | None = None
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 0
    lr_decay: str = "none"
    batch_size: int | None = None
    seed: int = 0
    log_every: int = 100
    snapshot_steps: tuple[int, ...] = ()
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        checks = [
            (self.steps >= 1, "steps must be >= 1"),
            (self.lr > 0, "lr must be > 0"),
            (all(w >= 0 for w in self._decays()), "weight_decay must be >= 0"),
            (
                self.weight_decay_until is None
                or (
                    self.weight_decay_until >= 0
                    and not isinstance(self.weight_decay, (list, tuple))
                ),
                "weight_decay_until must be None or a step >= 0, for a single weight decay",
            ),
            (all(0 <= b < 1 for b in self.betas), "betas must lie in [0, 1)"),
            (self.warmup_steps >= 0, "warmup_steps must be >= 0"),
            (self.lr_decay in ("none", "cosine"), "lr_decay must be 'none' or 'cosine'"),
            (self.batch_size is None or self.batch_size >= 1, "batch_size must be None or >= 1"),
            (self.log_every >= 1, "log_every must be >= 1"),
            (self.checkpoint_every >= 1, "checkpoint_every must be >= 1"),
            (
                all(0 <= s <= self.steps for s in self.snapshot_steps),
                f"snapshot_steps must lie in [0, steps={self.steps}]",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"bad TrainConfig: {message} (got {self})")
        object.__setattr__(self, "betas", tuple(self.betas))
        if isinstance(self.weight_decay, (list, tuple)):
            object.__setattr__(self, "weight_decay", tuple(float(w) for w in self.weight_decay))
        object.__setattr__(self, "snapshot_steps", tuple(sorted(set(self.snapshot_steps))))

    def _decays(self) -> tuple[float, ...]:
        """The weight decay(s) as a tuple: one per ensemble member, or a single one."""
        w = self.weight_decay
        return tuple(w) if isinstance(w, (list, tuple)) else (w,)


def snapshot_schedule(steps: int, n_log: int = 20, n_linear: int = 40) -> tuple[int, ...]:
    """Snapshot steps: ``n_log`` log-spaced (dense early) plus ``n_linear`` evenly spaced.

    Always includes step 0 and the last step.

    Taught in: grokking §3; also used by grokking_network, icl_regression, induction_heads,
    learning_coefficient and ode_circuits.
    """
    log = np.unique(np.round(np.logspace(0, math.log10(max(steps, 1)), n_log)).astype(int))
    lin = np.round(np.linspace(0, steps, n_linear + 1)).astype(int)
    return tuple(sorted({0, steps, *log.tolist(), *lin.tolist()}))


def lr_factor(cfg: TrainConfig, step: int) -> float:
    """The learning rate of optimiser step ``step`` (0-based) as a fraction of ``cfg.lr``.

    Linear warm-up over ``cfg.warmup_steps``, then constant or a cosine decay.

    Taught in: grokking §3; used in every chapter, through ``train``.
    """
    factor = min(1.0, (step + 1) / max(cfg.warmup_steps, 1))
    if cfg.lr_decay == "cosine":
        factor *= 0.5 * (1 + math.cos(math.pi * min(step, cfg.steps) / cfg.steps))
    return factor


def default_device() -> torch.device:
    """The GPU if there is one, else the CPU.

    Taught in: grokking §3; used in every chapter, through ``train``.
    """
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class Run:
    """A finished training run: metrics over training, snapshots, the final model.

    ``run.model`` is the trained model, on the CPU wherever it was trained (``train``
    moves it back): the one way to get it. ``run.model_at(step)`` is a copy at a
    snapshot. An analysis that needs another device moves a copy, never ``run.model``.

    Taught in: grokking §3 (what ``train`` returns); used in every chapter.
    """

    name: str
    path: Path  # the cache folder of this run
    spec: dict  # everything the cache key was computed from
    history: dict[str, list[float]]  # "step" plus one list per metric
    snapshots: dict[int, dict[str, Tensor]]  # step -> state_dict (CPU)
    model: nn.Module  # holds the final parameters, on the CPU
    seconds: float  # wall-clock time the training took (summed over resumes)
    from_cache: bool = field(default=False)

    def metric(self, name: str) -> np.ndarray:
        """One logged metric as an array aligned with ``metric("step")``."""
        if name not in self.history:
            raise KeyError(
                f"no metric {name!r} in run {self.name!r}; logged: {sorted(self.history)}"
            )
        return np.asarray(self.history[name])

    @property
    def snapshot_steps(self) -> list[int]:
        return sorted(self.snapshots)

    def state_at(self, step: int) -> dict[str, Tensor]:
        """The parameters saved at ``step``."""
        if step not in self.snapshots:
            raise KeyError(
                f"step {step} was not snapshotted in run {self.name!r}; saved steps: "
                f"{self.snapshot_steps}. Add it to TrainConfig.snapshot_steps and re-run."
            )
        return self.snapshots[step]

    def model_at(self, step: int) -> nn.Module:
        """A CPU copy of the model with the parameters saved at ``step`` (snapshots live on the CPU)."""
        model = copy.deepcopy(self.model)
        move_quietly(model, torch.device("cpu"))
        model.load_state_dict(self.state_at(step))
        return model


def move_quietly(model: nn.Module, device: torch.device) -> None:
    """``model.to(device)``, quietly: some models (TransformerLens's) print a line when moved.

    Taught in: grokking §3, through ``train``; learning_coefficient §2 uses it.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        model.to(device)


def _progress_bar(total: int, initial: int, name: str):
    mode = os.environ.get(PROGRESS_ENV, "auto")
    if mode == "off":
        return None
    if mode == "text":
        from tqdm import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, desc=name, mininterval=1.0)


# --- the cache key and the cache entries ----------------------------------------------------

Data = (
    Sequence[Tensor]
    | Callable[[torch.Generator], Sequence[Tensor]]
    | Callable[[torch.Generator, int], Sequence[Tensor]]
)


def _sampler(data: Data) -> Callable[[torch.Generator, int], Sequence[Tensor]] | None:
    """A sampler as ``sample(gen, step)`` (one that takes only ``gen`` ignores the step), or None."""
    if not callable(data):
        return None
    params = inspect.signature(data).parameters.values()
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return data if len(positional) >= 2 else lambda gen, step: data(gen)


def _key_tensors(data: Data, seed: int) -> list[Tensor]:
    """The tensors a run's cache key sees: the data, or the first two batches a sampler draws."""
    sample = _sampler(data)
    if sample is not None:
        probe = torch.Generator().manual_seed(seed)
        data = [t for step in range(2) for t in sample(probe, step)]
    if not data or any(t.shape[0] != data[0].shape[0] for t in data):
        raise ValueError("data must be a non-empty sequence of tensors sharing their first axis")
    return list(data)


def run_spec(
    model: nn.Module,
    data: Data,
    cfg: TrainConfig,
    name: str,
    config: dict | None,
    device: torch.device | None = None,
) -> dict:
    """Everything a run's cache key is computed from: config, settings, initial weights, data, device.

    Taught in: grokking §3; used in every chapter, through ``train``.
    """
    return {
        "format": CACHE_FORMAT,
        "name": name,
        "config": config,
        "train": dataclasses.asdict(cfg),
        "init": cache.tensor_digest(model.state_dict().values()),
        "data": cache.tensor_digest(_key_tensors(data, cfg.seed)),
        "device": (device or default_device()).type,
    }


# --- the loop -----------------------------------------------------------------------------------


@dataclass
class _State:
    """What a checkpoint saves besides the model and optimiser: where the loop is and what it logged."""

    step: int = 0
    history: dict[str, list[float]] = field(default_factory=lambda: {"step": [], "loss": []})
    snapshots: dict[int, dict[str, Tensor]] = field(default_factory=dict)
    seconds: float = 0.0


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters, or the model's own (``model.configure_optimizer(cfg)``)."""
    if hasattr(model, "configure_optimizer"):
        return model.configure_optimizer(cfg)
    if isinstance(cfg.weight_decay, tuple):
        raise ValueError(
            f"{len(cfg.weight_decay)} weight decays (one per member) need an Ensemble "
            "of as many members; a single model takes one weight decay"
        )
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


def _batches(
    data: Data, cfg: TrainConfig, device: torch.device
) -> Callable[[torch.Generator], list[Tensor]]:
    """``batch(gen, step)``: a step's batch, from the sampler, the full data, or random rows of it."""
    sample = _sampler(data)
    if sample is not None:
        return lambda gen, step: [t.to(device) for t in sample(gen, step)]
    data = [t.to(device) for t in data]
    if cfg.batch_size is None:
        return lambda gen, step: data
    n = data[0].shape[0]

    def rows(gen: torch.Generator, step: int) -> list[Tensor]:
        idx = torch.randint(n, (cfg.batch_size,), generator=gen).to(device)
        return [t[idx] for t in data]  # the same rows of every tensor

    return rows


def _log(model, history, step, loss, evaluate) -> None:
    """Append the step, the batch's loss and ``evaluate(model)`` (in eval mode, without gradients)."""
    history["step"].append(step)
    history["loss"].append(loss.item())
    if evaluate is not None:
        model.eval()
        with torch.no_grad():
            for key, value in evaluate(model).items():
                history.setdefault(key, []).append(float(value))
        model.train()


def _resume(path: Path, spec: dict, model, opt, sched, gen: torch.Generator, name: str) -> _State:
    """Load the checkpoint at ``path`` into the model, optimiser, schedule and generators, if there is one."""
    ckpt = cache.load_entry(path, spec)
    if ckpt is None:
        return _State()
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    sched.load_state_dict(ckpt["scheduler"])
    gen.set_state(ckpt["generator"])
    torch.set_rng_state(ckpt["torch_rng"])
    print(f"[toylab] {name}: resuming from step {ckpt['step']}")
    return _State(ckpt["step"], ckpt["history"], ckpt["snapshots"], ckpt["seconds"])


def _checkpoint(
    path: Path, spec: dict, model, opt, sched, gen: torch.Generator, state: _State
) -> None:
    cache.save_atomic(
        path,
        {
            "spec": spec,
            "step": state.step,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "generator": gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "history": state.history,
            "snapshots": state.snapshots,
            "seconds": state.seconds,
        },
    )


def _fit(
    model, batch, loss_fn, cfg: TrainConfig, evaluate, name: str, spec: dict, ckpt: Path | None
) -> _State:
    """The loop: resume from the checkpoint ``ckpt`` if there is one, then step to ``cfg.steps``."""
    opt = _optimizer(model, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(cfg, s))
    gen = torch.Generator().manual_seed(cfg.seed)  # draws the batches
    state = _resume(ckpt, spec, model, opt, sched, gen, name) if ckpt else _State()
    bar = _progress_bar(cfg.steps, state.step, name)
    t0, seconds = time.perf_counter(), state.seconds  # seconds: spent before a resume
    model.train()
    for step in range(state.step, cfg.steps + 1):
        if cfg.weight_decay_until is not None and step >= cfg.weight_decay_until:
            for group in opt.param_groups:  # the intervention: no decay from here on
                group["weight_decay"] = 0.0
        if step in cfg.snapshot_steps:
            state.snapshots[step] = {
                k: v.detach().cpu().clone() for k, v in model.state_dict().items()
            }
        loss = loss_fn(model, *batch(gen, step))
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"{name}: loss became {loss.item()} at step {step}; lower the lr"
            )
        if step % cfg.log_every == 0 or step == cfg.steps:
            _log(model, state.history, step, loss, evaluate)
            if bar is not None:
                shown = [k for k in state.history if k == "loss" or k.endswith("acc")]
                bar.set_postfix({k: f"{state.history[k][-1]:.3g}" for k in shown}, refresh=False)
        if step == cfg.steps:
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if bar is not None:
            bar.update(1)
        state.step, state.seconds = step + 1, seconds + time.perf_counter() - t0
        if ckpt and state.step % cfg.checkpoint_every == 0 and state.step < cfg.steps:
            _checkpoint(ckpt, spec, model, opt, sched, gen, state)
    if bar is not None:
        bar.close()
    state.seconds = seconds + time.perf_counter() - t0
    model.eval()
    return state


def train(
    model: nn.Module,
    data: Data,
    loss_fn: Callable[..., Tensor],
    cfg: TrainConfig,
    *,
    evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
    name: str = "run",
    config: dict | None = None,
    use_cache: bool = True,
    device: str | torch.device | None = None,
) -> Run:
    """Train ``model`` on ``data`` with AdamW, or load the identical run from the cache.

    Args:
        model: a freshly initialised model; its initial parameters are part of
            the cache key, so seed it before building it. A model with a
            ``configure_optimizer(cfg)`` method supplies its own optimiser.
        data: training tensors sharing their first (example) axis, e.g. (X, y);
            or a sampler ``data(generator) -> tensors`` that draws a fresh batch
            each step from the loop's seeded generator (then ``cfg.batch_size``
            is unused and the sampler decides the batch size). A sampler
            ``data(generator, step)`` also gets the step, for a data schedule
            (an intervention that changes the data mid-run); the cache key sees
            only its first two batches, so put the schedule in ``config``.
        loss_fn: ``loss_fn(model, *batch) -> scalar`` loss to minimise.
        cfg: the optimisation settings.
        evaluate: ``evaluate(model) -> {metric: value}``, called under
            ``torch.no_grad`` every ``cfg.log_every`` steps. ``loss`` (the training
            batch's loss) is always logged.
        name: a readable name; also the prefix of the cache folder.
        config: plain data describing what ``model``, ``data``, ``loss_fn`` and
            ``evaluate`` are (task, sizes, a version string). Change it whenever
            that code changes, so an old cache entry is not reused.
        use_cache: set False to train without reading or writing the cache.
        device: where to train; default the GPU if there is one, else the CPU. The
            batches and the model go there; ``evaluate`` receives the model there.

    Returns:
        A :class:`Run` whose model is back on the CPU, the one place results return
        to the host: analyses after ``train`` need no device bookkeeping. Training
        resumes from the last checkpoint if a previous call was interrupted. Trained or loaded, ``train`` leaves torch in the
        same state: deterministic algorithms on, the global generator seeded
        with ``cfg.seed``; so the cells after it compute the same numbers on a
        first run and a cached one.

    Taught in: grokking §3; used in every chapter.
    """
    # Same seed, same numbers: without deterministic kernels the embedding's backward
    # pass (a multi-threaded index_put_ with accumulation) sums in a varying order.
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(cfg.seed)
    device = torch.device(device) if device is not None else default_device()
    spec = run_spec(model, data, cfg, name, config, device)  # 1. the cache key
    path = cache.cache_dir() / f"{name}-{cache.config_hash(spec)}"
    move_quietly(model, device)
    ckpt = path / "checkpoint.pt" if use_cache else None

    def fit() -> dict:  # 3. resume or start, and loop
        state = _fit(model, _batches(data, cfg, device), loss_fn, cfg, evaluate, name, spec, ckpt)
        final = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        return dict(
            history=state.history, snapshots=state.snapshots, final=final, seconds=state.seconds
        )

    entry, from_cache = cache.memoize(path / "run.pt", spec, fit, use_cache)  # 2. or load; 4. save
    if from_cache:
        model.load_state_dict(entry["final"])
        print(f"[toylab] {name}: loaded from cache {path} (trained in {entry['seconds']:.0f} s)")
    elif ckpt:
        ckpt.unlink(missing_ok=True)  # the finished run is saved
    move_quietly(model, torch.device("cpu"))  # analyses run on the CPU
    torch.manual_seed(cfg.seed)  # the same global generator after a cold run and a cached one
    return Run(
        name, path, spec, entry["history"], entry["snapshots"], model, entry["seconds"], from_cache
    )
