# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,jupyter,-all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Stages of development: what the LLC estimator sees in the induction run
#
# The [induction-heads chapter](induction_heads.ipynb) watched a two-layer model
# learn to copy in a phase change, by reading its attention patterns. This chapter
# looks at the same run through a different lens, one that never opens the model:
# the **local learning coefficient** (LLC) of singular learning theory, a measure of
# how much of its parameter space a snapshot really uses {cite}`lau2023llc`.
# Hoogland et al. {cite}`hoogland2024developmental` measured it over the training of a
# two-layer attention-only language model and found training moving in stages whose
# boundaries the LLC marks; Wang et al. {cite}`wang2024refined` restricted it to one
# head's weights, or to one kind of data, to tell the heads apart.
#
# You estimate it with `devinterp` {cite}`devinterpcode`, the maintained library for
# it, on the snapshots the induction chapter saved (loaded from the cache if you ran
# that chapter; about a minute of training if not), after calibrating the estimator
# the way a careful user does. The calibration holds a surprise: at the settings a
# laptop affords, the estimator measures something simpler than the theory's
# coefficient, the **sharpness** of the loss around the snapshot (the trace of its
# Hessian). We show that, name it, and read the run with it. About four minutes
# on a laptop CPU.
#
# ```{admonition} Learning objectives
# :class: tip
# - Say what the LLC measures, and how SGLD sampling around a snapshot estimates it.
# - Calibrate the sampler: read the chains' loss traces, recognise a chain that
#   escapes, diverges or has not settled, and check what the estimate depends on.
# - Tell the estimator's two regimes apart: where the loss confines the chains
#   (the theory's coefficient) and where the localisation does (a sharpness, checked
#   against a Hutchinson estimate of the Hessian's trace).
# - Find the stages of a training run from its LLC curve and compare them with the
#   phase change the head scores show.
# - Restrict the LLC to one head's weights or to one kind of data, and compare what
#   it sees with what ablations see.
# ```

# %% [markdown]
# ## Set-up
#
# On Colab the next cell installs `toylab` (the book's helper package); elsewhere
# it does nothing (see the [introduction](../book/intro.md)).

# %%
import subprocess
import sys

if "google.colab" in sys.modules:  # only on Colab
    url = "toylab @ git+https://github.com/toylab-book/toylab"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", url], check=True)

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.nn.functional import cross_entropy

from toylab import claims, exercises, hooks, plotting
from toylab import induction_task as task
from toylab import learning_coefficient as lc
from toylab.data import modular_addition_data
from toylab.models import ModularMLP, build_transformer
from toylab.train import TrainConfig, train

plotting.use_book_style()

# %% [markdown]
# ## 1. The estimator
#
# Training ends at a point $w^*$ of the loss landscape. Around a minimum of a
# *regular* model the loss grows like a quadratic in every direction, and the
# volume of weights whose loss is within $\epsilon$ of the minimum shrinks like
# $\epsilon^{d/2}$ with $d$ the number of parameters. Neural networks are not
# regular: many directions are flat (a head that writes nothing can change its
# keys freely; scaling $W_V$ up and $W_O$ down changes nothing), so that volume
# shrinks more slowly, like $\epsilon^{\lambda}$ with a **learning coefficient**
# $\lambda \le d/2$. The smaller $\lambda$, the more degenerate, and in that sense
# simpler, the solution {cite}`lau2023llc`.
#
# Lau et al. estimate the local $\lambda$ at $w^*$ by sampling weights $w$ near
# $w^*$ from a tempered posterior localised there,
# $p(w) \propto \exp\{-n\beta\, L_n(w) - \tfrac{\gamma}{2}\lVert w - w^*\rVert^2\}$,
# and measuring how much worse they are on average:
#
# $$\hat\lambda = n\beta\,\big(\mathbb E_{w}[L_n(w)] - L_n(w^*)\big),$$
#
# with $L_n$ the loss on $n$ samples, $n\beta$ an inverse temperature and $\gamma$ a
# localisation strength. The samples come from **SGLD**: gradient steps on that
# posterior plus Gaussian noise,
# $\Delta w = -\tfrac{\epsilon}{2}\big(n\beta\, \nabla L(w) + \gamma (w - w^*)\big) + \mathcal N(0, \epsilon)$,
# with step size $\epsilon$ and minibatch gradients. `devinterp` runs the chains and
# averages the loss along them (its `lr` is our $\epsilon$). Everything depends on
# $\epsilon$, $n\beta$ and $\gamma$, which is why the first job is calibration.
#
# We load the two runs of the induction chapter, the two-layer model and its
# one-layer control, through the same function that chapter trains them with, so
# they come from the cache when that chapter has run.

# %%
SEED = 0
run2 = task.train_model(
    "induction-2layer",
    build_transformer(task.model_config(2), seed=SEED),
    seed=SEED,
)
run1 = task.train_model(
    "induction-1layer",
    build_transformer(task.model_config(1), seed=SEED),
    seed=SEED,
)
steps = run2.metric("step")
prefix_best = np.max(
    [run2.metric(f"prefix L1H{h}") for h in range(task.N_HEADS)], axis=0
)
start = int(steps[np.argmax(prefix_best > 0.3)])
end = int(steps[np.argmax(prefix_best > 0.6)])
print(f"phase change (best prefix-matching score 0.3 -> 0.6): steps {start}-{end}")
# the induction chapter's null for an ICL score: copying without an induction head
BAG = task.bag_of_tokens_null(task.TEST_TOKENS, task.PERIOD, task.N_VOCAB)
print(
    f"final ICL score: two layers {run2.metric('icl')[-1]:.2f}, one layer "
    f"{run1.metric('icl')[-1]:.2f} nats (bag of tokens {BAG['icl']:.2f}); copy accuracy "
    f"{run2.metric('copy')[-1]:.2f} and {run1.metric('copy')[-1]:.2f} (bag {BAG['copy']:.2f})"
)

# the data the loss L_n is measured on: fresh training sequences, fixed
data = task.repeated_subsequence_tokens(
    1024,
    task.N_CTX,
    task.N_VOCAB,
    generator=torch.Generator().manual_seed(SEED + 100),
)[0]
final = run2.model_at(task.STEPS)

# %% [markdown]
# A grid of settings on the final snapshot: three localisations, three step sizes,
# $n\beta = 30$ (the value of `devinterp`'s quick-start example), one chain of 96
# steps each: three passes over the 1,024 sequences, in batches of 32.
#
# The three passes are not a detail. $\hat\lambda$ multiplies a small difference of
# two averages by $n\beta$, so both must average the same sequences with the same
# weights: the loss at the snapshot is taken over one pass, the chain's over a whole
# number of passes. With 100 steps, four batches would count once more than the
# rest, and for a single head's weights (section 3), whose loss rises by thousandths
# of a nat, that imbalance is as large as the estimate; `lc.estimate_llc` refuses
# such settings. A chain that diverges (a NaN loss) raises an error too, instead of
# the overflowed number `devinterp` would return.

# %%
N_BETA = 30
grid = {}
for gamma in (100, 1000, 10_000):
    for eps in (1e-5, 1e-4, 1e-3):
        if (gamma, eps) == (10_000, 1e-5):
            continue  # pinned like 1e-4 below; one estimate less
        settings = lc.SGLDSettings(
            lr=eps, n_beta=N_BETA, localization=gamma, num_chains=1, seed=SEED
        )
        try:
            grid[gamma, eps] = lc.estimate_llc(final, data, settings)
        except FloatingPointError:
            grid[gamma, eps] = None
        est = grid[gamma, eps]
        print(
            f"gamma {gamma:>6}, eps {eps:.0e}: "
            + ("diverged" if est is None else f"LLC {est.llc:6.2f}")
        )

