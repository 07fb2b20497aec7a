"""Reddy's in-context classification task, shrunk to a CPU (the icl_classification chapter).

Reddy (ICLR 2024) trains a two-layer attention network to give the label of a query item, with N
item-label pairs in its context. Items of class k are ``(μ_k + ε η) / √(1 + ε²)`` around a class
mean; each of the K classes has one of L labels (``k mod L``). A sequence is *bursty* when its N
context items come from N/B classes, each B times, and the query is one of them; the network can
then answer from its context (in-context learning, ICL) or from what it memorised about the
query's class (in-weights learning, IWL). Which it learns depends on the data, and ICL, when it
comes, comes suddenly.

This module holds the chapter's data, network, measures and minimal models; the chapter
(``notebooks/icl_classification.py``) teaches them. Sizes follow the issue's shrunk setup:
63 content dimensions plus 2N + 1 one-hot position slots (no random offset), N = 8, L = 32.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from toylab import cache, heads
from toylab.ensemble import Ensemble
from toylab.train import Run, TrainConfig, train

VERSION = 2  # part of every run's cache key (2: each member's batches its own stream)
N_FRESH = 128  # fresh class means a batch's novel-class sequences are drawn from
BATCH = 128  # sequences per member and step
TESTS = ("IC", "IC2", "IW")
METRICS = ("acc", "cla", "ila1", "tila2", "tla2", "prev")


@dataclass(frozen=True)
class Task:
    """The data of one run.

    Args:
        K: classes; class k has label ``k mod L``, so K must be a multiple of L.
        L: labels. N: item-label pairs in the context. D: content dimensions.
        eps: within-class variation ε. B: burstiness (each context class appears B times).
        p_C: the share of training sequences drawn from novel classes (fresh means).

    Taught in: icl_classification §1.
    """

    K: int = 512
    L: int = 32
    N: int = 8
    D: int = 63
    eps: float = 0.1
    B: int = 1
    p_C: float = 0.5

    def __post_init__(self) -> None:
        sizes = (
            self.L >= 2 and self.N >= 2 and self.D >= 1 and self.B >= 1,
            "L, N >= 2, D, B >= 1",
        )
        if not sizes[0]:
            raise ValueError(f"bad Task: {sizes[1]} (got {self})")
        checks = [
            (self.K >= self.L, "K must be at least L"),
            (self.K % self.L == 0, "K must be a multiple of L (class k has label k mod L)"),
            (self.N % self.B == 0, "B must divide N"),
            (self.N // self.B <= self.L, "N / B context classes need as many distinct labels"),
            (N_FRESH % self.L == 0, f"L must divide {N_FRESH} (novel classes keep their label)"),
            (self.eps >= 0 and 0 <= self.p_C <= 1, "eps >= 0 and p_C in [0, 1]"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"bad Task: {message} (got {self})")

    @property
    def T(self) -> int:
        """Tokens in a sequence: N items, N labels, the query."""
        return 2 * self.N + 1

    @property
    def d(self) -> int:
        """Token width: T one-hot position slots and D content dimensions."""
        return self.T + self.D


class World(NamedTuple):
    """A seed's class means (K, D) and label vectors (L, D), each entry N(0, 1/D).

    Taught in: icl_classification §1.
    """

    means: Tensor
    labels: Tensor


class Sequences(NamedTuple):
    """S sequences: tokens (S, T, d), target label (S,), context labels (S, N), context classes
    (S, N) and the query's class (S,); a novel-class row keeps its class numbers, and its items
    come from fresh mean ``class mod 128`` instead of the class's own.

    Taught in: icl_classification §1.
    """

    tokens: Tensor
    y: Tensor
    ctx_labels: Tensor
    ctx_classes: Tensor
    query_class: Tensor


def make_world(task: Task, seed: int) -> World:
    """The class means and label vectors of ``seed``.

    Taught in: icl_classification §1.
    """
    g = torch.Generator().manual_seed(10_000 + seed)
    means = torch.randn(task.K, task.D, generator=g) / math.sqrt(task.D)
    return World(means, torch.randn(task.L, task.D, generator=g) / math.sqrt(task.D))


def sample(
    task: Task,
    world: World,
    gen: torch.Generator,
    S: int,
    *,
    bursty: bool = True,
    p_C: float | None = None,
    shift_labels: bool = False,
) -> Sequences:
    """Draw S sequences.

    Bursty: N/B classes with distinct labels, each B times, in random order; the query is one of
    them. Not bursty: N classes and the query drawn uniformly (the query's class is rarely in
    context). A share ``p_C`` (default ``task.p_C``) of the rows take their classes' means from
    128 fresh ones (novel classes, never seen before, with the same labels). ``shift_labels``:
    every label, in context and target, moves to the next one (ℓ → ℓ + 1 mod L), so that a
    known class's memorised label is wrong and only the context is right.

    Taught in: icl_classification §1.
    """
    K, L, N, D, B, T = task.K, task.L, task.N, task.D, task.B, task.T
    if world.means.shape != (K, D) or world.labels.shape != (L, D):
        raise ValueError(
            f"the world ({tuple(world.means.shape)} means, {tuple(world.labels.shape)} labels) "
            f"is not the task's ({K}, {D}) and ({L}, {D}): make it with make_world(task, seed)"
        )
    p_C = task.p_C if p_C is None else p_C
    n = N // B
    lab = torch.argsort(torch.rand(S, L, generator=gen), dim=1)[:, :n]  # (S, n) distinct labels
    cls = (torch.randint(K // L, (S, n), generator=gen) * L + lab).repeat(1, B)  # (S, N)
    cls = cls.gather(1, torch.argsort(torch.rand(S, N, generator=gen), dim=1))
    query = cls[torch.arange(S), torch.randint(N, (S,), generator=gen)]
    if not bursty:
        cls = torch.randint(K, (S, N), generator=gen)
        query = torch.randint(K, (S,), generator=gen)
    mu_ctx, mu_q = world.means[cls], world.means[query]  # (S, N, D), (S, D)
    novel = torch.rand(S, generator=gen) < p_C
    if novel.any():  # class c -> fresh mean c mod 128: the same label, since L divides 128
        fresh = torch.randn(N_FRESH, D, generator=gen) / math.sqrt(D)
        mu_ctx[novel], mu_q[novel] = fresh[cls[novel] % N_FRESH], fresh[query[novel] % N_FRESH]
    scale = 1 / math.sqrt(1 + task.eps**2)
    items = scale * (mu_ctx + task.eps * torch.randn(S, N, D, generator=gen) / math.sqrt(D))
    x_q = scale * (mu_q + task.eps * torch.randn(S, D, generator=gen) / math.sqrt(D))
    ctx_lab, y = cls % L, query % L
    if shift_labels:
        ctx_lab, y = (ctx_lab + 1) % L, (y + 1) % L
    content = torch.zeros(S, T, D)
    content[:, 0:-1:2], content[:, 1:-1:2], content[:, -1] = items, world.labels[ctx_lab], x_q
    pos = torch.eye(T).expand(S, T, T)  # (S, T, T): one-hot positions
    return Sequences(torch.cat([pos, content], -1), y, ctx_lab, cls, query)


def test_sets(task: Task, world: World, n: int = 500, seed: int = 99) -> dict[str, Sequences]:
    """The three test sets, drawn once: IC (novel classes, bursty at the task's B), IC2 (known
    classes, bursty, labels shifted: context must beat memory) and IW (known classes, iid).

    Taught in: icl_classification §1.
    """
    g = torch.Generator().manual_seed(seed)
    return {
        "IC": sample(task, world, g, n, p_C=1.0),
        "IC2": sample(task, world, g, n, p_C=0.0, shift_labels=True),
        "IW": sample(task, world, g, n, bursty=False, p_C=0.0),
    }


class Classifier(nn.Module):
    """Two causal single-head attention layers and an MLP on the query, as Reddy's network.

    Residual stream of width d; each layer has full d × d query, key and value matrices drawn
    N(0, 1/D), no LayerNorm and no 1/√d scaling; then a 3-layer ReLU MLP of ``width`` and a
    readout to the L labels, on the query token only. Layer 1 scores x_i Qᵀ K x_j as x (Qᵀ K) xᵀ
    and layer 2 runs at the query alone: the same function as three projections of every token,
    and faster. ``patterns``: a list that receives layer 1's (S, T, T) pattern and
    layer 2's query row (S, T).

    Taught in: icl_classification §1.
    """

    def __init__(self, task: Task, width: int = 128, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        d = task.d
        self.qkv = nn.Parameter(torch.randn(2, 3, d, d, generator=g) / math.sqrt(task.D))
        with torch.random.fork_rng():  # the MLP's default init, from the seed, not the global RNG
            torch.manual_seed(seed)
            self.mlp = nn.Sequential(
                nn.Linear(d, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                nn.Linear(width, width), nn.ReLU(), nn.Linear(width, task.L),
            )  # fmt: skip

    def forward(self, x: Tensor, patterns: list | None = None) -> Tensor:
        T = x.shape[-2]
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        (Q1, K1, V1), (Q2, K2, V2) = self.qkv
        scores = (x @ (Q1.T @ K1)) @ x.transpose(-1, -2)  # (S, T, T): query i, key j
        a1 = scores.masked_fill(~causal, float("-inf")).softmax(-1)
        x = x + (a1 @ x) @ V1.T
        last = x[..., -1, :]  # (S, d): the query token
        a2 = (x @ ((last @ Q2.T) @ K2).unsqueeze(-1)).squeeze(-1).softmax(-1)  # (S, T)
        if patterns is not None:
            patterns += [a1, a2]
        return self.mlp(last + (a2.unsqueeze(-2) @ x).squeeze(-2) @ V2.T)  # (S, L)


# --- measures ------------------------------------------------------------------------------


def context_label_accuracy(pred: Tensor, ctx_labels: Tensor) -> float:
    """CLA: the share of answers ``pred`` (S,) that are one of the row's context labels (S, N).

    Taught in: icl_classification §2 (exercise 1).
    """
    if pred.ndim != 1 or ctx_labels.ndim != 2 or len(pred) != len(ctx_labels):
        raise ValueError(
            f"expected pred (S,) and ctx_labels (S, N), got {tuple(pred.shape)} and "
            f"{tuple(ctx_labels.shape)}"
        )
    return (pred[:, None] == ctx_labels).any(1).float().mean().item()


def label_item_attention(pattern: Tensor) -> float:
    """ILA1: mean attention of each label token to its own item, from layer 1's (S, T, T) pattern.

    Items sit at even positions 0, 2, ..., labels at the odd ones after them.

    Taught in: icl_classification §2 (exercise 2).
    """
    if pattern.ndim != 3 or pattern.shape[-1] != pattern.shape[-2] or pattern.shape[-1] % 2 == 0:
        raise ValueError(f"expected a (S, T, T) pattern with T odd, got {tuple(pattern.shape)}")
    j = torch.arange(pattern.shape[-1] // 2)
    return pattern[:, 2 * j + 1, 2 * j].mean().item()


def uniform_label_item_attention(N: int) -> float:
    """ILA1 of a layer that attends uniformly: label j (position 2j + 1) sees 2j + 2 tokens.

    Taught in: icl_classification §2.
    """
    return float(np.mean([1 / (2 * j + 2) for j in range(N)]))


def measures(net: nn.Module, seqs: Sequences) -> dict[str, float]:
    """Accuracy, CLA, ILA1, TILA2 (layer 2's attention from the query to the labels of the
    query's class), TLA2 (its attention to all labels) and the induction chapter's
    previous-token score of layer 1, on ``seqs``.

    Taught in: icl_classification §2.
    """
    pats: list = []
    with torch.no_grad():
        pred = net(seqs.tokens, pats).argmax(-1)
    a1, a2 = pats
    j = torch.arange(seqs.ctx_classes.shape[1])
    match = seqs.ctx_classes == seqs.query_class[:, None]  # (S, N)
    return dict(
        acc=(pred == seqs.y).float().mean().item(),
        cla=context_label_accuracy(pred, seqs.ctx_labels),
        ila1=label_item_attention(a1),
        tila2=(a2[:, 2 * j + 1] * match).sum(1).mean().item(),
        tla2=a2[:, 2 * j + 1].sum(1).mean().item(),
        prev=heads.previous_token_scores(a1[:, None]).item(),
    )


def oracle_accuracy(task: Task, world: World, seqs: Sequences, rule: str) -> float:
    """The accuracy of a rule that needs no training, on ``seqs`` drawn in ``world``.

    ``"chance"``: a uniform label (1/L). ``"context label"``: a context label drawn uniformly,
    the slow phase's answer (B/N on bursty rows). ``"copy"``: perfect ICL, the label of the
    context item nearest the query (by dot product). ``"memory"``: perfect IWL, the memorised
    label (``k mod L``) of the known class whose mean is nearest the query: right on known
    classes, chance on novel ones, wrong where labels are shifted.

    Taught in: icl_classification §1.
    """
    S = seqs.y.shape[0]
    if rule == "chance":
        return 1 / task.L
    if rule == "context label":
        return (seqs.ctx_labels == seqs.y[:, None]).float().mean().item()
    if rule == "copy":
        content = seqs.tokens[..., task.T :]
        items, query = content[:, 0:-1:2], content[:, -1]
        nearest = (items @ query[:, :, None]).squeeze(-1).argmax(1)
        return (seqs.ctx_labels[torch.arange(S), nearest] == seqs.y).float().mean().item()
    if rule == "memory":
        query = seqs.tokens[:, -1, task.T :]  # (S, D)
        nearest = (query @ world.means.T).argmax(1)  # (S,): the nearest known class
        return (nearest % task.L == seqs.y).float().mean().item()
    raise ValueError(f"unknown rule {rule!r}: one of chance, context label, copy, memory")


# --- training -------------------------------------------------------------------------------


class Member(NamedTuple):
    """One network of a sweep: its task and its seed (world and initial weights).

    Taught in: icl_classification §2.
    """

    task: Task
    seed: int


def sampler(members: Sequence[Member], batch: int = BATCH) -> Callable:
    """``sample(gen) -> (tokens (E, batch, T, d), y (E, batch))``: each member's batch in its world.

    Each step draws one number from ``gen``; a member's batch comes from a generator seeded by
    that number and the member itself (its task and seed), so a member sees the same batches
    whichever other members share its sweep, and in whatever order.

    Taught in: icl_classification §2.
    """
    worlds = [make_world(m.task, m.seed) for m in members]
    keys = [int(cache.config_hash([asdict(m.task), m.seed])[:15], 16) for m in members]

    def draw(gen: torch.Generator) -> tuple[Tensor, Tensor]:
        step = int(torch.randint(1 << 60, (1,), generator=gen))
        rows = [
            sample(m.task, w, torch.Generator().manual_seed(step ^ k), batch)[:2]
            for m, w, k in zip(members, worlds, keys)
        ]
        return torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows])

    return draw


def ensemble_loss(ens: Ensemble, tokens: Tensor, y: Tensor) -> Tensor:
    """The sum of the members' mean cross-entropies, so that each member's gradient is its own.

    Taught in: icl_classification §2.
    """
    logits = ens.each(tokens)  # (E, S, L)
    return F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum") / y.shape[1]


def train_sweep(members: Sequence[Member], steps: int, log_every: int = 50, seed: int = 0) -> Run:
    """Train the members as one Ensemble with Adam (lr 1e-3, :data:`BATCH`), or load the run.

    Every ``log_every`` steps each member's :data:`METRICS` on each of its :func:`test_sets`
    are logged as ``"{test} {metric} {i}"``. ``seed`` draws the batches' randomness.

    Taught in: icl_classification §2 and §3.
    """
    members = list(members)
    if not members or len({(m.task.d, m.task.L) for m in members}) != 1:
        raise ValueError("a sweep needs at least one member, all with the same token width and L")
    tests = [test_sets(m.task, make_world(m.task, m.seed)) for m in members]

    def evaluate(ens: Ensemble) -> dict[str, float]:
        out = {}
        for e, sets in enumerate(tests):
            net = ens.member(e).cpu()  # the test sets stay on the CPU
            for name, seqs in sets.items():
                out |= {f"{name} {k} {e}": v for k, v in measures(net, seqs).items()}
        return out

    ens = Ensemble([Classifier(m.task, seed=m.seed) for m in members])
    return train(
        ens,
        sampler(members),
        ensemble_loss,
        TrainConfig(steps=steps, lr=1e-3, seed=seed, log_every=log_every),
        evaluate=evaluate,
        name="icl-classification",
        config={"members": [(asdict(m.task), m.seed) for m in members], "v": VERSION},
    )


def curve(run: Run, test: str, metric: str, member: int) -> np.ndarray:
    """One member's logged ``metric`` on ``test`` over training.

    Taught in: icl_classification §2.
    """
    if test not in TESTS or metric not in METRICS:
        raise ValueError(f"unknown {test!r} / {metric!r}: tests {TESTS}, metrics {METRICS}")
    return np.array(run.metric(f"{test} {metric} {member}"))


def first_step(steps: np.ndarray, values: np.ndarray, level: float) -> float:
    """The first logged step at which ``values`` reaches ``level``; NaN if it never does.

    Taught in: icl_classification §2.
    """
    hit = np.flatnonzero(np.asarray(values) >= level)
    return float(steps[hit[0]]) if hit.size else math.nan


# --- the minimal models (section 4) ----------------------------------------------------------


def nested_logits_loss(xi: Tensor, alpha: Tensor, beta1: Tensor, L: int, N: int) -> Tensor:
    """Our three nested logits: the loss of a minimal induction head on ideal data.

    Items and labels orthonormal, B = 1. Layer 1 adds a share σ(β1) of each item to its label's
    token; layer 2 attends from the query to the N labels with logit α (query · token), so the
    right label gets w = e^{ασ(β1)} / (e^{ασ(β1)} + N − 1); the readout gives the right label the
    logit ξw, the N − 1 other context labels ξ(1 − w)/(N − 1) each, the L − N absent labels 0.
    Returns the cross-entropy of the right label. This is our reconstruction, not Reddy's Eq.
    Needs L >= N >= 2.

    Taught in: icl_classification §4 (exercise 3).
    """
    if not L >= N >= 2:
        raise ValueError(f"the nested logits need L >= N >= 2, got L = {L}, N = {N}")
    w = torch.exp(alpha * torch.sigmoid(beta1))
    w = w / (w + N - 1)
    right, other = xi * w, xi * (1 - w) / (N - 1)
    return -(right - torch.log(torch.exp(right) + (N - 1) * torch.exp(other) + (L - N)))


def nested_flow(
    L: int, N: int = 8, lr: float = 0.05, steps: int = 3000, init: float = 0.0
) -> np.ndarray:
    """Gradient descent on :func:`nested_logits_loss` from (ξ, α, β1) = (init, init, init).

    Returns (steps + 1, 5): ξ, α, β1, the loss and the right label's probability at every step.

    Taught in: icl_classification §4.
    """
    p = torch.full((3,), float(init), dtype=torch.float64, requires_grad=True)
    rows = []
    for _ in range(steps + 1):
        loss = nested_logits_loss(*p, L, N)
        rows.append([*p.tolist(), loss.item(), math.exp(-loss.item())])
        (g,) = torch.autograd.grad(loss, p)
        with torch.no_grad():
            p -= lr * g
    return np.array(rows)


class MinimalHead(nn.Module):
    """The three nested logits as a network on real sequences (our construction).

    Layer 1: each label token gets σ(β1) times its item. Layer 2: the query attends to the N
    label tokens with scores α · (query · token). Readout: ξ times the attended tokens' content,
    dotted with the L label vectors. Three parameters, all starting at ``init``.

    Taught in: icl_classification §4.
    """

    def __init__(self, task: Task, labels: Tensor, init: float = 0.0):
        super().__init__()
        if task.B != 1 or labels.shape != (task.L, task.D):
            raise ValueError(
                f"the minimal head is for B = 1 and labels (L, D) = ({task.L}, {task.D}); "
                f"got B = {task.B} and labels {tuple(labels.shape)}"
            )
        self.T, self.labels = task.T, labels
        self.p = nn.Parameter(torch.full((3,), float(init)))  # ξ, α, β1

    def forward(self, x: Tensor) -> Tensor:
        xi, alpha, beta1 = self.p
        content = x[..., self.T :]
        items, labs, query = content[:, 0:-1:2], content[:, 1:-1:2], content[:, -1]
        tokens = labs + torch.sigmoid(beta1) * items  # (S, N, D)
        attn = (alpha * (tokens @ query[:, :, None]).squeeze(-1)).softmax(-1)  # (S, N)
        read = (attn[:, None] @ tokens).squeeze(1)  # (S, D)
        return xi * read @ self.labels.T  # (S, L)


def train_minimal(
    task: Task, seed: int, steps: int = 400, lr: float = 0.5, batch: int = 512, init: float = 0.0
) -> np.ndarray:
    """Full-batch-like gradient descent on :class:`MinimalHead` with fresh batches each step.

    Returns (steps + 1, 5): ξ, α, β1, the batch loss and the batch accuracy at every step. Plain
    gradient descent, not Adam: Adam would blow the noise of a stationary point up to steps of
    size lr.

    Taught in: icl_classification §4.
    """
    world = make_world(task, seed)
    net = MinimalHead(task, world.labels, init)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for step in range(steps + 1):
        seqs = sample(task, world, gen, batch)
        logits = net(seqs.tokens)
        loss = F.cross_entropy(logits, seqs.y)
        acc = (logits.argmax(-1) == seqs.y).float().mean().item()
        rows.append([*net.p.detach().tolist(), loss.item(), acc])
        if step == steps:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    return np.array(rows)


def exercise_cases(name: str) -> list:
    """The cases the chapter's exercises are checked on.

    ``"cla"``: all answers in context, none, a half, repeated labels. ``"ila1"``: uniform
    attention, attention all on the item, on the label itself, a random pattern. ``"nested"``:
    the origin (L = N and L > N), a point with every logit nonzero, a negative α, large ξ.

    Taught in: icl_classification §2 and §4 (exercises 1, 2 and 3).
    """
    from toylab import exercises

    Case = exercises.Case
    if name == "cla":
        ctx = torch.tensor([[0, 1, 2], [3, 4, 5], [6, 6, 7], [1, 2, 3]])
        return [
            Case("every answer in context", (torch.tensor([0, 5, 7, 3]), ctx)),
            Case("no answer in context", (torch.tensor([9, 9, 9, 9]), ctx)),
            Case("half", (torch.tensor([2, 0, 6, 0]), ctx)),
            Case("one row", (torch.tensor([4]), ctx[1:2])),
        ]
    if name == "ila1":
        T = 7
        uniform = torch.tril(torch.ones(T, T))
        uniform = (uniform / uniform.sum(-1, keepdim=True))[None]
        to_item = torch.zeros(1, T, T)
        to_item[0, torch.arange(T), (torch.arange(T) - 1).clamp_min(0)] = 1.0
        to_self = torch.eye(T)[None]
        g = torch.Generator().manual_seed(0)
        scores = torch.randn(2, T, T, generator=g).masked_fill(
            ~torch.tril(torch.ones(T, T, dtype=torch.bool)), float("-inf")
        )
        return [
            Case("uniform attention", (uniform,)),
            Case("all on the previous token", (to_item,)),
            Case("all on itself", (to_self,)),
            Case("a random causal pattern, batch of 2", (scores.softmax(-1),)),
        ]
    if name == "nested":
        t = torch.tensor
        return [
            Case("the origin, L = N", (t(0.0), t(0.0), t(0.0), 8, 8)),
            Case("the origin, L > N", (t(0.0), t(0.0), t(0.0), 32, 8)),
            Case("every logit nonzero", (t(1.5), t(2.0), t(0.3), 32, 8)),
            Case("negative alpha", (t(2.0), t(-1.0), t(1.0), 16, 4)),
            Case("large xi", (t(12.0), t(6.0), t(3.0), 32, 8)),
        ]
    raise ValueError(f"no exercise {name!r}: one of cla, ila1, nested")
