"""Repeated data on the induction task: a small pool of sequences, seen again and again.

Hernandez et al. (2022) trained language models on data that was mostly unique with a small
part repeated many times, and found that the repetition damages induction heads. The
repeated-data chapter (``notebooks/repeated_data.py``) builds a toy version on the induction
task of :mod:`toylab.induction_task`, and this module holds its machinery.

Every training batch holds 40 sequences: ``N_FRESH`` fresh induction sequences
and ``N_BIGRAM`` fresh chains of a fixed bigram table (a structure that is learnt without
looking back: :data:`BIGRAM`), the same for every member of a sweep, and ``N_REP`` rows of
the member's own, which are

- drawn from its fixed **pool** of R sequences (R > 0), repeated across steps: R induction
  sequences (``kind="induction"``, a slice of the training distribution repeated, which can
  be memorised or solved by induction) or R random sequences (``kind="random"``, which can
  only be memorised); or
- fresh sequences (R = 0): induction sequences for the **fair control** (the same share of the
  same kind of data, never repeated), random ones for the **noise control** (``kind="random"``:
  rows with nothing to learn, so the batch holds as few useful rows as with a memorised pool).

A member may also stop the repetition at a step (``Member.stop_at``): from then on its own
rows are fresh sequences of its pool's kind. One :class:`toylab.ensemble.Ensemble` trains the
members of one seed at once, on that seed's stream of batches; every metric is logged per
member, under ``"{metric} {i}"``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from toylab import induction_task as task
from toylab.ensemble import Ensemble
from toylab.hooks import with_hooks
from toylab.models import build_transformer
from toylab.train import Run, TrainConfig, train

T, V = task.N_CTX, task.N_VOCAB
N_FRESH, N_BIGRAM, N_REP = 24, 8, 8  # a batch's 40 rows: shared induction, shared bigram, own
VERSION = 2  # part of every run's cache key
KINDS = ("induction", "random")
METRICS = ("test", "induction", "bigram", "pool", "icl", "copy", "prev", "prefix")
BIGRAM_K = 16  # successors per token in the bigram table


def bigram_table(k: int = BIGRAM_K, seed: int = 12345) -> Tensor:
    """A random bigram table (V, V): each token has ``k`` possible successors, weights Dirichlet(1).

    Dirichlet(1) weights are independent exponential draws, normalised.

    Taught in: repeated_data §1.
    """
    if not 1 <= k <= V:
        raise ValueError(f"k must lie in [1, {V}], got {k}")
    gen = torch.Generator().manual_seed(seed)
    succ = torch.rand(V, V, generator=gen).argsort(-1)[:, :k]  # (V, k): k distinct successors
    weights = -torch.rand(V, k, generator=gen).clamp_min(1e-12).log()  # Exp(1)
    table = torch.zeros(V, V)
    return table.scatter_(1, succ, weights / weights.sum(-1, keepdim=True))


BIGRAM = bigram_table()
# the best possible loss on a chain: the mean entropy of a token's successors (nats)
BIGRAM_ENTROPY = float(-(BIGRAM * BIGRAM.clamp_min(1e-30).log()).sum(-1).mean())


def bigram_chains(n: int, generator: torch.Generator | None = None) -> Tensor:
    """``n`` chains of :data:`BIGRAM`, (n, T): a uniform first token, then each from its row.

    Taught in: repeated_data §1.
    """
    tokens = torch.empty(n, T, dtype=torch.long)
    tokens[:, 0] = torch.randint(V, (n,), generator=generator)
    for t in range(1, T):
        tokens[:, t] = torch.multinomial(BIGRAM[tokens[:, t - 1]], 1, generator=generator)[:, 0]
    return tokens


# (256, T), (256, T - 1): fresh induction sequences, and where their next token is predictable
TEST_TOKENS, TEST_PREDICTABLE = task.repeated_subsequence_tokens(
    256, T, V, generator=torch.Generator().manual_seed(7)
)
BIGRAM_TOKENS = bigram_chains(256, torch.Generator().manual_seed(8))  # (256, T)


@dataclass(frozen=True)
class Member:
    """One model of a sweep: its pool size ``R`` (0: the fair control), ``seed`` and pool ``kind``.

    The seed draws the model's initial weights, the pool and (through the sweep) the
    stream of batches. ``kind``: ``"induction"`` or ``"random"`` sequences, in the pool
    or, for R = 0, fresh at every step (the fair control and the noise control).
    ``stop_at``: from this step on, the pool rows are replaced by fresh rows of the same
    kind (``None``: never).

    Taught in: repeated_data §1.
    """

    R: int
    seed: int
    kind: str = "induction"
    stop_at: int | None = None

    def __post_init__(self):
        if self.R < 0:
            raise ValueError(f"a pool holds R >= 0 sequences, got {self.R}")
        if self.kind not in KINDS:
            raise ValueError(f"kind is one of {KINDS}, got {self.kind!r}")
        if self.stop_at is not None and (self.R == 0 or self.stop_at < 0):
            raise ValueError("stop_at needs a pool (R > 0) and a step >= 0")

    @property
    def label(self) -> str:
        if self.R == 0:
            return "control" if self.kind == "induction" else "noise control"
        name = f"R={self.R}" + (" random" if self.kind == "random" else "")
        return name + (f", stop {self.stop_at}" if self.stop_at is not None else "")


def make_pool(member: Member) -> Tensor | None:
    """The member's pool (R, T): R induction or random sequences, or ``None`` for the control.

    Taught in: repeated_data §1.
    """
    if member.R == 0:
        return None
    gen = torch.Generator().manual_seed(
        1_000_003 * member.seed + 2 * member.R + (member.kind == "random")
    )
    if member.kind == "random":
        return torch.randint(V, (member.R, T), generator=gen)
    return task.repeated_subsequence_tokens(member.R, T, V, generator=gen)[0]


def sampler(members: Sequence[Member]) -> Callable[[torch.Generator, int], tuple[Tensor]]:
    """``sample(gen, step)``: every member's batch, (E, N_FRESH + N_BIGRAM + N_REP, T).

    The first ``N_FRESH`` rows are fresh induction sequences and the next ``N_BIGRAM``
    fresh bigram chains, shared by every member; the last ``N_REP`` are the member's
    own: rows of its pool, or fresh rows (induction for the control; the pool's kind for
    a member past its ``stop_at``). Every draw is made for every member, so the random
    stream does not depend on which members a sweep holds; a sweep of another size
    draws other rows after its first step.

    Taught in: repeated_data §1.
    """
    pools = [make_pool(m) for m in members]
    E = len(members)

    def sample(gen: torch.Generator, step: int) -> tuple[Tensor]:
        fresh, _ = task.repeated_subsequence_tokens(N_FRESH, T, V, generator=gen)
        chains = bigram_chains(N_BIGRAM, gen)
        new = {
            "induction": task.repeated_subsequence_tokens(E * N_REP, T, V, generator=gen)[0],
            "random": torch.randint(V, (E * N_REP, T), generator=gen),
        }
        new = {k: v.view(E, N_REP, T) for k, v in new.items()}
        picks = torch.randint(1 << 30, (E, N_REP), generator=gen)
        own = [
            new[m.kind][e]
            if pool is None or (m.stop_at is not None and step >= m.stop_at)
            else pool[picks[e] % len(pool)]
            for e, (m, pool) in enumerate(zip(members, pools))
        ]
        shared = torch.cat([fresh, chains])  # (N_FRESH + N_BIGRAM, T)
        return (torch.cat([shared.expand(E, -1, -1), torch.stack(own)], dim=1),)

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


def best_head_scores(model: nn.Module, fwd_hooks: Sequence = ()) -> dict[str, float]:
    """The ICL score, copy accuracy, best previous-token score in layer 0 and best prefix score in layer 1.

    The induction chapter's scores (:func:`toylab.induction_task.scores`, with
    ``fwd_hooks``) on its test sequences; an untrained model gives about 0.1 for both
    head scores. Returns ``{"icl", "copy", "prev", "prefix"}``.

    Taught in: repeated_data §2 and §4.
    """
    sc = task.scores(model, fwd_hooks)
    prev = max(v for k, v in sc.items() if k.startswith("prev L0"))
    prefix = max(v for k, v in sc.items() if k.startswith("prefix L1"))
    return {"icl": sc["icl"], "copy": sc["copy"], "prev": prev, "prefix": prefix}


def evaluator(
    members: Sequence[Member], fwd_hooks: Sequence = ()
) -> Callable[[Ensemble], dict[str, float]]:
    """``evaluate(ens)``: every member's :data:`METRICS`, under ``"{metric} {i}"``.

    ``test``: loss on fresh induction sequences (start ln 64 = 4.16); ``induction``:
    the same on the positions an induction head can predict; ``bigram``: loss on fresh
    bigram chains (best possible :data:`BIGRAM_ENTROPY`); ``pool``: loss on the member's
    own pool (on held-out induction sequences for R = 0); ``icl``, ``copy``,
    ``prev``, ``prefix``: :func:`best_head_scores`. With ``fwd_hooks`` on every model.

    Taught in: repeated_data §2.
    """
    E = len(members)
    pools = [make_pool(m) for m in members]
    own_rows = torch.stack(
        [TEST_TOKENS[:64] if p is None else p[torch.arange(64) % len(p)] for p in pools]
    )  # (E, 64, T)

    def evaluate(ens: Ensemble) -> dict[str, float]:
        device = next(ens.parameters()).device
        with ens.hooks(fwd_hooks):
            test = member_nll(ens, TEST_TOKENS.to(device).expand(E, -1, -1))  # (E, 256, T - 1)
            bigram = member_nll(ens, BIGRAM_TOKENS.to(device).expand(E, -1, -1))
            pool = member_nll(ens, own_rows.to(device))  # (E, 64, T - 1)
        out = {}
        for e in range(E):
            heads = best_head_scores(ens.member(e), fwd_hooks)
            out |= {f"{k} {e}": v for k, v in heads.items()}
            out |= {
                f"test {e}": test[e].mean().item(),
                f"induction {e}": test[e][TEST_PREDICTABLE.to(device)].mean().item(),
                f"bigram {e}": bigram[e].mean().item(),
                f"pool {e}": pool[e].mean().item(),
            }
        return out

    return evaluate


def train_sweep(
    members: Sequence[Member],
    steps: int = task.STEPS,
    d_model: int = task.D_MODEL,
    log_every: int = 50,
    fwd_hooks: Sequence = (),
) -> Run:
    """Train the members of one seed as one Ensemble, each on its mixture, or load the run.

    The induction chapter's 2-layer attention-only model (``d_model`` may be widened, with
    4 heads of ``d_model // 4``), Adam at its learning rate, on the batches of the
    members' seed (every seed its own stream), scored every ``log_every`` steps by
    :func:`evaluator`. ``fwd_hooks`` (for instance a clamp, ``hooks.clamp_pattern``)
    act on every member, in training and in scoring.

    Taught in: repeated_data §2; the clamp in §5.
    """
    members = list(members)
    if not members:
        raise ValueError("a sweep needs at least one member")
    if len({m.seed for m in members}) != 1:
        raise ValueError("a sweep trains the members of one seed (one stream of batches)")
    cfg = dict(task.model_config(2), d_model=d_model, d_head=d_model // task.N_HEADS)
    ens = Ensemble([build_transformer(cfg, seed=m.seed) for m in members])
    fwd_hooks = list(fwd_hooks)
    return train(
        ens,
        sampler(members),
        with_hooks(ensemble_loss, fwd_hooks),
        TrainConfig(steps=steps, lr=task.LR, seed=members[0].seed, log_every=log_every),
        evaluate=evaluator(members, fwd_hooks),
        name="repeated-data",
        config={
            "members": [(m.R, m.seed, m.kind, m.stop_at) for m in members],
            "d_model": d_model,
            "rows": (N_FRESH, N_BIGRAM, N_REP),
            "bigram_k": BIGRAM_K,
            "hooks": [h[0] for h in fwd_hooks],
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

    0 for a curve that never goes up; a curve that climbs again gives a positive rise.

    Taught in: repeated_data §2.
    """
    curve = np.asarray(curve, dtype=float)
    if curve.ndim != 1 or len(curve) == 0:
        raise ValueError(f"a curve is a non-empty 1-d array, got shape {curve.shape}")
    return float((curve - np.minimum.accumulate(curve)).max())


