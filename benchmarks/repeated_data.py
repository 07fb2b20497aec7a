"""A wider grid than the repeated-data chapter trains: pool sizes, kinds, seeds, widths, stops.

The chapter (``notebooks/repeated_data.py``) fits its budget with the two controls, pools of
1, 16 and 256 induction sequences and 16 random ones, and two seeds. This script runs any
grid with the same machinery (``toylab.repeated_data``: the mixture sampler, R = 0 for the
controls, ``Member.stop_at``), one sweep per seed, and prints one row per member at the end
of training: the test loss on fresh induction sequences (start ln 64 = 4.16) and its largest
rise, the loss on the induction positions and on bigram chains, the ICL score, the loss on
the member's own pool, and the best previous-token (layer 0) and prefix-matching (layer 1)
scores. Every pool size is run with each ``--kinds``; R = 0 with "random" is the noise control.

    python benchmarks/repeated_data.py                                   # seeds 0 1
    python benchmarks/repeated_data.py --seeds 0 1 2 --pools 0 1 4 16 64 256 1024
    python benchmarks/repeated_data.py --d-model 128 --pools 0 16        # more capacity
    python benchmarks/repeated_data.py --pools 16 64 --stop-at 500       # stop the repetition
    python benchmarks/repeated_data.py --pools 0 16 --steps 5000         # longer

Not part of the test suite: it trains for minutes. Runs are cached like the chapter's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from toylab import induction_task as task  # noqa: E402
from toylab import repeated_data as rd  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pools", type=int, nargs="+", default=[0, 1, 16, 64, 256, 1024])
    ap.add_argument("--kinds", nargs="+", default=["induction", "random"], choices=rd.KINDS)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--steps", type=int, default=task.STEPS)
    ap.add_argument("--d-model", type=int, default=task.D_MODEL)
    ap.add_argument("--stop-at", type=int, default=None, help="pools stop repeating here")
    ap.add_argument("--save", type=Path, default=None, help="write the rows as JSON here")
    args = ap.parse_args()

    rows = []
    for s in args.seeds:  # one sweep per seed: every seed its own stream of batches
        members = [
            rd.Member(R, s, kind, stop_at=args.stop_at if R else None)
            for R in args.pools
            for kind in args.kinds
        ]
        run = rd.train_sweep(members, args.steps, d_model=args.d_model, log_every=100)
        print(f"seed {s}: {len(members)} members, {args.steps} steps: {run.seconds:.0f} s")
        curve = {k: rd.curves(run, k, len(members)) for k in rd.METRICS}
        rows += [
            dict(
                member=m.label,
                seed=m.seed,
                rise=rd.largest_rise(curve["test"][e]),
                **{k: float(curve[k][e, -1]) for k in rd.METRICS},
            )
            for e, m in enumerate(members)
        ]
    print("| member | seed | test loss | largest rise | induction-pos. loss | bigram loss | ICL "
          "| pool loss | prev L0 | prefix L1 |")  # fmt: skip
    print("|" + "---|" * 10)
    for r in rows:
        print(
            f"| {r['member']} | {r['seed']} | {r['test']:.2f} | {r['rise']:.2f} | "
            f"{r['induction']:.2f} | {r['bigram']:.2f} | {r['icl']:.2f} | {r['pool']:.2f} | "
            f"{r['prev']:.2f} | {r['prefix']:.2f} |"
        )
    if args.save:
        args.save.write_text(
            json.dumps({"args": vars(args) | {"save": str(args.save)}, "rows": rows}, indent=1)
        )


if __name__ == "__main__":
    main()