# %% [markdown]
# The traces tell the settings apart. An untrained model's loss, $\ln 64$, is the
# line a chain must stay well below: above it, the chain has wandered out of the
# basin it was meant to describe.

# %%
untrained_loss = np.log(task.N_VOCAB)
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), sharey=True)
for ax, gamma in zip(axes, (100, 1000, 10_000)):
    for eps in (1e-5, 1e-4, 1e-3):
        est = grid.get((gamma, eps))
        if est is not None:
            smooth = np.convolve(est.loss_trace[0], np.ones(10) / 10, "valid")
            ax.plot(
                np.arange(9, 9 + len(smooth)),
                smooth,
                label=f"eps {eps:.0e}",
                lw=1.2,
            )
    ax.axhline(untrained_loss, color="k", ls=":", lw=1, label="untrained (ln 64)")
    ax.axhline(
        grid[1000, 1e-4].init_loss, color="k", lw=0.7, label="snapshot $L(w^*)$"
    )
    ax.set_title(f"gamma = {gamma}", fontsize=10)
    ax.set_xlabel("SGLD step")
axes[0].set_ylabel("batch loss (nats, mean of 10 steps)")
axes[1].legend(fontsize=9, loc="upper right")
fig.suptitle(
    "Weak localisation lets the chain climb out of the basin; strong localisation "
    "pins it (or diverges); gamma 1000 settles within a few steps",
    fontsize=10,
)
fig.tight_layout()
plt.show()

# %% [markdown]
# What the grid shows, and the choice we make:
#
# - **$\gamma = 100$** (weak localisation): at $\epsilon = 10^{-3}$ the chain climbs
#   past the untrained model's loss: it has left the basin it was meant to describe,
#   and its large $\hat\lambda$ means nothing. At $10^{-4}$ it is still climbing when
#   it stops, so its estimate would grow with the chain's length. At $n\beta = 30$
#   the loss alone does not hold a chain near $w^*$.
# - **$\gamma = 10^4$**: the chain hardly moves, and at $\epsilon = 10^{-3}$ it
#   diverges. A short calculation says why (ours, not the papers'): the localisation
#   term alone moves $w - w^*$ by a factor $1 - \epsilon\gamma/2$ per step, which
#   overshoots and grows once $\epsilon\gamma/2 > 2$; here it is 5.
# - **$\gamma = 1000$**: the chain settles within about $2/(\epsilon\gamma)$ steps
#   (200 at $\epsilon = 10^{-5}$: not within this chain; 20 at $10^{-4}$). The
#   estimate still grows with $\epsilon$: the same calculation gives a spread of
#   $1/\big(\gamma(1 - \epsilon\gamma/4)\big)$ per weight at equilibrium, a third
#   too wide at $\epsilon\gamma = 1$. We take $\epsilon = 3\cdot 10^{-4}$
#   ($\epsilon\gamma = 0.3$): settled after a handful of steps, less than 10% too wide.
#
# Two more checks on the chosen setting: do independent chains agree, and how does
# the estimate move with $n\beta$?

# %%
CHOSEN = lc.SGLDSettings(lr=3e-4, n_beta=N_BETA, localization=1000, seed=SEED)
four = lc.estimate_llc(
    final, data, lc.SGLDSettings(**{**vars(CHOSEN), "num_chains": 4})
)
print("four chains:", np.round(four.llc_per_chain, 2), f"spread {four.llc_std:.3f}")
print(f"health check: {four.below_init:.0%} of the draws' batch losses below L(w*)")
by_nbeta = {
    nb: lc.estimate_llc(
        final,
        data,
        lc.SGLDSettings(**{**vars(CHOSEN), "n_beta": nb, "num_chains": 1}),
    ).llc
    for nb in (10, 30, 100)
}
print("LLC at n*beta = 10, 30, 100:", [round(v, 2) for v in by_nbeta.values()])
nbeta_ratio = by_nbeta[100] / by_nbeta[10]
print(f"ratio LLC(100) / LLC(10): {nbeta_ratio:.1f}")


def last_pass_drift(est: lc.LLCEstimate) -> float:
    """Mean loss of the chains' third pass over the data minus their second, per nat of rise.

    Each pass sees every sequence once, so the two means differ only by where the chains are.
    """
    n = len(data) // CHOSEN.batch_size  # steps per pass (32)
    pass2, pass3 = (
        est.loss_trace[:, -2 * n : -n].mean(),
        est.loss_trace[:, -n:].mean(),
    )
    return (pass3 - pass2) / (pass3 - est.init_loss)


drift = last_pass_drift(four)
print(f"trace: the last pass moves the loss by {drift:+.1%} of its rise")

# %% [markdown]
# The chains agree to a few per cent. But the estimate grows nearly in proportion
# to $n\beta$ (the ratio printed above, for a tenfold $n\beta$, is near 10, and
# far from 1): the loss the chains reach hardly depends on the temperature. At these
# settings the localisation term, not the loss, holds the chain near $w^*$. A
# short calculation says what the estimate then is (ours, not the papers'): for a
# loss that is quadratic near $w^*$, with Hessian eigenvalues $h_i$, the chain
# settles at
#
# $$\hat\lambda = \frac{n\beta}{2}\sum_i \frac{h_i}{n\beta h_i + \gamma}.$$
#
# Where the loss confines a direction ($n\beta h_i \gg \gamma$) it adds $1/2$, whatever
# its curvature: counting the directions the loss pins is what the theory's
# $\lambda$ does ($d/2$ for a regular model, section 1's definition). Where the
# localisation confines it ($n\beta h_i \ll \gamma$) it adds $n\beta h_i/2\gamma$, and if
# that holds for every direction,
#
# $$\hat\lambda \approx \frac{n\beta}{2\gamma}\operatorname{tr}(H),$$
#
# the **sharpness** of the loss: its mean curvature around $w^*$. That is a different
# quantity from the learning coefficient: it scales with $n\beta$ and $1/\gamma$, and
# with the curvature, which $\lambda$ ignores. Section 2 checks the estimate against
# the trace of the Hessian measured directly, at every snapshot.
#
# Could we reach the other regime? It needs $n\beta$ large enough for the loss to
# pin the directions that matter, steps small enough to stay stable at that
# temperature ($\epsilon \propto 1/n\beta$), and chains long enough to settle in the
# localisation ($\sim 2/\epsilon\gamma$ steps). `benchmarks/llc_regime.py` measures
# that on two snapshots of this run at seed 0, past $n\beta = n/\ln n$ (Watanabe's
# $\beta^* = 1/\ln n$, counting $n$ as the data's sequences or as its tokens); its
# tables are in `benchmarks/llc_regime.md`. What they show, in words: the estimate
# bends below the sharpness line as $n\beta$ grows, but before it stops growing the
# chains start to slide below the snapshot's loss (the snapshot is not a minimum of
# the loss at that temperature), and the estimate collapses. Longer chains alone
# would not reach the theory's regime here. So from here on we call the number the
# chapter estimates $\hat\lambda$, and read it as a sharpness: computed with the
# same settings and data at every snapshot, it says where the loss becomes more
# sensitive to the weights, and where less. Hoogland et al. and Wang et al.
# calibrated larger models with longer chains; we do not know from their papers
# in which regime their estimates were.

