"""Repeated data on the induction task: a small pool of sequences, seen again and again.

Hernandez et al. (2022) trained language models on data that was mostly unique with a small
part repeated many times, and found that the repetition damages induction heads. The
repeated-data chapter (``notebooks/repeated_data.py``) builds a toy version on the induction
task of :mod:`toylab.induction_task`, and this module holds its machinery.

Every training batch holds ``BATCH`` sequences: ``BATCH - N_REP`` fresh induction sequences,
the same for every member of a sweep, and ``N_REP`` rows of the member's own, which are

- drawn from its fixed **pool** of R random sequences (R > 0): repeated across steps, with
  no structure inside them, so they can only be memorised; or
- fresh random sequences (R = 0, the **fair control**): the same share of the same kind of
  data, never repeated. The control differs from a pool only in the repetition.

A member may also stop the repetition at a step (``Member.stop_at``): from then on its own
rows are fresh random sequences, as the control's are. One :class:`toylab.ensemble.Ensemble`
trains a whole sweep at once; every metric is logged per member, under ``"{metric} {i}"``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from toylab import induction_task as task
from toylab.ensemble import Ensemble
from toylab.models import build_transformer
from toylab.train import Run, TrainConfig, train

T, V, BATCH = task.N_CTX, task.N_VOCAB, task.BATCH
N_REP = 8  # of every batch's 32 rows, this many are the member's own (a quarter)
VERSION = 1  # part of every run's cache key
METRICS = ("test", "induction", "pool", "icl", "prev", "prefix")

# (256, T), (256, T - 1): fresh induction sequences, and where their next token is predictable
TEST_TOKENS, TEST_PREDICTABLE = task.repeated_subsequence_tokens(
    256, T, V, generator=torch.Generator().manual_seed(7)
)
# (64, T): the control's "own rows" for scoring: random sequences it never trained on
RANDOM_ROWS = torch.randint(V, (64, T), generator=torch.Generator().manual_seed(99))


@dataclass(frozen=True)
class Member:
    """One model of a sweep: its pool size ``R`` (0: the fair control) and its ``seed``.

    The seed draws the model's initial weights and the pool. ``stop_at``: from this
    step on, the pool rows are replaced by fresh random rows (``None``: never).

    Taught in: repeated_data §1.
    """

    R: int
    seed: int
    stop_at: int | None = None

    def __post_init__(self):
        if self.R < 0:
            raise ValueError(f"a pool holds R >= 0 sequences, got {self.R}")
        if self.stop_at is not None and (self.R == 0 or self.stop_at < 0):
            raise ValueError("stop_at needs a pool (R > 0) and a step >= 0")

    @property
    def label(self) -> str:
        name = "control" if self.R == 0 else f"R={self.R}"
        return name + (f", stop {self.stop_at}" if self.stop_at is not None else "")


def make_pool(member: Member) -> Tensor | None:
    """The member's pool: R random sequences (R, T), or ``None`` for the control.

    Taught in: repeated_data §1.
    """
    if member.R == 0:
        return None
    gen = torch.Generator().manual_seed(1_000_003 * member.seed + member.R)
    return torch.randint(V, (member.R, T), generator=gen)


def sampler(members: Sequence[Member]) -> Callable[[torch.Generator, int], tuple[Tensor]]:
    """``sample(gen, step)``: every member's batch, (E, BATCH, T).

    Rows ``:BATCH - N_REP`` are fresh induction sequences shared by every member; the last
    ``N_REP`` are the member's own: rows of its pool, or fresh random rows (the control,
    and a member past its ``stop_at``). Every draw is made for every member, so the
    random stream, and with it the shared rows, does not depend on the sweep's make-up.

    Taught in: repeated_data §1.
    """
    pools = [make_pool(m) for m in members]
    E = len(members)

    def sample(gen: torch.Generator, step: int) -> tuple[Tensor]:
        fresh, _ = task.repeated_subsequence_tokens(BATCH - N_REP, T, V, generator=gen)
        random_rows = torch.randint(V, (E, N_REP, T), generator=gen)
        picks = torch.randint(1 << 30, (E, N_REP), generator=gen)
        own = [
            random_rows[e]
            if pool is None or (m.stop_at is not None and step >= m.stop_at)
            else pool[picks[e] % len(pool)]
            for e, (m, pool) in enumerate(zip(members, pools))
        ]
        return (torch.cat([fresh.expand(E, -1, -1), torch.stack(own)], dim=1),)

    return sample


def member_nll(ens: Ensemble, tokens: Tensor) -> Tensor:
    """Next-token loss of member e on ``tokens[e]``: (E, b, T) -> (E, b, T - 1).

    Taught in: repeated_data §1.
    """
    log_probs = ens.each(tokens)[:, :, :-1].log_softmax(-1)
    return -log_probs.gather(-1, tokens[:, :, 1:, None])[..., 0]


def ensemble_loss(ens: Ensemble, tokens: Tensor) -> Tensor:
    """The sum of the members' mean losses, so that each member's gradient is its own.

    Taught in: repeated_data §1.
    """
    return member_nll(ens, tokens).mean(dim=(1, 2)).sum()


def best_head_scores(model: nn.Module) -> tuple[float, float]:
    """The best previous-token score in layer 0 and the best prefix-matching score in layer 1.

    The induction chapter's scores (:func:`toylab.induction_task.scores`) on its test
    sequences; an untrained model gives about 0.1 for both.

    Taught in: repeated_data §3.
    """
    sc = task.scores(model)
    prev = max(v for k, v in sc.items() if k.startswith("prev L0"))
    prefix = max(v for k, v in sc.items() if k.startswith("prefix L1"))
    return prev, prefix


def evaluator(members: Sequence[Member]) -> Callable[[Ensemble], dict[str, float]]:
    """``evaluate(ens)``: every member's :data:`METRICS`, under ``"{metric} {i}"``.

    ``test``: loss on fresh induction sequences (start ln 64 = 4.16); ``induction``:
    the same on the positions an induction head can predict; ``pool``: loss on the
    member's own pool (on fresh random rows for the control); ``icl``: the ICL score;
    ``prev``, ``prefix``: :func:`best_head_scores`.

    Taught in: repeated_data §2.
    """
    E = len(members)
    pools = [make_pool(m) for m in members]
    own_rows = torch.stack(
        [RANDOM_ROWS if p is None else p[torch.arange(64) % len(p)] for p in pools]
    )  # (E, 64, T)

    def evaluate(ens: Ensemble) -> dict[str, float]:
        device = next(ens.parameters()).device
        test = member_nll(ens, TEST_TOKENS.to(device).expand(E, -1, -1))  # (E, 256, T - 1)
        pool = member_nll(ens, own_rows.to(device))  # (E, 64, T - 1)
        icl = member_nll(ens, task.TEST_TOKENS.to(device).expand(E, -1, -1))
        out = {}
        for e in range(E):
            prev, prefix = best_head_scores(ens.member(e))
            out |= {
                f"test {e}": test[e].mean().item(),
                f"induction {e}": test[e][TEST_PREDICTABLE.to(device)].mean().item(),
                f"pool {e}": pool[e].mean().item(),
                f"icl {e}": task.icl_score(icl[e], task.PERIOD),
                f"prev {e}": prev,
                f"prefix {e}": prefix,
            }
        return out

    return evaluate


def train_sweep(
    members: Sequence[Member],
    steps: int = task.STEPS,
    d_model: int = task.D_MODEL,
    log_every: int = 50,
) -> Run:
    """Train every member as one Ensemble on its mixture, or load the run from the cache.

    The induction chapter's 2-layer attention-only model (``d_model`` may be widened, with
    4 heads of ``d_model // 4``), Adam at its learning rate, scored every ``log_every``
    steps by :func:`evaluator`.

    Taught in: repeated_data §2.
    """
    members = list(members)
    if not members:
        raise ValueError("a sweep needs at least one member")
    cfg = dict(task.model_config(2), d_model=d_model, d_head=d_model // task.N_HEADS)
    ens = Ensemble([build_transformer(cfg, seed=m.seed) for m in members])
    return train(
        ens,
        sampler(members),
        ensemble_loss,
        TrainConfig(steps=steps, lr=task.LR, seed=0, log_every=log_every),
        evaluate=evaluator(members),
        name="repeated-data",
        config={
            "members": [(m.R, m.seed, m.stop_at) for m in members],
            "d_model": d_model,
            "n_rep": N_REP,
            "v": VERSION,
        },
    )


def curves(run: Run, metric: str, n_members: int) -> np.ndarray:
    """Every member's logged ``metric`` over training: (n_members, n_logs).

    Taught in: repeated_data §2.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; one of {METRICS}")
    return np.array([run.metric(f"{metric} {e}") for e in range(n_members)])


