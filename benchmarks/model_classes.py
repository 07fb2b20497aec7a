"""Training speed of the old and the new TransformerLens model class, side by side (issue 16).

The book moved from TransformerLens 3's ``HookedTransformer`` to TransformerLens 4's
``TransformerBridge``. This script times one optimiser step on each chapter's training
shape for both, in one run: the old class from a checkout of the last 3.x commit in an
environment with TransformerLens 3.9, the new one from this checkout. Rounds alternate
between the two so that a busy machine slows both alike; the table gives the median.

    # an environment with TransformerLens 3.9 (only for this measurement):
    python -m venv /tmp/tl3 && /tmp/tl3/bin/pip install -r <(git show 73c5d12:requirements.txt)
    python benchmarks/model_classes.py --old-python /tmp/tl3/bin/python

Not part of the test suite: speed targets live here, never in timed tests.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLD_REV = "73c5d12"  # the last commit on TransformerLens 3.9 (HookedTransformer)
MAX_SLOWDOWN = 1.10  # issue 16: not slower by more than 10%


def chapter_steps() -> dict:
    """Each chapter's training step as a closure, built with the toylab on ``sys.path``.

    Uses only functions both toylab versions have, with each chapter's shapes.
    """
    import torch

    from toylab import grokking
    from toylab import ode_circuits as ode
    from toylab.data import modular_addition_data
    from toylab.models import build_transformer

    steps = {}
    # grokking: p = 59, 40% of the pairs, full batch, AdamW
    data = modular_addition_data(59, 0.4, seed=0)
    model = grokking.grokking_transformer(59, seed=0)
    x, y = data.inputs[data.train_idx], data.labels[data.train_idx]
    steps["grokking (1 layer, MLP, full batch 1392)"] = (
        model,
        lambda m: grokking.loss_fn(m, x, y),
        dict(lr=3e-3, weight_decay=1.0, betas=(0.9, 0.98)),
    )
    # induction heads: 2 attention-only layers, batch 32 x 32 tokens
    config = dict(n_layers=2, d_model=64, d_head=16, n_heads=4, d_vocab=64, n_ctx=32,
                  attn_only=True, normalization_type=None)  # fmt: skip
    # random tokens: the step's cost does not depend on them (the task's generator moved)
    tokens = torch.randint(64, (32, 32), generator=torch.Generator().manual_seed(0))
    steps["induction heads (2 layers, attention only, 32 x 32)"] = (
        build_transformer(config, seed=0),
        lambda m: m(tokens, return_type="loss"),
        dict(lr=3e-3),
    )
    # ODE: the state transformer, batch 64 x 32 states
    states = torch.randn(64, 32, 2, generator=torch.Generator().manual_seed(0))
    steps["ODE (2 layers, LayerNorm, MLP, 64 x 32)"] = (
        ode.state_transformer(n_layers=2, d_model=64, n_heads=4, n_ctx=32, seed=0),
        lambda m: ((m(states)[:, :-1] - states[:, 1:]) ** 2).sum(-1).mean(),
        dict(lr=3e-3),
    )
    return steps


def child(root: str, n_steps: int) -> None:
    """Print {chapter: milliseconds per step} for the toylab in ``root``."""
    sys.path.insert(0, root)
    import torch

    torch.set_num_threads(torch.get_num_threads())
    out = {}
    for name, (model, loss_fn, opt_kw) in chapter_steps().items():
        opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], **opt_kw)
        times = []
        for i in range(n_steps + 5):  # 5 warm-up steps
            start = time.perf_counter()
            loss = loss_fn(model)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i >= 5:
                times.append(time.perf_counter() - start)
        out[name] = 1000 * statistics.median(times)
    out["version"] = importlib.metadata.version("transformer-lens")
    print(json.dumps(out))


def measure(python: str, root: Path, n_steps: int) -> dict:
    result = subprocess.run(
        [python, __file__, "--child", str(root), "--steps", str(n_steps)],
        capture_output=True, text=True, check=True, cwd=root,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--old-python", help="a Python with TransformerLens 3.9")
    parser.add_argument("--old-rev", default=OLD_REV, help=f"the 3.x commit (default {OLD_REV})")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per chapter and round")
    parser.add_argument("--child", metavar="ROOT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.steps)
        return 0
    if not args.old_python:
        parser.error("--old-python is required (an environment with TransformerLens 3.9)")

    with tempfile.TemporaryDirectory() as old_root:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.old_rev], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", old_root], input=archive, check=True)
        runs = {"old": [], "new": []}
        for r in range(args.rounds):
            runs["old"].append(measure(args.old_python, Path(old_root), args.steps))
            runs["new"].append(measure(sys.executable, ROOT, args.steps))
            print(f"round {r + 1}: {runs}", file=sys.stderr, flush=True)

    versions = {k: v[0].pop("version") for k, v in runs.items()}
    for v in runs.values():
        for row in v[1:]:
            row.pop("version")
    print(f"TransformerLens {versions['old']} (HookedTransformer, {args.old_rev}) vs "
          f"{versions['new']} (TransformerBridge, this checkout); median of "
          f"{args.rounds} rounds x {args.steps} steps, ms per training step\n")  # fmt: skip
    print("| chapter's training shape | HookedTransformer | TransformerBridge | ratio |")
    print("|---|---|---|---|")
    worst = 0.0
    for name in runs["old"][0]:
        old = statistics.median(r[name] for r in runs["old"])
        new = statistics.median(r[name] for r in runs["new"])
        worst = max(worst, new / old)
        print(f"| {name} | {old:.1f} | {new:.1f} | {new / old:.2f} |")
    print(f"\nslowest ratio {worst:.2f} (target <= {MAX_SLOWDOWN})")
    return 0 if worst <= MAX_SLOWDOWN else 1


if __name__ == "__main__":
    sys.exit(main())