# %%
escaped = grid[100, 1e-3].loss_trace[0, -20:].mean()
settled = four.loss_trace[:, -50:].mean()
print(
    f"gamma 100, eps 1e-3: the chain ends at loss {escaped:.2f} (ln 64 = {untrained_loss:.2f})"
)
print(
    f"chosen setting: the chains sit at {settled:.2f}, the snapshot at {four.init_loss:.2f}"
)
# null: a chain that stays in the basin sits near L(w*) (printed), far below ln 64
claims.claim(
    "weak localisation lets the chain escape",
    escaped,
    ">",
    untrained_loss - 0.2,
    null=four.init_loss,
)
# null: an escaping chain ends above the untrained loss (as the one above); the chosen
# one stays within 0.5 nats of L(w*)
rise_chosen, rise_escaped = settled - four.init_loss, escaped - four.init_loss
claims.claim(
    "the chosen chains stay near the snapshot",
    rise_chosen,
    "<",
    0.5,
    null=rise_escaped,
)
slow = last_pass_drift(grid[1000, 1e-5])
print(f"the same check on the chain with eps 1e-5 (still settling): {slow:+.1%}")
# null: a chain still settling (eps 1e-5, printed) rises by about a third of its rise
# in its last pass. Settled: the last pass moves the loss by under a tenth of it
claims.claim("the chosen chains have settled", abs(drift), "<", 0.1, null=abs(slow))
# null: chains that disagree would spread by as much as the estimate itself
claims.claim(
    "independent chains agree",
    four.llc_std,
    "<",
    0.1 * four.llc,
    null=four.llc,
    log=True,
)
# null: an estimate the loss confines (the theory's regime) would not change with
# n*beta (ratio 1); one the localisation confines scales with it (ratio 10)
claims.claim(
    "at these settings the localisation sets the estimate",
    nbeta_ratio,
    ">",
    8,
    null=1,
)

# %% [markdown]
# ```{admonition} Exercise 1: the estimate from the traces (easy, 5 minutes)
# :class: note
# Write `my_llc(loss_trace, init_loss, n_beta)` that returns $\hat\lambda$ per
# chain from the chains' losses: `loss_trace` is (chains, steps), `init_loss` the
# snapshot's loss $L_n(w^*)$, a float; return a (chains,) array. `devinterp`
# averages over every step, the first ones included.
# ```
#
# ```{admonition} Hint
# :class: dropdown
# $\hat\lambda = n\beta\,(\text{mean loss along the chain} - L_n(w^*))$, one mean per row.
# ```


# %%
def my_llc(loss_trace: np.ndarray, init_loss: float, n_beta: float) -> np.ndarray:
    raise NotImplementedError("your code here")


llc_from_trace = exercises.check(
    my_llc, lc.llc_from_trace, lc.exercise_cases("llc_from_trace")
)
print(
    "the four chains again:",
    np.round(llc_from_trace(four.loss_trace, four.init_loss, N_BETA), 2),
)

# %% [markdown]
# The solution (collapsed; click to open):


# %% tags=["hide-input"] jupyter={"source_hidden": true}
def llc_solution(loss_trace, init_loss, n_beta):
    return n_beta * (loss_trace.mean(axis=1) - init_loss)  # (chains,)


claims.exact(
    "the solution to exercise 1 (the estimate from the traces) is right",
    *exercises.passes(
        llc_solution, lc.llc_from_trace, lc.exercise_cases("llc_from_trace")
    ),
)

# %% [markdown]
# ## 2. Stages of the induction run
#
# Now the same estimator, with the chosen settings and one chain, every 100 steps up
# to step 1,000 and at 1,250 and 1,500, on the two-layer run and on the one-layer
# control, which never forms an induction head.
#
# ```{admonition} Predict before you run
# :class: tip
# At these settings the estimate measures how sharply the loss rises when the
# weights move. When the induction circuit forms, do you expect it to rise (more
# structure to keep in place) or fall (a simpler solution replaces a more
# complicated one)? Smoothly, or at once?
# ```

# %%
ONE = lc.SGLDSettings(**{**vars(CHOSEN), "num_chains": 1})
# every 100 steps through the phase change, then two points on the plateau
grid_steps = np.r_[0:1001:100, 1250, 1500]
llc2 = np.array(
    [lc.estimate_llc(run2.model_at(s), data, ONE).llc for s in grid_steps]
)
llc1 = np.array(
    [lc.estimate_llc(run1.model_at(s), data, ONE).llc for s in grid_steps]
)
print("two layers:", np.round(llc2, 2))
print("one layer: ", np.round(llc1, 2))

# %% [markdown]
# Section 1 argued that at these settings $\hat\lambda \approx n\beta\operatorname{tr}(H)/2\gamma$.
# We can check that at every snapshot by measuring the trace of the Hessian
# directly. The Hessian of a model with tens of thousands of weights is too big
# to form, but its products with a vector $Hv$ cost about two backward passes, and
# **Hutchinson's estimator** needs only those: for a random vector $v$ with
# independent entries $\pm 1$, $\mathbb E[v^\top H v] = \sum_{ij} H_{ij}\,\mathbb E[v_i v_j] = \operatorname{tr}(H)$.
# Averaging $v^\top H v$ over a few probes estimates the trace. (`lc.hessian_trace`
# gives each probe its own slice of the 1,024 sequences: the trace is linear in the
# loss, so each slice's estimate is unbiased for the whole, and 16 probes cost one
# Hessian-vector product over the data.) We correct the prediction by the factor
# $1/(1 - \epsilon\gamma/4)$ of section 1: the discrete chain spreads that much wider
# than the continuous one.
#
# ```{admonition} Exercise 2: Hutchinson's estimator (easy, 5 minutes)
# :class: note
# Write `my_hutchinson(hvp, probes)`: `hvp(v)` returns $Hv$ for a flat vector `v`;
# `probes` is an (n_probes, dim) tensor of $\pm 1$ entries. Return the mean of
# $v^\top H v$ over the probes, as a float. The traces below use your function.
# ```
#
# ```{admonition} Hint
# :class: dropdown
# Loop over the rows of `probes`; `v @ hvp(v)` is $v^\top H v$.
# ```


# %%
def my_hutchinson(hvp, probes: torch.Tensor) -> float:
    raise NotImplementedError("your code here")


hutchinson = exercises.check(
    my_hutchinson, lc.hutchinson, lc.exercise_cases("hutchinson")
)

# %% [markdown]
# The solution (collapsed; click to open):


# %% tags=["hide-input"] jupyter={"source_hidden": true}
def hutchinson_solution(hvp, probes):
    return float(torch.stack([v @ hvp(v) for v in probes]).mean())  # mean of v'Hv


claims.exact(
    "the solution to exercise 2 (Hutchinson's estimator) is right",
    *exercises.passes(
        hutchinson_solution, lc.hutchinson, lc.exercise_cases("hutchinson")
    ),
)

