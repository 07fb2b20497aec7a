"""Issue 19's feasibility map: does a laptop-sized transformer learn in-context algebra?

Todd et al. (2025, "In-Context Algebra") train on sequences of facts ``a b = c ,`` from a finite
group whose elements get a fresh random map to 16 symbols in every sequence. Their model
(4 layers x 8 heads, d_model 1024, 200k steps on a GPU) learns closure, then copying, then
identity and cancellation, in phase changes. This script asks which of these appear within a
few minutes of 2-core CPU training, and prints one row per configuration:

- ``group`` rows train on the paper's task (cyclic C_n and dihedral D_n, one group per sequence)
  and report the accuracy at the answers on queries that are *verbatim copyable* (the fact
  appeared earlier), *commutatively copyable* only (``b a = c`` appeared), and *novel*. Two
  nulls, on the same queries: closure alone ("a symbol of this sequence's group", 1/|G|) and
  "pick one of the answers seen so far in this sequence".
- ``random`` rows take the algebra away: ``n_distinct`` random facts, each repeated at random.
  Only copying beats the null "pick one of the answers seen so far" (reported on the repeated
  queries). By default the left operands are distinct, so ``a`` alone identifies a fact: a
  one-token match, as in the induction chapter, but read two tokens before the answer. The
  ``adjacent`` rows write facts as ``b = a c ,``: the operand sits right before the answer, which
  is exactly the induction chapter's task; ``unique_a=False`` needs both operands to match.

Measured on the 2-core CPU, seed 0, 2 attention-only layers, d_model 64, 4 heads, RoPE, batch
32, AdamW lr 1e-3 with 100 warm-up steps, loss on every token, unless the row says otherwise.
Accuracy at the end of training, then the nulls (closure / seen answers):

| row | what changes | steps | verbatim | comm. only | novel |
|---|---|---|---|---|---|
| base | group C3-C6, 24 facts | 1500 | 0.29 (0.26 / 0.29) | 0.23 (0.23 / 0.27) | 0.19 (0.22 / 0.15) |
| c3 | C3 only | 1500 | 0.35 (0.33 / 0.36) | 0.32 (0.33 / 0.39) | 0.30 (0.33 / 0.20) |
| lr3 | lr 3e-3 (nulls as base) | 1500 | 0.30 | 0.26 | 0.19 |
| mlp3 | 3 layers, MLPs, LayerNorm (nulls as base) | 1500 | 0.28 | 0.24 | 0.21 |
| ans | loss on the answers only (nulls as base) | 1500 | 0.29 | 0.24 | 0.19 |
| groups_long | C3-C5, 16 facts, lr 3e-3 | 6000 | 0.28 (0.28 / 0.33) | 0.28 (0.26 / 0.32) | 0.25 (0.25 / 0.16) |
| group_mix | C3-C5, 12 facts, lr 3e-3, half of each batch random facts (their copying: 0.37) | 6000 | 0.38 (0.28 / 0.36) | 0.32 (0.27 / 0.36) | 0.19 (0.25 / 0.16) |
| rand_then_group | as group_mix, but rand_lr3's data for 3000 steps first (random-fact copying 0.61 at step 3000, 0.16 at 3500) | 6000 | 0.34 (0.28 / 0.36) | 0.27 (0.27 / 0.36) | 0.24 (0.25 / 0.16) |

| row | what changes | steps | copy on repeated facts (null 0.37) |
|---|---|---|---|
| rand | random facts, 4 in 12 | 5000 | 0.39 |
| rand_abs | learned positions, not RoPE | 5000 | 0.38 |
| rand_cur | 500 steps of repeated random sequences first | 3000 | 0.41 |
| rand_wide | d_model 128, 8 heads | 3000 | 0.39 |
| rand_3l | 3 layers | 3000 | 0.41 |
| rand_adj | adjacent layout | 1500 | 0.40 |
| rand_lr3 | lr 3e-3 | 6000 | 0.64: 0.40 at step 2500, 0.60 at 3000 (seed 1: 0.45, from 0.41 at 3500 to 0.45 at 4000) |
| rand_adj_lr3 | adjacent, lr 3e-3 | 3000 | 0.71, still rising (0.39 at 1500, 0.61 at 2500) |
| rand2_lr3 | distinct (a, b) pairs, a may recur (a third of the sequences share one), lr 3e-3 | 6000 | 0.39 |
| rand_clamp23 | layer-0 heads clamped to offsets 2 and 3 (no warm-up) | 1500 | 0.86 (0.41 at 500, 0.78 at 1000) |
| rand_clamp2 | only offset 2 clamped (the query side) | 1500 | 0.37 |
| rand_clamp3 | only offset 3 clamped (the key side) | 1500 | 0.39 |
| rand2_clamp | rand2_lr3 with offsets 1, 2, 3 clamped | 3000 | 1.00 (0.92 at step 500) |

Clamped group rows (layer-0 heads at offsets 1, 2, 3; no warm-up): ``groups_clamp`` (as
groups_long, 2000 steps) ends at 0.32 / 0.30 / 0.22 and ``group_mix_clamp`` (as group_mix, 3000
steps) at 0.31 / 0.26 / 0.22 (verbatim / comm. only / novel): at their nulls, as without the clamp.

What it says: on the group task the model learns closure and "answer with an answer seen in
this sequence" within 500 steps, and nothing more in any row: no accuracy is more than 0.02
above the larger of its two nulls. Copying appears only on random facts whose left operand alone identifies the fact,
and only at lr 3e-3, after 2,500 steps and partially; it does not appear when both operands
must match (which is what a group needs: each row of a Cayley table is a permutation, so facts
sharing one operand all have different answers), and the copying built on random facts is
dropped within 500 steps of group data. Handing the model its layer-0 offset heads (the
clamped rows) makes copying of random facts form fast, but only when both the query side
(offset 2) and the key side (offset 3) are given, and it still does not make group facts copyable.

    python benchmarks/algebra_feasibility.py --row base          # one row (1-5 minutes)
    python benchmarks/algebra_feasibility.py --row rand_lr3 --seed 1
    python benchmarks/algebra_feasibility.py --all               # every row (about an hour)

Not part of the test suite: it trains for minutes. ``tests/unit/test_algebra_feasibility.py``
checks the task generators (group axioms, the copyable / commutative / novel split, the nulls).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from toylab.models import build_transformer  # noqa: E402

N_SYMBOLS = 16  # the paper's 16 variable symbols
EQ, COMMA, BOS = N_SYMBOLS, N_SYMBOLS + 1, N_SYMBOLS + 2
VOCAB = N_SYMBOLS + 3
FACT = 5  # tokens per fact: a b = c ,


def cyclic(n: int) -> Tensor:
    """Cayley table of C_n: element i is r^i, (i, j) -> i + j mod n.  (n, n)"""
    i = torch.arange(n)
    return (i[:, None] + i[None, :]) % n


def dihedral(m: int) -> Tensor:
    """Cayley table of D_m (order 2m): element k + m·s is r^k s^s; r^k s^a · r^l s^b = r^(k ± l) s^(a+b)."""
    k, s = torch.arange(2 * m) % m, torch.arange(2 * m) // m
    sign = 1 - 2 * s[:, None]  # s^a r^l = r^(-l) s^a
    return (k[:, None] + sign * k[None, :]) % m + m * ((s[:, None] + s[None, :]) % 2)


def tables(spec: str) -> list[Tensor]:
    """``"C3,C4,D6"`` -> Cayley tables (D_n is named by its order, as C_n is)."""
    out = []
    for name in spec.split(","):
        kind, n = name[0], int(name[1:])
        if kind not in "CD" or n < 2 or n > N_SYMBOLS or (kind == "D" and n % 2):
            raise ValueError(f"unknown group {name!r}: use C<n> or D<even n>, order <= {N_SYMBOLS}")
        out.append(cyclic(n) if kind == "C" else dihedral(n // 2))
    return out


def facts_to_tokens(a: Tensor, b: Tensor, c: Tensor, adjacent: bool = False) -> Tensor:
    """Facts (B, k) -> tokens (B, 1 + 5k): BOS, then ``a b = c ,`` (or ``b = a c ,``) per fact."""
    eq, comma = torch.full_like(a, EQ), torch.full_like(a, COMMA)
    parts = (b, eq, a, c, comma) if adjacent else (a, b, eq, c, comma)
    toks = torch.stack(parts, -1).flatten(1)
    return torch.cat([torch.full((len(a), 1), BOS), toks], 1)


def answer_positions(k: int) -> Tensor:
    """Positions whose next token is a fact's answer c (the ``=``, or ``a`` when adjacent).  (k,)"""
    return 1 + FACT * torch.arange(k) + 2