def largest_rise(curve: np.ndarray) -> float:
    """The largest amount by which ``curve`` (n,) rises above its lowest value so far.

    0 for a curve that never goes up; the double-descent shape gives a positive rise.

    Taught in: repeated_data §2.
    """
    curve = np.asarray(curve, dtype=float)
    if curve.ndim != 1 or len(curve) == 0:
        raise ValueError(f"a curve is a non-empty 1-d array, got shape {curve.shape}")
    return float((curve - np.minimum.accumulate(curve)).max())


def attention_profile(model: nn.Module, tokens: Tensor) -> dict[str, np.ndarray]:
    """Where each head attends on ``tokens`` (b, T), averaged over sequences and queries.

    ``"prev"``: the share on the previous token; ``"first"``: on position 0;
    ``"spread"``: the pattern's entropy over the entropy of uniform attention on the
    keys the query may see (1: uniform, 0: one key). Queries from position 1 on; each
    (n_layers, n_heads).

    Taught in: repeated_data §3.
    """
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n.endswith("hook_pattern"))
    n_layers = model.cfg.n_layers
    out = {k: np.zeros((n_layers, model.cfg.n_heads)) for k in ("prev", "first", "spread")}
    q = torch.arange(1, tokens.shape[1])
    for layer in range(n_layers):
        pattern = cache[f"blocks.{layer}.attn.hook_pattern"][:, :, 1:]  # (b, head, q, k)
        entropy = -(pattern * pattern.clamp_min(1e-12).log()).sum(-1)  # (b, head, q)
        out["prev"][layer] = pattern[:, :, q - 1, q - 1].mean(dim=(0, 2)).numpy()
        out["first"][layer] = pattern[..., 0].mean(dim=(0, 2)).numpy()
        out["spread"][layer] = (entropy / (q + 1).log()).mean(dim=(0, 2)).numpy()
    return out


def exercise_cases(name: str) -> list:
    """The cases the chapter's exercise is checked on.

    ``"rise"``: a curve that only falls (0), a double descent, a curve that rises from
    its first value, a rise that is undone and a larger one later, one value.

    Taught in: repeated_data §2 (the exercise).
    """
    from toylab import exercises

    Case = exercises.Case
    if name == "rise":
        return [
            Case("falls only (0)", (np.array([4.2, 4.0, 3.5, 3.3]),)),
            Case("double descent", (np.array([4.2, 4.0, 4.1, 4.3, 3.9, 3.6]),)),
            Case("rises from the start", (np.array([4.0, 4.1, 4.2]),)),
            Case("two rises, the later larger", (np.array([3.0, 3.2, 2.0, 2.5, 1.0]),)),
            Case("one value", (np.array([4.16]),)),
        ]
    raise ValueError(f"no exercise named {name!r}")