# %%
traces = np.array(
    [
        lc.hessian_trace(run2.model_at(s), data, seed=SEED, estimator=hutchinson)
        for s in grid_steps
    ]
)  # (snapshot, 2): tr(H) and its standard error
widen = 1 / (1 - ONE.lr * ONE.localization / 4)  # the discrete chain's extra spread
sharpness = ONE.n_beta * traces[:, 0] / (2 * ONE.localization) * widen
print("tr(H), two layers:", np.round(traces[:, 0], 1))
print("  standard errors:", np.round(traces[:, 1], 1))
print("n*beta tr(H) / 2 gamma (corrected):", np.round(sharpness, 2))
print("LLC estimate / that:", np.round(llc2 / sharpness, 2))

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
axes[0].plot(grid_steps, llc2, "o-", ms=3, label="two layers")
axes[0].plot(grid_steps, llc1, "o-", ms=3, label="one layer (control)")
axes[0].errorbar(
    grid_steps,
    sharpness,
    yerr=sharpness * traces[:, 1] / traces[:, 0],
    fmt="k:",
    lw=1,
    label="n$\\beta$ tr(H) / 2$\\gamma$, two layers",
)
axes[0].set_title("LLC estimate (a sharpness here)", fontsize=10)
axes[0].legend(fontsize=9)
axes[1].plot(steps, run2.metric("icl"), label="two layers")
axes[1].plot(run1.metric("step"), run1.metric("icl"), label="one layer")
axes[1].axhline(BAG["icl"], color="k", ls=":", lw=1, label="bag of tokens")
axes[1].set_title("ICL score (nats)", fontsize=10)
axes[1].legend(fontsize=9)
for h in range(task.N_HEADS):
    label = h == 0
    axes[2].plot(
        steps,
        run2.metric(f"prefix L1H{h}"),
        "tab:blue",
        lw=1,
        label="prefix-matching, L1 heads" if label else None,
    )
    axes[2].plot(
        steps,
        run2.metric(f"prev L0H{h}"),
        "tab:red",
        lw=1,
        ls="--",
        label="previous-token, L0 heads" if label else None,
    )
axes[2].set_title("head scores (two layers)", fontsize=10)
axes[2].legend(fontsize=9)
for ax in axes:
    ax.axvspan(start, end, color="tab:orange", alpha=0.2)
    ax.set_xlabel("step")
fig.suptitle(
    "The estimate jumps when the induction heads form (shaded), with the Hessian's "
    "trace (dotted); the one-layer control only creeps up",
    fontsize=10,
)
fig.tight_layout()
plt.show()

# %% [markdown]
# The estimate follows the sharpness prediction at every snapshot (their ratio is
# printed above): what jumps in the phase change is the curvature of the loss.
#
# Stage boundaries are where the LLC curve changes regime: Hoogland et al. look for
# critical points, where its slope vanishes {cite}`hoogland2024developmental`. With
# a curve sampled every 100 steps (250 at the end) we mark the stretches where it
# rises faster than a third of its fastest rate, and the plateaus between them.

# %%
per_100 = np.diff(grid_steps) / 100
rise = np.diff(llc2) / per_100  # LLC gained per 100 steps
fast = rise > rise.max() / 3
i_fast = int(np.argmax(rise))
print("rise per 100 steps:", np.round(rise, 2))
print(
    "fast stretches:",
    [f"{grid_steps[i]}-{grid_steps[i + 1]}" for i in np.flatnonzero(fast)],
)
print(
    f"fastest rise {rise.max():.2f} between steps {grid_steps[i_fast]} and "
    f"{grid_steps[i_fast + 1]}; phase change {start}-{end}"
)
control_rise = (np.diff(llc1) / per_100).max()
print(f"one-layer control: fastest rise {control_rise:.2f}")
late = np.ptp(llc2[grid_steps >= end + 200])
print(f"from step {end + 200} on, the LLC moves by {late:.2f} in all")

# %%


def gap(i: int) -> float:
    """Steps between the grid interval i and the phase change (0: they overlap)."""
    return max(0, start - grid_steps[i + 1], grid_steps[i] - end)


# null: an LLC unrelated to the phase change (e.g. the snapshots shuffled) puts its
# fastest rise in any interval of the grid: the mean gap over all of them. The curve is
# sampled every 100 steps, so the rise is dated to one interval: asserted within one
# (at seed 0 the rise, 500-600, ends where the phase change starts)
gaps = [gap(i) for i in range(len(grid_steps) - 1)]
print(f"gap between the fastest rise and the phase change: {gap(i_fast)} steps")
claims.claim(
    "the estimate's fastest rise comes within 100 steps of the phase change",
    gap(i_fast),
    "<=",
    100,
    null=np.mean(gaps),
)
# null: the one-layer control, trained identically without a phase change (printed)
claims.claim(
    "a jump the control does not have",
    rise.max(),
    ">",
    2 * control_rise,
    null=control_rise,
)
# null: a curve that kept rising at its rate before the jump would move by about a
# third of its range over the last 700 steps or more
span = np.ptp(llc2)
claims.claim("a plateau after the jump", late, "<", 0.15 * span, null=span / 3)
# null: an estimate that did not follow tr(H) but matched it at one snapshot would be
# off elsewhere by as much as tr(H) changes over the run (its range, printed above)
mismatch = np.abs(np.log(llc2 / sharpness)).max()
print(f"largest mismatch: a factor {np.exp(mismatch):.2f}; tr(H) changes "
      f"{sharpness.max() / sharpness.min():.0f}-fold over the run")  # fmt: skip
claims.claim(
    "the estimate is n*beta tr(H)/2 gamma, within a factor 2 at every snapshot",
    mismatch,
    "<",
    np.log(2),
    null=np.log(sharpness.max() / sharpness.min()),
)

# %% [markdown]
# On this task $\hat\lambda$ shows three stages: a slow rise while the model learns
# what a bag of tokens knows (the tokens themselves are uniform, so there are no
# token statistics to learn; the ICL score creeps towards the bag's), a jump across
# the phase change, and a plateau in which the circuit sharpens (the ICL score
# still creeps up) without $\hat\lambda$ moving much. The jump is an *increase*:
# the induction circuit makes the loss sensitive to weights it did not care about
# before (a head's keys and queries now matter). Hoogland et al. found the LLC rising
# in the stage in which their language model forms induction heads
# {cite}`hoogland2024developmental`; ours is a sharpness, so the two agree in
# direction only.
#
# Hoogland et al. also report that the induction stage splits in two: first the
# previous-token heads form, with the loss barely moving and the LLC *falling*,
# then the rest of the circuit, with the LLC rising. Does this run show a fall? In
# it the previous-token heads form inside the phase change itself (the induction
# chapter asserts it, to within 100 steps), so we look there, from 200 steps before
# the phase change to its end, at the finest resolution the run saved: a snapshot
# every 50 steps.

# %%
fine_steps = [s for s in run2.snapshot_steps if start - 200 <= s <= end]
fine = np.array(
    [lc.estimate_llc(run2.model_at(s), data, ONE).llc for s in fine_steps]
)
print("steps:   ", fine_steps)
print("estimate:", np.round(fine, 2))
# one chain's estimate is noisy: the difference of two has a spread of about sqrt(2)
# times the chains' spread at the end (the largest, printed in section 1)
noise = np.sqrt(2) * four.llc_std
print(f"smallest change between neighbours: {np.diff(fine).min():+.2f} (a fall is negative; "
      f"the noise of a difference of two one-chain estimates: {noise:.2f})")  # fmt: skip
# null: a first substage like Hoogland et al.'s, a fall while the previous-token heads
# form; its size here is unknown, so take half the jump. Asserted: no fall beyond
# three times the noise
claims.claim(
    "no fall of the estimate while the circuit forms (50-step snapshots)",
    np.diff(fine).min(),
    ">",
    -3 * noise,
    null=-np.ptp(fine) / 2,
)

