"""The chapters' time budgets, and the speed of the training loop and the ensembles.

Not part of the test suite: speed targets live here, never in timed tests. Each chapter's
cold time, training against analysis, is measured by ``benchmarks/chapter_profile.py``.

    make bench                       # chapter_profile.py (every chapter, cold), then this
    python benchmarks/run.py         # only the training loop and the ensembles
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_BUDGET_S = {
    "grokking": 240,
    "grokking_network": 240,  # issue 14
    "grokking_phase_diagram": 180,  # split from grokking_network (issue 14) with its 2 minutes
    "induction_heads": 240,
    "icl_regression": 180,
    "ode_circuits": 300,
    "learning_coefficient": 240,  # issue 17
    "repeated_data": 300,  # issue 18
    "icl_classification": 240,  # issue 32
}  # from each chapter's issue


def time_training_loop(steps: int = 200) -> dict[str, float]:
    """Steps per second of toylab.train on the grokking chapter's model and data."""
    from toylab import grokking
    from toylab.data import modular_addition_data
    from toylab.grokking import grokking_transformer
    from toylab.train import TrainConfig, train

    os.environ["TOYLAB_PROGRESS"] = "off"
    data = modular_addition_data(59, 0.4, seed=0)
    out = {}
    for label, log_every in [("no logging", steps), ("log every 20", 20)]:
        model = grokking_transformer(59, seed=0)
        cfg = TrainConfig(
            steps=steps, lr=3e-3, weight_decay=1.0, betas=(0.9, 0.98), log_every=log_every
        )
        start = time.perf_counter()
        train(
            model,
            data.train,
            grokking.loss_fn,
            cfg,
            evaluate=grokking.evaluator(data),
            use_cache=False,
        )
        out[label] = steps / (time.perf_counter() - start)
    return out


def time_ensemble(members: int = 8, steps: int = 200) -> dict[str, float]:
    """Seconds to train ``members`` small models as one Ensemble vs one after another (same runs)."""
    from toylab import icl_regression as icl
    from toylab.ensemble import Ensemble
    from toylab.train import TrainConfig, train

    os.environ["TOYLAB_PROGRESS"] = "off"
    cfg = TrainConfig(steps=steps, lr=1e-2, log_every=steps)

    def sample(gen):  # the softmax-attention regression tasks of the in-context regression chapter
        t = icl.sample_tasks(512, 40, 5, generator=gen, noise_std=0.1**0.5)
        return t.X, t.y, t.x_q, t.y_q

    def models():
        return [icl.SoftmaxAttentionRegressor(5, n_heads=2, seed=s) for s in range(members)]

    start = time.perf_counter()
    for model in models():
        train(
            model,
            sample,
            lambda m, X, y, x_q, y_q: (m(X, y, x_q) - y_q).pow(2).mean(),
            cfg,
            use_cache=False,
        )
    loop = time.perf_counter() - start
    start = time.perf_counter()
    train(
        Ensemble(models()),
        sample,
        lambda m, X, y, x_q, y_q: (m(X, y, x_q) - y_q).pow(2).mean(-1).sum(),
        cfg,
        use_cache=False,
    )
    batched = time.perf_counter() - start
    return {"loop": loop, "ensemble": batched}


def time_phase_diagram(steps: int = 100) -> dict[str, float]:
    """A 5 x 5 (data fraction x weight decay) diagram of He et al.'s network, p = 23, width 128:
    seconds for ``steps`` full-batch steps of all 25 cells as one Ensemble vs one after another."""
    from torch.nn.functional import cross_entropy

    from toylab import grokking_phase_diagram as pd
    from toylab.data import modular_addition_data
    from toylab.ensemble import Ensemble
    from toylab.models import ModularMLP
    from toylab.train import TrainConfig, train

    os.environ["TOYLAB_PROGRESS"] = "off"
    p, fracs, decays = 23, [0.3, 0.4, 0.5, 0.6, 0.75], [0.0, 0.3, 1.0, 3.0, 10.0]
    cells = [(f, w) for f in fracs for w in decays]
    pairs = modular_addition_data(p, 0.5)
    x, y, labels = pairs.a, pairs.b, pairs.labels
    masks = pd.train_masks(p, [f for f, _ in cells], [0] * len(cells))

    def models():
        return [ModularMLP(p, width=128, seed=i) for i in range(len(cells))]

    start = time.perf_counter()
    for i, (model, (_, wd)) in enumerate(zip(models(), cells)):
        keep = masks[:, i]
        train(
            model,
            [x[keep], y[keep], labels[keep]],
            lambda m, a, b, c: cross_entropy(m(a, b), c),
            TrainConfig(steps=steps, lr=3e-3, weight_decay=wd, log_every=steps),
            use_cache=False,
        )
    loop = time.perf_counter() - start
    start = time.perf_counter()
    train(
        Ensemble(models()),
        [x, y, labels, masks],
        pd.ensemble_loss,
        TrainConfig(steps=steps, lr=3e-3, weight_decay=tuple(w for _, w in cells), log_every=steps),
        use_cache=False,
    )
    return {"loop": loop, "ensemble": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.parse_args()

    rows = []
    for label, rate in time_training_loop().items():
        rows.append((f"training loop, grokking model, {label}", f"{rate:.1f} steps/s", ""))
    ens = time_ensemble()
    rows.append(("8 softmax regressors x 200 steps, one after another", f"{ens['loop']:.1f} s", ""))
    rows.append(
        (
            "8 softmax regressors x 200 steps, one Ensemble",
            f"{ens['ensemble']:.1f} s",
            f"speed-up {ens['loop'] / ens['ensemble']:.1f}x",
        )
    )
    diagram = time_phase_diagram()
    rows.append(
        (
            "5x5 grokking diagram (He et al. net) x 100 steps, one after another",
            f"{diagram['loop']:.1f} s",
            "",
        )
    )
    rows.append(
        (
            "5x5 grokking diagram (He et al. net) x 100 steps, one Ensemble",
            f"{diagram['ensemble']:.1f} s",
            f"speed-up {diagram['loop'] / diagram['ensemble']:.1f}x",
        )
    )

    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'result':>14}  budget")
    for name, value, verdict in rows:
        print(f"{name:<{width}}  {value:>14}  {verdict}")


if __name__ == "__main__":
    sys.exit(main())