def bag_icl(tokens: Tensor, period: int, d_vocab: int, offset: int = 0) -> float:
    """The ICL score of the bag-of-tokens null alone (:func:`toylab.induction_task.bag_of_tokens_null`).

    Taught in: repeated_data §2 (exercise 1).
    """
    return task.bag_of_tokens_null(tokens, period, d_vocab, offset)["icl"]


def relative_damage(loss: float, control: float, start: float) -> float:
    """How much of what the control learnt a model has lost: (loss − control) / (start − control).

    0: as good as the control; 1: no better than at the start (``start``, the untrained
    loss); below 0: better than the control. Comparing it across structures (induction,
    bigrams) says whether a damage is general or aimed at one of them.

    Taught in: repeated_data §3 (exercise 3).
    """
    if start == control:
        raise ValueError("the control learnt nothing (start == control): no damage to measure")
    return (loss - control) / (start - control)


def exercise_cases(name: str) -> list:
    """The cases the chapter's exercises are checked on.

    ``"rise"``: a curve that only falls (0), a rise and a second descent, a curve that
    rises from its first value, a rise that is undone and a larger one later, one value.
    ``"damage"``: :func:`relative_damage` at 0, 1, a half and below 0. ``"bag"``: the
    bag-of-tokens null (:func:`toylab.induction_task.bag_of_tokens_null`) on hand-built
    blocks and on the test sequences.

    Taught in: repeated_data §2, §3 and §2 (exercises 2, 3 and 1).
    """
    from toylab import exercises

    Case = exercises.Case
    if name == "damage":
        return [
            Case("as good as the control (0)", (0.8, 0.8, 4.16)),
            Case("back at the start (1)", (4.16, 0.8, 4.16)),
            Case("half lost", (2.48, 0.8, 4.16)),
            Case("better than the control (< 0)", (3.2, 3.4, 4.16)),
        ]
    if name == "bag":
        copies = torch.tensor([[0, 1, 2, 0, 1, 2], [3, 3, 3, 3, 3, 3]])  # a block of 3, twice
        return [
            Case("two sequences, block of 3", (copies, 3, 64)),
            Case("offset 1", (torch.tensor([[5, 0, 1, 0, 1, 0]]), 2, 8, 1)),
            Case("test sequences", (task.TEST_TOKENS[:8], task.PERIOD, V)),
        ]
    if name == "rise":
        return [
            Case("falls only (0)", (np.array([4.2, 4.0, 3.5, 3.3]),)),
            Case("double descent", (np.array([4.2, 4.0, 4.1, 4.3, 3.9, 3.6]),)),
            Case("rises from the start", (np.array([4.0, 4.1, 4.2]),)),
            Case("two rises, the later larger", (np.array([3.0, 3.2, 2.0, 2.5, 1.0]),)),
            Case("one value", (np.array([4.16]),)),
        ]
    raise ValueError(f"no exercise named {name!r}")