# %% [markdown]
# No fall beyond the noise: at this resolution the estimate rises through the
# phase change without a dip. Previous-token heads and induction heads form
# together here, and the sharpness only grows; a substage with a falling LLC, if
# our run has one, is either shorter than 50 steps, smaller than one chain's noise,
# or invisible to a sharpness. (Just after the jump, on the plateau, neighbouring
# one-chain estimates can differ by about that noise either way.) We see no stage with a
# falling $\hat\lambda$ in 1,500 steps; their model, trained for 50,000, had such
# stages.
#
# ## 3. Which heads? The refined LLC
#
# The LLC can be restricted in two ways {cite}`wang2024refined`. **Weight-refined**:
# let the chains move only one head's weights, keeping the rest at $w^*$, so the
# estimate measures how constrained that head is. **Data-refined**: measure the loss
# on one kind of data, so the estimate measures the complexity that data calls on.
# At our settings both are sharpnesses too: of the loss along one head's weights
# (the trace of that head's block of the Hessian), or of one kind of data's loss.
#
# To restrict a chain to a head we need that head's weights in the bridge's layout.
# `model.blocks[layer].attn` holds the projections `q`, `k`, `v` and `o`, each with every
# head of the layer side by side, as in an `nn.Linear`: `q.weight` is
# $(n_{\rm heads} d_{\rm head}, d_{\rm model})$, so head $h$ owns rows $h\, d_{\rm head}$
# to $(h+1)\, d_{\rm head} - 1$ of `q`, `k`, `v` (weights and biases), and the same
# columns of `o.weight`. The chains name a parameter as `model.named_parameters()` does.
#
# ```{admonition} Exercise 3: one head's weights (medium, 10 minutes)
# :class: note
# Write `my_head_masks(model, layer, head)` that returns
# `{parameter name: bool tensor shaped like the parameter}`, True exactly on the
# weights of head `head` in `layer`, for the seven parameters a head owns a part of
# (`q`, `k`, `v` weight and bias, `o` weight; `o`'s bias is shared by all heads).
# `model.cfg.d_head` is $d_{\rm head}$.
# ```
#
# ```{admonition} Hint
# :class: dropdown
# A tensor's name: `name_of = {id(p): name for name, p in model.named_parameters()}`, then
# `name_of[id(attn.q.weight)]`. Set `mask[h * d : (h + 1) * d] = True` for `q`, `k`, `v`,
# and `mask[:, h * d : (h + 1) * d] = True` for `o.weight`.
# ```


# %%
def my_head_masks(model, layer: int, head: int) -> dict[str, torch.Tensor]:
    raise NotImplementedError("your code here")


head_masks = exercises.check(
    my_head_masks,
    lc.head_masks,
    lc.exercise_cases("head_masks", model=final),
    lc.compare_masks,
)

# %% [markdown]
# The solution (collapsed; click to open):


# %% tags=["hide-input"] jupyter={"source_hidden": true}
def head_masks_solution(model, layer, head):
    d, attn = model.cfg.d_head, model.blocks[layer].attn
    name_of = {id(p): name for name, p in model.named_parameters()}
    rows = [getattr(attn, proj).weight for proj in "qkv"]
    rows += [getattr(attn, proj).bias for proj in "qkv"]
    masks = {}
    for p in rows + [attn.o.weight]:
        mask = torch.zeros_like(p, dtype=torch.bool)
        if p is attn.o.weight:
            mask[:, head * d : (head + 1) * d] = True  # columns of o
        else:
            mask[head * d : (head + 1) * d] = True  # rows of q, k, v
        masks[name_of[id(p)]] = mask
    return masks


claims.exact(
    "the solution to exercise 3 (one head's weights) is right",
    *exercises.passes(
        head_masks_solution,
        lc.head_masks,
        lc.exercise_cases("head_masks", model=final),
        lc.compare_masks,
    ),
)

# %% [markdown]
# Every head's weight-refined LLC, before the phase change and after it, beside what
# the usual tools say about the same snapshots: the head scores, and an ablation
# score (how much the ICL score drops when the head's output is zeroed).

# %%
BEFORE = int(grid_steps[grid_steps <= start - 100].max())
AFTER = int(grid_steps[grid_steps >= end + 100].min())
names = [f"L{l}H{h}" for l in range(2) for h in range(task.N_HEADS)]


def zero_ablation(model):
    """ICL score lost when each head's output is zeroed: (8,), in nats."""
    clean = task.scores(model)["icl"]
    lost = []
    for layer in range(2):
        for h in range(task.N_HEADS):
            with torch.no_grad():
                logits = model.run_with_hooks(
                    task.TEST_TOKENS, fwd_hooks=[hooks.zero_heads(layer, [h])]
                )
            loss = task.per_token_loss(logits, task.TEST_TOKENS)
            lost.append(clean - task.icl_score(loss, task.PERIOD))
    return np.array(lost)


refined, ablation, head_scores = {}, {}, {}
for s in (BEFORE, AFTER):
    m = run2.model_at(s)
    refined[s] = np.array(
        [
            lc.estimate_llc(m, data, ONE, masks=head_masks(m, l, h)).llc
            for l in range(2)
            for h in range(task.N_HEADS)
        ]
    )
    ablation[s] = zero_ablation(m)
    sc = task.scores(m)
    head_scores[s] = np.array(
        [sc[f"prev L0H{h}"] for h in range(task.N_HEADS)]
        + [sc[f"prefix L1H{h}"] for h in range(task.N_HEADS)]
    )
print(
    f"{'head':>6} | {'wrLLC':^15} | {'ICL lost (nats)':^15} | prev (L0) / prefix (L1)"
)
print(
    f"{'':>6} | {BEFORE:>6}  {AFTER:>6} | {BEFORE:>6}  {AFTER:>6} | {BEFORE:>6}  {AFTER:>6}"
)
for i, name in enumerate(names):
    print(
        f"{name:>6} | {refined[BEFORE][i]:6.3f}  {refined[AFTER][i]:6.3f} | "
        f"{ablation[BEFORE][i]:6.2f}  {ablation[AFTER][i]:6.2f} | "
        f"{head_scores[BEFORE][i]:6.2f}  {head_scores[AFTER][i]:6.2f}"
    )

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
x = np.arange(len(names))
for ax, values, title in [
    (axes[0], refined, "weight-refined LLC"),
    (axes[1], ablation, "ICL score lost when zeroed (nats)"),
    (axes[2], head_scores, "prev-token (L0) / prefix-matching (L1) score"),
]:
    ax.bar(x - 0.2, values[BEFORE], 0.4, label=f"step {BEFORE}")
    ax.bar(x + 0.2, values[AFTER], 0.4, label=f"step {AFTER}")
    ax.set_xticks(x, names, fontsize=9, rotation=45)
    ax.set_title(title, fontsize=10)
axes[0].legend(fontsize=9)
fig.suptitle(
    "Across the phase change the refined LLC grows in both layers, layer 0's most; "
    "ablation costs vary from head to head",
    fontsize=10,
)
fig.tight_layout()
plt.show()

# %% [markdown]
# Now the data-refined LLC of the whole model: on sequences that need induction
# (8 random tokens repeated 4 times, the test set of the induction chapter), and
# on fresh random tokens with no repeats, which no copying can help with.

# %%
repeated = task.repeated_random_tokens(
    1024, task.PERIOD, task.N_VOCAB, repeats=4,
    generator=torch.Generator().manual_seed(SEED + 101),
)  # fmt: skip
fresh = torch.randint(
    task.N_VOCAB,
    (1024, task.N_CTX),
    generator=torch.Generator().manual_seed(SEED + 102),
)
by_data = {
    kind: np.array(
        [lc.estimate_llc(run2.model_at(s), d, ONE).llc for s in (BEFORE, AFTER)]
    )
    for kind, d in [("repeated", repeated), ("fresh", fresh)]
}
for kind, v in by_data.items():
    print(
        f"data-refined LLC on {kind:>8} tokens: step {BEFORE} {v[0]:.2f} -> step {AFTER} {v[1]:.2f}"
    )
gain = {kind: v[1] - v[0] for kind, v in by_data.items()}

