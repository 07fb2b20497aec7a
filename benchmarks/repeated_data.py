"""Issue 18's feasibility study: a small pool of repeated sequences stops induction heads forming.

Hernandez et al. (2022) found that data repeated many times damages a language model's
copying and induction heads. This script measures a toy version on the induction chapter's
task and model (``toylab.induction_task``), before the chapter is written.

Every training batch holds 32 sequences: 24 fresh induction sequences (shared by every
member, so members differ only in the rest) and 8 rows that are either

- drawn from the member's fixed **pool** of R random sequences (R > 0), repeated across
  steps, so they can only be memorised; or
- fresh random sequences (R = 0, the **fair control**): the same share of data without
  induction structure, never repeated. The only difference between the two is repetition.

One ``Ensemble`` trains every (R, seed) member at once. For each it reports the test loss
on fresh induction sequences (start: ln 64 = 4.16) and its largest rise above its
lowest value so far (a rise is the double-descent shape), the loss on the induction positions alone,
the ICL score (``induction_task.icl_score``), the loss on the member's own pool, and the
final model's best previous-token (layer 0) and prefix-matching (layer 1) scores.
``--stop-at S`` also runs the intervention: from step S on, the pool rows are replaced by
fresh random rows (the control's data), to see whether induction then forms.

    python benchmarks/repeated_data.py                             # seeds 0 1, 1500 steps
    python benchmarks/repeated_data.py --seeds 0 1 2 --pools 0 8 16 64 256 1024 8192
    python benchmarks/repeated_data.py --d-model 128               # more capacity
    python benchmarks/repeated_data.py --pools 0 16 64 --stop-at 750

Not part of the test suite: it trains for minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from toylab import induction_task as task  # noqa: E402
from toylab.ensemble import Ensemble  # noqa: E402
from toylab.models import build_transformer  # noqa: E402
from toylab.train import Run, TrainConfig, train  # noqa: E402

T, V, B = task.N_CTX, task.N_VOCAB, task.BATCH
N_REP = 8  # rows of every batch from the pool (or, for the control, fresh random rows)
TEST_TOKENS, TEST_PREDICTABLE = task.repeated_subsequence_tokens(
    256, T, V, generator=torch.Generator().manual_seed(7)
)  # (256, T), (256, T - 1)
RANDOM_ROWS = torch.randint(V, (64, T), generator=torch.Generator().manual_seed(99))


def make_pools(members: list[tuple[int, int]]) -> list[Tensor | None]:
    """Member (R, seed)'s pool: R random sequences (R, T), or None for the control (R = 0)."""
    return [
        None
        if R == 0
        else torch.randint(V, (R, T), generator=torch.Generator().manual_seed(1000 * s + R))
        for R, s in members
    ]


def mixture_sampler(pools: list[Tensor | None]):
    """Per-member batches (E, B, T): B − N_REP shared fresh induction rows, then N_REP own rows."""
    E = len(pools)

    def sample(gen: torch.Generator) -> tuple[Tensor]:
        fresh, _ = task.repeated_subsequence_tokens(B - N_REP, T, V, generator=gen)
        random_rows = torch.randint(V, (E, N_REP, T), generator=gen)
        picks = torch.randint(1 << 30, (E, N_REP), generator=gen)
        own = torch.stack(
            [random_rows[e] if p is None else p[picks[e] % len(p)] for e, p in enumerate(pools)]
        )
        return (torch.cat([fresh.expand(E, -1, -1), own], dim=1),)

    return sample


def member_nll(ens: Ensemble, tokens: Tensor) -> Tensor:
    """Next-token loss of member e on tokens[e]: (E, b, T) -> (E, b, T − 1)."""
    log_probs = ens.each(tokens)[:, :, :-1].log_softmax(-1)
    return -log_probs.gather(-1, tokens[:, :, 1:, None])[..., 0]


def ensemble_loss(ens: Ensemble, tokens: Tensor) -> Tensor:
    """The sum of the members' mean losses: each member's gradient is its own."""
    return member_nll(ens, tokens).mean(dim=(1, 2)).sum()