def pick_seen(answers: Tensor) -> Tensor:
    """Accuracy of "pick one of the answers seen so far in this sequence", per fact.  (B, k)"""
    onehot = F.one_hot(answers, N_SYMBOLS)
    seen = onehot.cumsum(1) - onehot  # (B, k, symbols): answers of the earlier facts
    hit = seen.gather(2, answers[..., None])[..., 0] > 0
    return hit / (seen > 0).sum(-1).clamp(min=1)


def group_batch(gen: torch.Generator, B: int, k: int, groups: list[Tensor]) -> dict[str, Tensor]:
    """k facts per sequence from one random group, elements mapped to random distinct symbols.

    Returns tokens (B, 1 + 5k), the group order per sequence (B,), and boolean (B, k) masks:
    ``verbatim`` (the same (a, b) appeared earlier), ``commutative`` (only (b, a) did) and
    ``novel`` (neither).
    """
    N = max(len(t) for t in groups)
    padded = torch.zeros(len(groups), N, N, dtype=torch.long)
    for i, t in enumerate(groups):
        padded[i, : len(t), : len(t)] = t
    g = torch.randint(len(groups), (B,), generator=gen)
    order = torch.tensor([len(t) for t in groups])[g]
    a = (torch.rand(B, k, generator=gen) * order[:, None]).long()
    b = (torch.rand(B, k, generator=gen) * order[:, None]).long()
    c = padded[g[:, None], a, b]
    symbol = torch.argsort(torch.rand(B, N_SYMBOLS, generator=gen), 1)  # element -> symbol
    toks = facts_to_tokens(*(symbol.gather(1, x) for x in (a, b, c)))
    before = torch.ones(k, k, dtype=torch.bool).tril(-1)  # [j, i]: fact i came before fact j
    same = (a[:, :, None] == a[:, None]) & (b[:, :, None] == b[:, None]) & before
    swap = (a[:, :, None] == b[:, None]) & (b[:, :, None] == a[:, None]) & before
    verbatim = same.any(-1)
    commutative = swap.any(-1) & ~verbatim
    return dict(
        tokens=toks,
        order=order,
        verbatim=verbatim,
        commutative=commutative,
        novel=~verbatim & ~commutative,
        pick_seen=pick_seen(symbol.gather(1, c)),
    )