# %%
rise_l0 = refined[AFTER][:4] - refined[BEFORE][:4]
rise_l1 = refined[AFTER][4:] - refined[BEFORE][4:]
print(
    "wrLLC rise, layer 0:", np.round(rise_l0, 3), " layer 1:", np.round(rise_l1, 3)
)
weakest = int(np.argmin(head_scores[AFTER][:4]))
print(
    f"lowest previous-token score in layer 0: L0H{weakest} "
    f"({head_scores[AFTER][weakest]:.2f}); its wrLLC grew "
    f"{refined[AFTER][weakest] / refined[BEFORE][weakest]:.1f}x"
)
growth = [
    refined[AFTER][i].mean() / refined[BEFORE][i].mean()
    for i in (slice(0, 4), slice(4, 8))
]
print(
    f"mean wrLLC after / before: layer 0 {growth[0]:.1f}x, layer 1 {growth[1]:.1f}x"
)
# null: heads the new circuit does not constrain keep their wrLLC (ratio 1)
claims.claim("the heads of both layers grow", min(growth), ">", 1.5, null=1)
w_before, w_after = refined[BEFORE][weakest], refined[AFTER][weakest]
claims.claim(
    "the weakest previous-token head grows too",
    w_after,
    ">",
    1.5 * w_before,
    null=w_before,
)
# null: no difference between the layers gives a ratio of 1
claims.claim(
    "layer 0's heads grow most",
    rise_l0.mean(),
    ">",
    1.5 * rise_l1.mean(),
    null=rise_l1.mean(),
)
# null: complexity that does not depend on the data gains as much on fresh tokens,
# which copying cannot help (ratio 1)
claims.claim(
    "the jump is in what induction data uses",
    gain["repeated"],
    ">",
    1.5 * gain["fresh"],
    null=gain["fresh"],
)

# %% [markdown]
# What the two lenses see here (the table above has the numbers):
#
# - **The refined LLC grows in both layers**, layer 0's most, and that includes
#   the layer-0 head whose previous-token score stays lowest (printed above):
#   whatever that head does, the new circuit constrains it. Our hypothesis for why
#   layer 0 grows most: its heads' outputs feed every induction head's keys, so
#   moving their weights disturbs both layers, where a layer-1 head's weights disturb
#   only its own output.
# - **The two lenses answer different questions.** An ablation asks how much the ICL
#   score needs one head's output, given all the others; heads that do the same job
#   cover for each other, so the cost varies from head to head (the table). The
#   refined LLC asks how sharply the loss pins one head's weights, and it rose in
#   both layers. Wang et al. also found heads that one tool separates and the other
#   does not {cite}`wang2024refined`.
# - **The data-refined LLC places the jump in the induction data.** On repeated
#   tokens the LLC rises much more across the phase change than on fresh tokens,
#   where copying cannot lower the loss.
#
# Wang et al.'s model, larger and trained on text, has heads that specialise into
# several kinds, which the refined LLC separates. Ours has only two jobs to learn,
# and all four layer-1 heads learn the same one.
#
# ## 4. Grokking through the same lens
#
# `devinterp`'s grokking example reports that the LLC of a network learning modular
# addition first rises while it memorises, then falls while it generalises. We can
# ask whether the fall belongs to grokking, because a grokking run has a natural
# control: the same run without weight decay, for the same number of steps, which
# memorises as fast but generalises more slowly.
#
# The network is chapter 2's: He et al.'s two-layer network, $p = 23$, 512 neurons,
# 75% of the pairs, AdamW at lr $10^{-4}$, weight decay 2, full batch
# {cite}`he2026modular`. The two runs take about a minute together.

# %%
P, WIDTH, FRAC = 23, 512, 0.75  # chapter 2's grokking run, He et al.'s settings
pairs = modular_addition_data(P, FRAC, seed=SEED)
rows = torch.stack([pairs.a, pairs.b, pairs.labels], dim=1)  # (p^2, 3): a, b, c
train_rows, test_rows = rows[pairs.train_mask], rows[~pairs.train_mask]


def accuracy(model, rows):
    with torch.no_grad():
        answers = model(rows[:, 0], rows[:, 1]).argmax(-1).cpu()
    return float((answers == rows[:, 2]).float().mean())


def grokking_run(weight_decay, steps):
    return train(
        ModularMLP(P, WIDTH, activation="relu", seed=SEED),
        train_rows.unbind(1),  # a, b, c
        lambda model, a, b, c: cross_entropy(model(a, b), c),
        TrainConfig(
            steps=steps,
            lr=1e-4,
            weight_decay=weight_decay,
            seed=SEED,
            log_every=500,
            snapshot_steps=tuple(range(0, steps + 1, 1000)),
        ),
        evaluate=lambda m: {
            "train_acc": accuracy(m, train_rows),
            "test_acc": accuracy(m, test_rows),
        },
        name=f"llc-grokking-wd{weight_decay:g}",
        config={"p": P, "width": WIDTH, "frac": FRAC, "v": 1},
    )


groks = grokking_run(weight_decay=2.0, steps=12_000)
control = grokking_run(weight_decay=0.0, steps=12_000)


def memorised_at(run):
    """First logged step with every training pair right."""
    return int(run.metric("step")[np.argmax(run.metric("train_acc") == 1.0)])


print(
    f"memorised (train accuracy 1) at step {memorised_at(groks)} with weight decay, "
    f"{memorised_at(control)} without"
)

# %% [markdown]
# Section 1 calibrated the sampler on the transformer; this is another model, with
# another loss scale, so we check it again here: does the estimate scale with
# $n\beta$ (on the control's last snapshot), and `devinterp`'s health check, the
# share of draws whose loss is *below* the snapshot's. A chain sampling around a
# minimum stays above it but for the batch noise; snapshots trained with weight
# decay are not minima of the loss the chains sample (it has no weight decay), so
# their chains can slide downhill. Beside our
# settings we run the example's own: $\epsilon = 3\cdot 10^{-3}$, $n\beta = 2$,
# $\gamma = 5$, 500 draws.

# %%
loss = ("modular-addition", lc.modular_addition_loss)
full_batch = {"batch_size": len(train_rows)}  # full batch, as in training
SETTINGS = {
    "ours": lc.SGLDSettings(**{**vars(ONE), **full_batch}),
    "devinterp's example": lc.SGLDSettings(
        lr=3e-3, n_beta=2, localization=5, num_chains=1, num_draws=500, seed=SEED,
        **full_batch,
    ),
}  # fmt: skip
end_control = control.model_at(control.snapshot_steps[-1])
mlp_ratio = {
    name: lc.estimate_llc(
        end_control, train_rows, lc.SGLDSettings(**{**vars(s), "n_beta": 10 * s.n_beta}),
        loss=loss,
    ).llc
    / lc.estimate_llc(end_control, train_rows, s, loss=loss).llc
    for name, s in SETTINGS.items()
}  # fmt: skip
print("LLC at 10x n*beta / at n*beta, control's last snapshot:", mlp_ratio)
curves = {}  # (settings, run) -> (snapshot steps, estimates, losses, share below L(w*))
for name, settings in SETTINGS.items():
    for label, run in [("weight decay 2", groks), ("no weight decay", control)]:
        snaps = run.snapshot_steps
        est = [
            lc.estimate_llc(run.model_at(s), train_rows, settings, loss=loss)
            for s in snaps
        ]
        curves[name, label] = (
            np.array(snaps),
            np.array([e.llc for e in est]),
            np.array([e.init_loss for e in est]),
            np.array([e.below_init for e in est]),
        )
        print(f"{name}, {label}: LLC", np.round(curves[name, label][1], 2))
        print(
            f"{'':>{len(name)}}  draws below L(w*):",
            np.round(curves[name, label][3], 2),
        )

