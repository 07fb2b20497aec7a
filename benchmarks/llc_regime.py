"""Does the LLC estimate stop growing with nβ? A map of the sampler's regime on the induction run.

The learning-coefficient chapter (``notebooks/learning_coefficient.py``) samples at nβ = 30 and
γ = 1000, where its estimate grows in proportion to nβ: the localisation, not the loss, confines
the chains, and λ̂ ≈ nβ·tr(H)/2γ. The theory's λ needs nβ large enough for the loss to confine
them, so that λ̂ stops scaling with nβ. This script measures, on one snapshot of the seed's
two-layer induction run, λ̂ for a range of nβ up to n/ln n (Watanabe's β* = 1/ln n, n the data's
size: 148 if n counts the 1,024 sequences, 3,063 if it counts their 31,744 predicted tokens):

- the step size shrinks as 1/nβ (ε·nβ fixed at the chapter's 9e-3), so the loss's pull is as
  stable at every nβ; the chains run long enough to settle in the localisation (several times
  2/(εγ) steps), and λ̂ is also taken from their last third alone, to show whether they have;
- beside each, the sharpness prediction nβ·tr(H)/2γ (Hutchinson, ``lc.hessian_trace``) and
  devinterp's health check, the share of draws below L(w*).

    python benchmarks/llc_regime.py                      # final snapshot, seed 0
    python benchmarks/llc_regime.py --step 500 --gamma 100

Not part of the test suite: it samples for minutes. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from toylab import induction_task as task  # noqa: E402
from toylab import learning_coefficient as lc  # noqa: E402
from toylab.models import build_transformer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--step", type=int, default=task.STEPS, help="the snapshot")
    ap.add_argument("--gamma", type=float, default=1000.0)
    ap.add_argument("--n-betas", type=float, nargs="+", default=[30, 148, 1000, 3063])
    ap.add_argument("--eps-nbeta", type=float, default=9e-3, help="ε·nβ, kept fixed")
    ap.add_argument("--settle", type=float, default=6.0, help="chain length in units of 2/(εγ)")
    ap.add_argument("--max-passes", type=int, default=150, help="at most this many passes")
    args = ap.parse_args()

    run = task.train_model(
        "induction-2layer", build_transformer(task.model_config(2), seed=args.seed), seed=args.seed
    )
    model = run.model_at(args.step)
    data = task.repeated_subsequence_tokens(
        1024, task.N_CTX, task.N_VOCAB, generator=torch.Generator().manual_seed(args.seed + 100)
    )[0]  # the chapter's data
    trace, trace_se = lc.hessian_trace(model, data, n_probes=32, seed=args.seed)
    widen = lambda eps: 1 / (1 - eps * args.gamma / 4)  # noqa: E731  the discrete chain's spread
    print(f"seed {args.seed}, step {args.step}: tr(H) = {trace:.1f} ± {trace_se:.1f}\n")
    print("| nβ | ε | γ | draws | λ̂ (all draws) | λ̂ (last third) | nβ·tr(H)/2γ | below L(w*) | s |")
    print("|---|---|---|---|---|---|---|---|---|")
    per_pass = len(data) // 32
    for nb in args.n_betas:
        eps = args.eps_nbeta / nb
        passes = int(np.ceil(args.settle * 2 / (eps * args.gamma) / per_pass))
        passes = max(3, min(passes, args.max_passes)) // 3 * 3
        settings = lc.SGLDSettings(
            lr=eps,
            n_beta=nb,
            localization=args.gamma,
            num_chains=1,
            num_draws=passes * per_pass,
            seed=args.seed,
        )
        t0 = time.perf_counter()
        try:
            est = lc.estimate_llc(model, data, settings)
        except FloatingPointError:
            print(
                f"| {nb:g} | {eps:.1e} | {args.gamma:g} | {settings.num_draws} | diverged | | | | |"
            )
            continue
        last = est.loss_trace[:, -settings.num_draws // 3 :]
        late = nb * (last.mean() - est.init_loss)
        print(
            f"| {nb:g} | {eps:.1e} | {args.gamma:g} | {settings.num_draws} | {est.llc:.1f} | "
            f"{late:.1f} | {nb * trace / (2 * args.gamma) * widen(eps):.1f} | {est.below_init:.0%} | "
            f"{time.perf_counter() - t0:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