def random_batch(
    gen: torch.Generator,
    B: int,
    k: int,
    n_distinct: int,
    adjacent: bool = False,
    unique_a: bool = True,
) -> dict[str, Tensor]:
    """k draws from n_distinct random facts (no group).

    With ``unique_a`` the facts have distinct left operands, so ``a`` alone identifies a fact
    (a one-token match); without it, matching a fact takes both operands.

    Returns tokens (B, 1 + 5k), ``repeated`` (B, k): the fact appeared earlier, and ``null``
    (B, k): 1 / (distinct answers seen so far), the accuracy of "pick a seen answer".
    """
    a = torch.argsort(torch.rand(B, N_SYMBOLS, generator=gen), 1)[:, :n_distinct]
    b, c = (torch.randint(N_SYMBOLS, (B, n_distinct), generator=gen) for _ in range(2))
    if not unique_a:  # distinct (a, b) pairs; a left operand may recur
        pair = torch.argsort(torch.rand(B, N_SYMBOLS**2, generator=gen), 1)[:, :n_distinct]
        a, b = pair // N_SYMBOLS, pair % N_SYMBOLS
    pick = torch.randint(n_distinct, (B, k), generator=gen)
    A, Bt, C = (x.gather(1, pick) for x in (a, b, c))
    before = torch.ones(k, k, dtype=torch.bool).tril(-1)
    repeated = ((pick[:, :, None] == pick[:, None]) & before).any(-1)
    return dict(tokens=facts_to_tokens(A, Bt, C, adjacent), repeated=repeated, null=pick_seen(C))