# %%
untrained_mlp = np.log(P)  # the loss of a network that knows nothing
mean_loss = {  # the chains' mean loss: L(w*) + estimate / (n beta)
    key: c[2] + c[1] / SETTINGS[key[0]].n_beta for key, c in curves.items()
}
fig, axes = plt.subplots(1, 4, figsize=(15, 3.2))
for label, run in [("weight decay 2", groks), ("no weight decay", control)]:
    snaps, llc, train_loss, _ = curves["ours", label]
    axes[0].semilogy(snaps[1:], llc[1:], "o-", ms=3, label=label)
    axes[1].plot(
        snaps, mean_loss["devinterp's example", label], "o-", ms=3, label=label
    )
    axes[2].plot(run.metric("step"), run.metric("test_acc"), label=label)
    axes[3].semilogy(snaps, train_loss, "o-", ms=3, label=label)
axes[1].axhline(untrained_mlp, color="k", ls=":", lw=1, label="untrained (ln 23)")
axes[0].set_title("LLC estimate, our settings (log)", fontsize=10)
axes[1].set_title("chains' mean loss, the example's settings", fontsize=10)
axes[2].set_title("test accuracy", fontsize=10)
axes[3].set_title("training loss at the snapshot", fontsize=10)
axes[0].legend(fontsize=9)
axes[1].legend(fontsize=9)
for ax in axes:
    ax.set_xlabel("step")
fig.suptitle(
    "At our settings the estimate rises while the network memorises and falls with the "
    "training loss, grokking or not; at the example's the chains leave the basin",
    fontsize=10,
)
fig.tight_layout()
plt.show()

# %%
steps_g, llc_g, loss_g, below_g = curves["ours", "weight decay 2"]
steps_c, llc_c, loss_c, below_c = curves["ours", "no weight decay"]
memorised = memorised_at(groks)
peak = int(steps_g[np.argmax(llc_g)])
test_steps = groks.metric("step")
test_g, test_c = groks.metric("test_acc"), control.metric("test_acc")
t90 = int(np.argmax(test_g > 0.9)) if (test_g > 0.9).any() else len(test_g) - 1
print(f"memorised at step {memorised}; the estimate peaks at step {peak}")
print(
    f"the grokking run passes 0.9 test accuracy at step {test_steps[t90]}; the control "
    f"is then at {test_c[t90]:.2f}, and ends at {test_c[-1]:.2f}"
)
print(
    f"estimate at the end / at the peak: {llc_g[-1] / llc_g.max():.2f} (grokking run), "
    f"{llc_c[-1] / llc_c.max():.2f} (control)"
)
peak_c = int(steps_c[np.argmax(llc_c)])
print(f"the control's estimate peaks at step {peak_c}")
after = steps_g >= memorised  # snapshots from memorisation on
later = steps_g >= memorised + 500  # ... from the first snapshot after it
# the grokking run generalises more, and its training loss stays higher (right panel)
ratio_gc = llc_g[later] / np.maximum(
    llc_c[later], 1e-6
)  # an estimate <= 0: far lower
print(
    "estimate, grokking run / control, after memorisation:", np.round(ratio_gc, 1),
    "\ntraining loss, grokking run / control:", np.round(loss_g[later] / loss_c[later], 1),
)  # fmt: skip
print(f"draws below L(w*), our settings, from memorisation on: at most "
      f"{max(below_g[after].max(), below_c[after].max()):.2f}")  # fmt: skip
first = int(np.argmax(after))  # the first snapshot after memorisation
model_first = groks.model_at(int(steps_g[first]))
trace_first, _ = lc.hessian_trace(
    model_first, train_rows, seed=SEED, loss=lc.modular_addition_loss
)
quadratic = SETTINGS["ours"].n_beta * trace_first / (2 * ONE.localization) * widen
print(
    f"step {steps_g[first]}: estimate {llc_g[first]:.2f}, n*beta tr(H)/2 gamma "
    f"{quadratic:.3f} (tr(H) = {trace_first:.2f})"
)
example = [
    mean_loss["devinterp's example", label][after]
    for label in ("weight decay 2", "no weight decay")
]
lowest_chain = min(m.min() for m in example)  # from memorisation on
print(f"the example's settings: the chains' mean loss from memorisation on is at least {lowest_chain:.2f}; "
      f"ln 23 = {untrained_mlp:.2f}")  # fmt: skip

# %%
# null: a control that took twice as long to memorise (a difference as large as the
# time itself). Memorisation is logged every 500 steps: the same, to within one log
claims.claim(
    "both runs memorise at the same time",
    abs(memorised - memorised_at(control)),
    "<=",
    500,
    null=memorised,
)
# null: a curve rising all along peaks at the last step; "around": within one
# snapshot (1,000 steps) of memorisation, in both runs
claims.claim(
    "the estimate peaks around memorisation in both runs, not before",
    min(peak, peak_c),
    ">=",
    memorised - 1000,
    null=steps_g[0],
)
claims.claim(
    "the estimate peaks around memorisation in both runs, not after",
    max(peak, peak_c),
    "<=",
    memorised + 1000,
    null=steps_g[-1],
)
# null: the network when it has just memorised (its test accuracy, printed)
claims.claim(
    "the run groks",
    test_g[-1],
    ">",
    0.9,
    null=test_g[np.argmax(test_steps >= memorised)],
)
# null: a control that generalised as fast would match the grokking run (difference 0)
claims.claim(
    "the control generalises less, at the same step",
    test_g[t90] - test_c[t90],
    ">",
    0.05,
    null=0,
)
# null: an estimate that stays at its peak gives 1
claims.claim(
    "the estimate falls while the network groks",
    llc_g[-1],
    "<",
    0.2 * llc_g.max(),
    null=llc_g.max(),
)
claims.claim(
    "the estimate falls as much in the control",
    llc_c[-1],
    "<",
    0.2 * llc_c.max(),
    null=llc_c.max(),
)
# null: an estimate that measured how simple the solution had become would be lower
# in the run that generalises (ratio < 1); one that follows the training loss is
# higher there, at every snapshot after memorisation. "Higher": by half at least
claims.claim(
    "the grokking run, with the higher training loss, has the higher estimate",
    np.log(ratio_gc.min()),
    ">",
    np.log(1.5),
    null=0,
)
# null: chains sliding downhill from a snapshot that is not a minimum sit below L(w*)
# all the time (1)
claims.claim(
    "health check: our chains do not slide below L(w*)",
    max(below_g[after].max(), below_c[after].max()),
    "<",
    0.25,
    null=1,
)
# null: a tenfold n*beta scales an estimate the loss confines by 1
claims.claim(
    "on the MLP too, our settings are in the localisation's regime",
    mlp_ratio["ours"],
    ">",
    8,
    null=1,
)
# null: the transformer's ratio of section 2, about 1: a loss quadratic at the
# chains' scale
claims.claim(
    "on this ReLU network the estimate is far above the Hessian's prediction",
    llc_g[first] / quadratic,
    ">",
    3,
    null=1,
)
# null: chains that stay in the basin sit near L(w*): at most the highest snapshot
# loss from memorisation on
claims.claim(
    "at the example's settings the chains leave the basin",
    lowest_chain,
    ">",
    untrained_mlp,
    null=max(loss_g[after].max(), loss_c[after].max()),
)