def evaluator(members: list[tuple[int, int]], pools: list[Tensor | None]):
    E = len(members)
    own_rows = torch.stack(
        [RANDOM_ROWS if p is None else p[torch.arange(64) % len(p)] for p in pools]
    )

    def evaluate(ens: Ensemble) -> dict[str, float]:
        test = member_nll(ens, TEST_TOKENS.expand(E, -1, -1))  # (E, 256, T - 1)
        pool = member_nll(ens, own_rows)  # (E, 64, T - 1)
        icl = member_nll(ens, task.TEST_TOKENS.expand(E, -1, -1))
        out = {}
        for e, (R, s) in enumerate(members):
            out[f"test {R} {s}"] = test[e].mean().item()
            out[f"induction {R} {s}"] = test[e][TEST_PREDICTABLE].mean().item()
            out[f"pool {R} {s}"] = pool[e].mean().item()
            out[f"icl {R} {s}"] = task.icl_score(icl[e], task.PERIOD)
        return out

    return evaluate


def train_sweep(
    members: list[tuple[int, int]],
    pools: list[Tensor | None],
    steps: int,
    d_model: int,
    seed: int = 0,
    start: Ensemble | None = None,
    train_pools: list[Tensor | None] | None = None,
) -> Run:
    """Train every member on its mixture (``train_pools``, default ``pools``); score on ``pools``."""
    cfg = dict(task.model_config(2), d_model=d_model, d_head=d_model // task.N_HEADS)
    ens = start or Ensemble([build_transformer(cfg, seed=s) for _, s in members])
    return train(
        ens,
        mixture_sampler(pools if train_pools is None else train_pools),
        ensemble_loss,
        TrainConfig(steps=steps, lr=task.LR, seed=seed, log_every=100, snapshot_steps=(steps,)),
        evaluate=evaluator(members, pools),
        name="repeated-data-study",
        use_cache=False,
    )


def head_scores(model) -> tuple[float, float]:
    """Best previous-token score in layer 0 and best prefix-matching score in layer 1."""
    sc = task.scores(model)
    prev = max(v for k, v in sc.items() if k.startswith("prev L0"))
    prefix = max(v for k, v in sc.items() if k.startswith("prefix L1"))
    return prev, prefix


def summarise(run: Run, members: list[tuple[int, int]]) -> list[dict]:
    h, rows = run.history, []
    for e, (R, s) in enumerate(members):
        test = h[f"test {R} {s}"]
        # the largest rise of the test loss above its lowest value so far
        rise = max(t - min(test[: j + 1]) for j, t in enumerate(test))
        prev, prefix = head_scores(run.model.member(e))
        rows.append(
            dict(
                R=R,
                seed=s,
                test=test[-1],
                rise=rise,
                induction=h[f"induction {R} {s}"][-1],
                icl=h[f"icl {R} {s}"][-1],
                pool=h[f"pool {R} {s}"][-1],
                prev=prev,
                prefix=prefix,
            )
        )
    return rows


def table(rows: list[dict]) -> str:
    head = "| R | seed | test loss | largest rise | induction-pos. loss | ICL | pool loss | prev L0 | prefix L1 |"
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        lines.append(
            f"| {r['R'] or 'control'} | {r['seed']} | {r['test']:.2f} | {r['rise']:.2f} | "
            f"{r['induction']:.2f} | {r['icl']:.2f} | {r['pool']:.2f} | {r['prev']:.2f} | "
            f"{r['prefix']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pools", type=int, nargs="+", default=[0, 16, 64, 256, 1024, 8192])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--steps", type=int, default=task.STEPS)
    ap.add_argument("--d-model", type=int, default=task.D_MODEL)
    ap.add_argument("--stop-at", type=int, default=None, help="replace the pools from this step on")
    ap.add_argument("--save", type=Path, default=None, help="write the rows as JSON here")
    args = ap.parse_args()

    members = [(R, s) for s in args.seeds for R in args.pools]
    pools = make_pools(members)
    start = time.perf_counter()
    first = args.stop_at or args.steps
    run = train_sweep(members, pools, first, args.d_model)
    print(
        f"{len(members)} members, {first} steps, d_model {args.d_model}: "
        f"{time.perf_counter() - start:.0f} s"
    )
    rows = summarise(run, members)
    print(table(rows))
    out = {"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}
    if args.stop_at:
        cont = train_sweep(
            members,
            pools,
            args.steps - args.stop_at,
            args.d_model,
            seed=1,
            start=run.model,
            train_pools=[None] * len(members),
        )
        print(f"\nfrom step {args.stop_at} to {args.steps} without the pool:")
        after = summarise(cont, members)
        print(table(after))
        out["after_stop"] = after
    if args.save:
        args.save.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