def repeated_sequence_batch(gen: torch.Generator, B: int, k: int) -> Tensor:
    """Warm-up data for the curriculum row: random symbols whose second half repeats the first."""
    half = torch.randint(N_SYMBOLS, (B, FACT * k // 2), generator=gen)
    toks = torch.cat([torch.full((B, 1), BOS), half, half], 1)
    return torch.cat([toks, torch.full((B, 1 + FACT * k - toks.shape[1]), COMMA)], 1)


BASE = dict(
    task="group",
    groups="C3,C4,C5,C6",
    k=24,
    n_distinct=4,
    adjacent=False,
    layers=2,
    d_model=64,
    heads=4,
    mlp=False,
    rope=True,
    lr=1e-3,
    warmup=100,
    steps=1500,
    batch=32,
    loss="all",
    warm_start=0,
    warm_task="repeat",
    unique_a=True,
    mix=0.0,
    clamp=(),
)
RAND = {**BASE, "task": "random", "k": 12, "steps": 3000}
ROWS = {
    "base": BASE,
    "c3": {**BASE, "groups": "C3"},
    "lr3": {**BASE, "lr": 3e-3},
    "mlp3": {**BASE, "layers": 3, "mlp": True},
    "ans": {**BASE, "loss": "answers"},
    "groups_long": {**BASE, "groups": "C3,C4,C5", "k": 16, "lr": 3e-3, "steps": 6000},
    "rand": {**RAND, "steps": 5000},
    "rand_abs": {**RAND, "steps": 5000, "rope": False},
    "rand_cur": {**RAND, "warm_start": 500},
    "rand_wide": {**RAND, "d_model": 128, "heads": 8},
    "rand_3l": {**RAND, "layers": 3},
    "rand_adj": {**RAND, "steps": 1500, "adjacent": True},
    "rand_lr3": {**RAND, "lr": 3e-3, "steps": 6000},
    "rand_adj_lr3": {**RAND, "lr": 3e-3, "adjacent": True},
    "rand2_lr3": {**RAND, "lr": 3e-3, "steps": 6000, "unique_a": False},
    "rand_then_group": {
        **BASE,
        "groups": "C3,C4,C5",
        "k": 12,
        "lr": 3e-3,
        "steps": 6000,
        "warm_start": 3000,
        "warm_task": "random",
    },
    # layer-0 heads clamped to attend exactly `offset` tokens back (no warm-up, as measured)
    "rand_clamp23": {**RAND, "steps": 1500, "clamp": (2, 3), "warmup": 1},
    "rand_clamp2": {**RAND, "steps": 1500, "clamp": (2,), "warmup": 1},
    "rand_clamp3": {**RAND, "steps": 1500, "clamp": (3,), "warmup": 1},
    "rand2_clamp": {**RAND, "lr": 3e-3, "unique_a": False, "clamp": (1, 2, 3), "warmup": 1},
    "groups_clamp": {
        **BASE,
        "groups": "C3,C4,C5",
        "k": 16,
        "lr": 3e-3,
        "steps": 2000,
        "clamp": (1, 2, 3),
        "warmup": 1,
    },
    "group_mix_clamp": {
        **BASE,
        "groups": "C3,C4,C5",
        "k": 12,
        "lr": 3e-3,
        "steps": 3000,
        "mix": 0.5,
        "clamp": (1, 2, 3),
        "warmup": 1,
    },
    "group_mix": {**BASE, "groups": "C3,C4,C5", "k": 12, "lr": 3e-3, "steps": 6000, "mix": 0.5},
}


def sample(cfg: dict, gen: torch.Generator, B: int, task: str | None = None) -> dict[str, Tensor]:
    """A batch of the row's task (or of ``task``: "group", "random")."""
    if (task or cfg["task"]) == "group":
        return group_batch(gen, B, cfg["k"], tables(cfg["groups"]))
    return random_batch(gen, B, cfg["k"], cfg["n_distinct"], cfg["adjacent"], cfg["unique_a"])


def accuracies(model, batch: dict[str, Tensor], k: int) -> dict[str, float]:
    """Accuracy at the answers per query kind, and the null's accuracy on the same queries."""
    pos = answer_positions(k)
    with torch.no_grad():
        right = model(batch["tokens"])[:, pos, :N_SYMBOLS].argmax(-1) == batch["tokens"][:, pos + 1]
    if "repeated" in batch:
        mask = batch["repeated"]
        return {
            "copy": right[mask].float().mean().item(),
            "null": batch["null"][mask].mean().item(),
        }
    out = {}
    closure = (1 / batch["order"].float())[:, None].expand_as(right)  # 1/|G|
    for kind in ("verbatim", "commutative", "novel"):
        out[kind] = right[batch[kind]].float().mean().item()
        out[f"null {kind}"] = closure[batch[kind]].mean().item()
        out[f"seen {kind}"] = batch["pick_seen"][batch[kind]].mean().item()
    return out


def clamp_offsets(offsets: tuple[int, ...]):
    """A hook on ``blocks.0.attn.hook_pattern`` making head h attend exactly offsets[h] back."""

    def hook(pattern: Tensor, hook) -> Tensor:  # (batch, head, query, key)
        pattern = pattern.clone()
        q = torch.arange(pattern.shape[-1])
        for h, offset in enumerate(offsets):
            fixed = torch.zeros_like(pattern[0, h])
            fixed[q, (q - offset).clamp(min=0)] = 1
            pattern[:, h] = fixed
        return pattern

    return hook


def train_row(cfg: dict, seed: int = 0, every: int = 500) -> list[dict[str, float]]:
    """Train one row's model, printing the accuracies every ``every`` steps; returns the log."""
    k = cfg["k"]
    model_cfg = dict(
        n_layers=cfg["layers"],
        d_model=cfg["d_model"],
        n_heads=cfg["heads"],
        d_head=cfg["d_model"] // cfg["heads"],
        d_vocab=VOCAB,
        n_ctx=1 + FACT * k,
        attn_only=not cfg["mlp"],
        normalization_type="LN" if cfg["mlp"] else None,
    )
    if cfg["mlp"]:
        model_cfg.update(d_mlp=4 * cfg["d_model"], act_fn="gelu")
    if cfg["rope"]:
        model_cfg.update(positional_embedding_type="rotary", rotary_dim=model_cfg["d_head"])
    model = build_transformer(model_cfg, seed=seed)
    if cfg["clamp"]:
        model.hook_dict["blocks.0.attn.hook_pattern"].add_hook(clamp_offsets(cfg["clamp"]))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=0.01)
    warm = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / cfg["warmup"]))
    gen, test = (
        torch.Generator().manual_seed(seed),
        sample(cfg, torch.Generator().manual_seed(999), 256),
    )
    pos, log, t0 = answer_positions(k), [], time.time()
    bridged = cfg["task"] == "group" and (cfg["mix"] or cfg["warm_task"] == "random")
    side = sample(cfg, torch.Generator().manual_seed(998), 256, "random") if bridged else None
    for step in range(cfg["steps"] + 1):
        if step % every == 0 or step == cfg["steps"]:
            log.append({"step": step, **accuracies(model, test, k)})
            if side is not None:
                log[-1]["random copy"] = accuracies(model, side, k)["copy"]
            print(
                f"{step:6d} {time.time() - t0:5.0f} s  "
                + "  ".join(f"{key} {v:.2f}" for key, v in log[-1].items() if key != "step"),
                flush=True,
            )
        if step == cfg["steps"]:
            return log
        if step < cfg["warm_start"] and cfg["warm_task"] == "repeat":
            toks = repeated_sequence_batch(gen, cfg["batch"], k)
        elif step < cfg["warm_start"]:
            toks = sample(cfg, gen, cfg["batch"], cfg["warm_task"])["tokens"]
        else:
            toks = sample(cfg, gen, cfg["batch"])["tokens"]
            n_mix = int(cfg["mix"] * cfg["batch"])  # rows of random facts mixed into each batch
            if n_mix:
                toks[:n_mix] = sample(cfg, gen, n_mix, "random")["tokens"]
        logits = model(toks[:, :-1])  # (B, 5k, vocab)
        if cfg["loss"] == "all":
            loss = F.cross_entropy(logits.flatten(0, 1), toks[:, 1:].flatten())
        else:
            loss = F.cross_entropy(logits[:, pos].flatten(0, 1), toks[:, pos + 1].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        warm.step()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--row", choices=sorted(ROWS), action="append", default=[])
    ap.add_argument("--all", action="store_true", help="every row, one after the other")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--every", type=int, default=500, help="evaluate every this many steps")
    args = ap.parse_args()
    rows = sorted(ROWS) if args.all else args.row
    if not rows:
        ap.error("name a --row or pass --all")
    for name in rows:
        print(f"== {name}: {ROWS[name]}", flush=True)
        train_row(ROWS[name], seed=args.seed, every=args.every)


if __name__ == "__main__":
    main()