# %% [markdown]
# What the two runs show:
#
# - **Memorisation and its peak.** Both runs fit every training pair by the same
#   logged step, and at our settings the estimate peaks within a snapshot of it, in
#   both, as in `devinterp`'s example.
# - **The fall is not specific to grokking.** The estimate falls afterwards in the
#   control too, which generalises less by the same step, and there too to under a
#   fifth of its peak. If it measured how simple the solution had become, it would
#   end lower in the run that generalises; it is higher there at every snapshot
#   after memorisation, where the training loss is higher too (both ratios printed
#   above). Once the training pairs are fitted with confidence the softmax
#   saturates and the loss is flat in almost every direction, so a localised chain
#   barely raises it. A falling estimate here goes with a falling training loss; it
#   is no evidence that the solution became simpler.
# - **Not the Hessian's trace either.** On this ReLU network the estimate is many
#   times what $n\beta\operatorname{tr}(H)/2\gamma$ predicts (printed above),
#   unlike the transformer's of section 2. Our reading: the chains move each weight
#   by about $1/\sqrt\gamma$, enough to switch ReLUs on and off, so the loss is not
#   quadratic at the scale they explore, and the Hessian at $w^*$ does not see the
#   kinks. The estimate is the mean rise of the loss over that ball: a sharpness at
#   a finite scale.
# - **The health check passes at our settings**: from memorisation on, fewer than
#   a quarter of the draws sit below the snapshot's loss (the largest share is
#   printed above), so the chains around the weight-decay snapshots are not sliding
#   downhill.
# - **The example's own settings do not transfer.** With $\gamma = 5$ and
#   $\epsilon = 3\cdot 10^{-3}$ the chains on this network climb far above the
#   untrained loss $\ln 23$ at every snapshot from memorisation on: they leave the
#   basin, and their estimates describe no snapshot. The example calibrated them on its own network
#   ($p = 53$, section 6's table); settings have to be calibrated for each model, as
#   section 1 did for the transformer.
#
# ## 5. Watch it happen
#
# The induction run once more, snapshot by snapshot: the LLC estimate beside the
# best induction head's prefix-matching score. Drag the slider (or play the
# animation on the website): the two leave their plateaus together.


# %%
def draw(fig, step):
    ax1, ax2 = fig.subplots(1, 2)
    seen = grid_steps <= step
    ax1.plot(grid_steps[seen], llc2[seen], "o-", ms=3, label="two layers")
    ax1.plot(grid_steps[seen], llc1[seen], "o-", ms=3, label="one layer")
    ax1.set(xlim=(-50, task.STEPS + 50), ylim=(0, 1.1 * llc2.max()), xlabel="step")
    ax1.set_title("LLC estimate", fontsize=10)
    ax1.legend(fontsize=9, loc="upper left")
    logged = steps <= step
    ax2.plot(steps[logged], prefix_best[logged], color="tab:green")
    ax2.set(xlim=(-50, task.STEPS + 50), ylim=(0, 1), xlabel="step")
    ax2.set_title("best prefix-matching score, layer 1", fontsize=10)
    fig.suptitle(f"step {step}", fontsize=10)
    fig.tight_layout()


plotting.snapshot_view(draw, [int(s) for s in grid_steps], figsize=(10, 3))

# %% [markdown]
# ## 6. What changed from the papers, and why
#
# | | papers | this chapter |
# |---|---|---|
# | model | 2 layers x 8 heads, $d_{\rm model} = 256$, trained on natural text for 50k steps {cite}`hoogland2024developmental,wang2024refined` | 2 layers x 4 heads, $d_{\rm model} = 64$, the induction task for 1,500 steps (the induction chapter's run) |
# | sampler | calibrated on their models, with longer chains | $\epsilon = 3\cdot 10^{-4}$, $n\beta = 30$ (`devinterp`'s quick-start value), $\gamma = 1000$, 1 chain x 96 draws per snapshot (4 chains for the check) |
# | what $\hat\lambda$ measures | the learning coefficient | a sharpness, $n\beta\operatorname{tr}(H)/2\gamma$ (section 1), checked against Hutchinson's $\operatorname{tr}(H)$ (section 2) |
# | snapshots | log-spaced, hundreds | 13: every 100 steps to 1,000, then 1,250 and 1,500 |
# | stages | critical points of the smoothed LLC curve | stretches rising faster than a third of the fastest rise |
# | grokking | an MLP, $p = 53$, 25k steps, $\epsilon = 3\cdot 10^{-3}$, $n\beta = 2$, $\gamma = 5$, 500 draws (`devinterp`'s example) | He et al.'s network of chapter 2, 12k steps, at section 1's settings and at the example's; a control without weight decay, as long |
#
# The sampler's settings come from the calibration of section 1, on this model: with
# weaker localisation ($\gamma = 100$) our chains escaped. Our estimates are in the
# localisation-dominated regime (they scale with $n\beta$), which is enough to compare
# snapshots and heads at fixed settings but not to read $\hat\lambda$ as the theory's
# learning coefficient; `benchmarks/llc_regime.md` measures what reaching that regime
# would take. The grokking section trains its own copy of chapter 2's run,
# snapshotted every 1,000 steps, and a control as long.
#
# ## Summary
#
# - The LLC counts the directions in which the loss pins the weights near a
#   snapshot. Its SGLD estimate depends on the step size, the temperature and the
#   localisation; the chains' loss traces show a setting that escapes, diverges or
#   has not settled, and settings calibrated on one model need not hold on another.
# - Where the localisation confines the chains, as at the settings a laptop affords
#   here, the estimate is a sharpness, $n\beta\operatorname{tr}(H)/2\gamma$ on the
#   transformer (checked against Hutchinson's trace), not the theory's coefficient:
#   it scales with $n\beta$.
# - Read as a sharpness, it shows the induction run's stages: a slow rise, a jump
#   at the phase change that the head scores date, and a plateau. The one-layer
#   control has no jump.
# - Restricted to one head, it finds every head's weights more constrained after
#   the phase change, layer 0's most, where ablations single out the heads the ICL
#   score cannot do without; restricted to induction data, it places the jump in
#   what that data uses.
# - Over a grokking run it rises during memorisation and falls afterwards, as
#   `devinterp`'s example reports, but it falls as much in a control that
#   generalises less: it follows the training loss, and a fall is not specific to
#   grokking.
#
# **Tools you built and used:** the LLC from the chains' traces, Hutchinson's
# estimate of the Hessian's trace, and one head's weights as masks for the
# weight-refined LLC; a calibration grid read from loss traces, a test of the
# estimate's scaling with $n\beta$ and devinterp's health check; stage boundaries
# from an LLC curve.
#
# **Next:** [repeated data](repeated_data.ipynb) trains the induction task with a
# small pool of sequences repeated, and watches the circuit fail to form. Every
# chapter of the book saves its runs' snapshots; each is a curve waiting for this
# lens (the third of the exercises below).
#
# ## Exercises
#
# 1. Calibrate the estimator for the smeared-key model of the induction chapter
#    (`ind.add_smeared_keys`, trained with `task.train_model`), then find its stages.
#    Does its LLC jump, and when?
# 2. Run `benchmarks/llc_regime.py` on the snapshots before and after the phase
#    change (`--step 500`, `--step 800`). Does the estimate stop scaling with $n\beta$
#    at the largest $n\beta$ there, and does the jump survive?
# 3. Measure the grokking network's LLC of section 4 on the *test* pairs instead of
#    the training pairs (a data-refined LLC on data it has not fitted). Does it still
#    fall in the control?
# 4. Estimate the LLC over chapter 1's grokking transformer (`grokking.grokking_transformer`,
#    loss `lc.modular_addition_loss` needs rows of $(a, b, c)$: write the transformer's
#    version). Does it tell memorisation, circuit formation and clean-up apart?
#
# The works cited here are listed on the [references](../book/references.md) page.
