# ---
# jupyter:
#   jupytext:
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

# %%

# %% [markdown]
# # When does a network grok? A phase diagram
#
# The [previous chapter](grokking_network.ipynb) watched one network grok. Whether
# and when a network groks depends on how much data it sees and how hard weight
# decay pulls on its weights. Power et al. {cite}`power2022grokking` and Liu et
# al. {cite}`liu2023omnigrok` mapped this as a phase diagram. Here we draw that
# map for He et al.'s two-layer network {cite}`he2026modular`, training 75
# networks at once as one tensor program.
#
# ```{admonition} Learning objectives
# :class: tip
# - Read a phase diagram of training: memorisation, grokking, and no fit.
# - Tell memorisation from generalisation with test pairs that memory cannot answer.
# - Train many small models as one tensor program (`Ensemble`).
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
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from toylab import claims, exercises, plotting
from toylab import grokking_phase_diagram as pd
from toylab.data import modular_addition_data
from toylab.ensemble import Ensemble
from toylab.models import ModularMLP
from toylab.train import TrainConfig, train

plotting.use_book_style()

# %% [markdown]
# ## 1. The network and the data
#
# The network of the previous chapter,
# $\text{logit}_c = \sum_m \xi_m[c]\,\mathrm{ReLU}(\theta_m[a] + \theta_m[b])$, at
# $p = 23$, now 128 neurons wide. Each network gets its own random training pairs
# (a fraction of all $p^2 = 529$) and its own weight decay; every network is
# tested on all the pairs it did not see. The network is symmetric in $a$ and
# $b$, so a held-out pair whose swap $(b, a)$ was trained on is answered by
# memory; the pairs whose swap is held out too are the ones only an algorithm
# can answer (the previous chapter, §4).

# %%
P = 23
SEED = 0
# only the list of all pairs is used; (529,) each, row = a * p + b
pairs = modular_addition_data(P, 0.5, seed=SEED)
x_all, y_all, labels = pairs.a, pairs.b, pairs.labels

# %% [markdown]
# ## 2. The diagram
#
# Power et al. {cite}`power2022grokking` and Liu et al. {cite}`liu2023omnigrok`
# mapped when networks generalise as a function of the training fraction and
# the weight decay. Here is that map for this network: 5 fractions × 5 weight
# decays × 3 seeds = 75 networks (width 128, 3,000 full-batch steps each),
# coloured by how and when each generalises.
#
# Seventy-five separate runs would take minutes. Instead we stack them into one
# `Ensemble` (`toylab.ensemble`): the 75 networks' weights become one set of
# tensors with a leading "member" axis, `torch.func.vmap` runs them as one
# program, and each member gets its own training pairs (a mask over all 529) and
# its own weight decay. Each member still trains exactly as it would alone. (The
# book's benchmarks measure the gain against running the cells one by one.)
#
# ```{admonition} Predict before you run
# :class: tip
# Which corner of the (training fraction × weight decay) grid will generalise
# soonest? What will the networks without weight decay do, and those with the
# most? Sketch the diagram you expect before training it.
# ```

# %%
FRACS = [0.3, 0.4, 0.5, 0.6, 0.75]
DECAYS = [0.0, 0.3, 1.0, 3.0, 10.0]
SEEDS = [SEED, SEED + 1, SEED + 2]
cells = [(f, w, s) for f in FRACS for w in DECAYS for s in SEEDS]
# (529, 75): each network's training pairs
masks = pd.train_masks(P, [f for f, _, _ in cells], [s for _, _, s in cells])
DIAGRAM_STEPS = 3000

# %% [markdown]
# The loss is the one piece of the ensemble you write yourself. Every coded
# exercise in the book works the same way: a stub to fill in, a hint, a check
# that runs your function beside the book's on random inputs and edge cases and
# says what differs, and the solution, collapsed. The check returns the function
# the chapter then uses: yours once it is right, the book's until then, so the
# chapter runs either way.
#
# ```{admonition} Exercise 1: the ensemble's loss (medium, 15 minutes)
# :class: note
# Write `my_ensemble_loss(ensemble, x, y, labels, masks)`: `ensemble(x, y)` gives
# the logits of every member for every pair, shape (E, B, p); `masks` (B, E) says
# which pairs each member trains on. Return the sum over members of each
# member's mean cross-entropy on its own training pairs, a scalar. The diagram
# below is trained with your function.
# ```
#
# ```{admonition} Hint
# :class: dropdown
# `cross_entropy(logits.transpose(1, 2), labels.expand(E, -1), reduction="none")`
# gives an (E, B) loss per member and pair; weight it by `masks.T` and divide by
# each member's number of training pairs. (Why a sum of per-member means? Each
# member's gradient then depends on its own loss only, as if it trained alone.)
# ```


# %%
def my_ensemble_loss(ensemble, x, y, labels, masks) -> torch.Tensor:
    raise NotImplementedError("your code here")


ensemble_loss = exercises.check(
    my_ensemble_loss, pd.ensemble_loss, pd.exercise_cases("ensemble_loss")
)

# %% [markdown]
# The solution (collapsed; click to open):


# %% tags=["hide-input"] jupyter={"source_hidden": true}
def ensemble_loss_solution(ensemble, x, y, labels, masks) -> torch.Tensor:
    logits = ensemble(x, y)  # (E, B, p)
    ce = torch.nn.functional.cross_entropy(
        logits.transpose(1, 2), labels.expand(logits.shape[0], -1), reduction="none"
    )  # (E, B)
    weights = masks.T.to(ce.dtype)
    return ((ce * weights).sum(1) / weights.sum(1)).sum()


cases = pd.exercise_cases("ensemble_loss")
claims.exact(
    "the solution to exercise 1 (the ensemble loss) is right",
    *exercises.passes(ensemble_loss_solution, pd.ensemble_loss, cases),
)


# %% [markdown]
# What should the diagram be dated by? The test accuracy would be the obvious
# choice, but it contains memory. The network is symmetric in $a$ and $b$, so a
# held-out pair whose swap $(b, a)$ was trained on is answered by memory alone,
# and memory alone scores about the training fraction on the held-out pairs. A
# cell trained on 75% of the pairs then needs far fewer pairs answered by an
# algorithm to reach 90% test accuracy than a cell trained on 30%, which would
# bias the diagram toward "more data, sooner". So we date every cell by the
# pairs memory cannot answer: each network's held-out pairs whose swap it holds
# out too, the **unseen pairs**.
#
# ```{admonition} Exercise 2: the unseen pairs (easy, 5 minutes)
# :class: note
# Write `my_unseen(masks, x, y, p)`: `masks` (p², E) marks each network's
# training pairs, row $r = ap + b$ holding the pair $(a, b)$ = (`x[r]`, `y[r]`).
# Return a (p², E) bool tensor, True where a network holds out the pair *and*
# its swap $(b, a)$. The diagram below is dated with your function.
# ```
#
# ```{admonition} Hint
# :class: dropdown
# The swap of row $r$ sits at row `y[r] * p + x[r]`: index `masks` with that.
# ```


# %%
def my_unseen(masks: torch.Tensor, x: torch.Tensor, y: torch.Tensor, p: int):
    raise NotImplementedError("your code here")


unseen_pairs = exercises.check(
    my_unseen, pd.unseen_pairs, pd.exercise_cases("unseen")
)

# %% [markdown]
# The solution (collapsed; click to open):


# %% tags=["hide-input"] jupyter={"source_hidden": true}
def unseen_solution(masks: torch.Tensor, x: torch.Tensor, y: torch.Tensor, p: int):
    return ~masks & ~masks[y * p + x]  # (p^2, E)


cases = pd.exercise_cases("unseen")
claims.exact(
    "the solution to exercise 2 (the unseen pairs) is right",
    *exercises.passes(unseen_solution, pd.unseen_pairs, cases),
)

# %%
unseen = unseen_pairs(masks, x_all, y_all, P)  # (529, 75)
print(
    "unseen pairs per network, by training fraction:",
    {
        f: int(unseen[:, i].sum())
        for i, (f, _, _) in enumerate(cells)
        if i % 15 == 0
    },
)


# %%


def diagram_metrics(ensemble):
    with torch.no_grad():
        answers = ensemble(x_all, y_all).argmax(-1).cpu()  # (75, 529)
    correct = (answers == labels).float()
    out = {}
    for split, rows in [("train", masks), ("test", ~masks), ("unseen", unseen)]:
        w = rows.T.float()  # (75, 529): the pairs of this split, per network
        acc = (correct * w).sum(1) / w.sum(1)  # (75,)
        out.update({f"{split} {i}": float(a) for i, a in enumerate(acc)})
    return out


run_diagram = train(
    Ensemble([ModularMLP(P, 128, activation="relu", seed=s) for _, _, s in cells]),
    [x_all, y_all, labels, masks],
    ensemble_loss,
    TrainConfig(
        steps=DIAGRAM_STEPS,
        lr=3e-3,
        weight_decay=tuple(w for _, w, _ in cells),
        seed=SEED,
        log_every=50,
    ),
    evaluate=diagram_metrics,
    name="he-phase-diagram",
    config={"p": P, "width": 128, "cells": cells, "v": 2},
)
print(f"{len(cells)} networks trained together in {run_diagram.seconds:.0f} s")

# %% [markdown]
# Each network is dated by the first logged step at which its unseen accuracy
# passes 50% (the previous chapter's "half"), and by the step it memorised, when
# its training accuracy passes 99%.
#
# ```{admonition} Exercise 3: the first step above a threshold (easy, 5 minutes)
# :class: note
# Write `my_first_above(steps, values, threshold)`: the first entry of `steps`
# at which `values` is strictly above `threshold`, as a float, or `nan` if it
# never is. The diagram's dates use your function.
# ```
#
# ```{admonition} Hint
# :class: dropdown
# `np.argmax` of a boolean array is the index of its first `True`, and 0 when
# there is none: check `.any()` first.
# ```


# %%
def my_first_above(
    steps: np.ndarray, values: np.ndarray, threshold: float
) -> float:
    raise NotImplementedError("your code here")


first_above = exercises.check(
    my_first_above, pd.first_above, pd.exercise_cases("first_above")
)

# %% [markdown]
# The solution (collapsed; click to open):


# %% tags=["hide-input"] jupyter={"source_hidden": true}
def first_above_solution(
    steps: np.ndarray, values: np.ndarray, threshold: float
) -> float:
    above = np.asarray(values) > threshold
    return (
        float(np.asarray(steps)[np.argmax(above)]) if above.any() else float("nan")
    )


cases = pd.exercise_cases("first_above")
claims.exact(
    "the solution to exercise 3 (the first step above) is right",
    *exercises.passes(first_above_solution, pd.first_above, cases),
)

# %%
d_steps = run_diagram.metric("step")
shape = (len(FRACS), len(DECAYS), len(SEEDS))
generalised, memorised, peak = (np.full(shape, np.nan) for _ in range(3))
to_90 = np.full(shape, np.nan)
final = {split: np.zeros(shape) for split in ["train", "test", "unseen"]}
for i, (f, w, s) in enumerate(cells):
    idx = (FRACS.index(f), DECAYS.index(w), SEEDS.index(s))
    for split in final:
        final[split][idx] = run_diagram.metric(f"{split} {i}")[-1]
    acc = run_diagram.metric(f"unseen {i}")
    generalised[idx] = first_above(d_steps, acc, 0.5)  # most unseen pairs right
    to_90[idx] = first_above(d_steps, acc, 0.9)
    memorised[idx] = first_above(d_steps, run_diagram.metric(f"train {i}"), 0.99)
    peak[idx] = acc.max()  # the best unseen accuracy over the run
# the step the test accuracy passes 90%, as the diagram would be dated without the
# unseen pairs, for comparison
to_90_test = np.array(
    [
        first_above(d_steps, run_diagram.metric(f"test {i}"), 0.9)
        for i in range(len(cells))
    ]
).reshape(shape)

reached = ~np.isnan(generalised)  # (fractions, decays, seeds)
never = ~reached.any(-1)


def mean_reached(dates):
    """(fractions, decays): the mean over the seeds that got there; NaN where none did."""
    ok = ~np.isnan(dates)
    return np.where(
        ok.any(-1),
        np.where(ok, dates, 0).sum(-1) / np.maximum(ok.sum(-1), 1),
        np.nan,
    )


mean_steps = mean_reached(generalised)
# each cell's regime after the run: 0 no fit (train < 90%), 1 memorised (no seed
# passed 50% on the unseen pairs), 2 some seeds generalised, 3 every seed did
n_reached = reached.sum(-1)
regime = np.where(
    final["train"].mean(-1) < 0.9,
    0,
    np.where(n_reached == 0, 1, np.where(n_reached < len(SEEDS), 2, 3)),
)
names = ["no fit", "memorised", "some seeds generalise", "all seeds generalise"]
colours = ["0.85", "#9ecae1", "#fdae6b", "#31a354"]
counts = {n: int((regime == i).sum()) for i, n in enumerate(names)}

fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.4))
ax1.imshow(
    regime, cmap=ListedColormap(colours), vmin=-0.5, vmax=3.5, origin="lower"
)
for a in range(len(FRACS)):
    for b in range(len(DECAYS)):  # the final unseen accuracy, mean of the seeds
        ax1.text(
            b, a, f"{final['unseen'][a, b].mean():.2f}", ha="center", va="center"
        )
ax1.set_xticks(range(len(DECAYS)), DECAYS)
ax1.set_yticks(range(len(FRACS)), FRACS)
ax1.set(xlabel="weight decay", ylabel="training fraction")
ax1.set_title("regime after the run (text: final unseen accuracy)", fontsize=10)
ax1.legend(
    handles=[Patch(color=c, label=n) for c, n in zip(colours, names)],
    fontsize=9,
    ncol=2,
    loc="upper center",
    bbox_to_anchor=(0.5, -0.2),
    frameon=False,
)
# steps to 90% per seed (dots), the mean of those that got there (bar), and the
# seeds that did not get there within the run (crosses on the top line)
decays_shown = [b for b in range(len(DECAYS)) if not never[:, b].all()]
for i, b in enumerate(decays_shown):
    xs = np.arange(len(FRACS)) + 0.2 * (i - (len(decays_shown) - 1) / 2)
    colour = f"C{i}"
    for s in range(len(SEEDS)):
        ok = reached[:, b, s]
        ax2.plot(xs[ok], generalised[ok, b, s], "o", color=colour, ms=4)
        ax2.plot(xs[~ok], np.full((~ok).sum(), DIAGRAM_STEPS), "x", color=colour)
        delay = generalised[ok, b, s] / memorised[ok, b, s]
        ax3.plot(xs[ok], delay, "o", color=colour, ms=4)
    ax2.hlines(mean_steps[:, b], xs - 0.08, xs + 0.08, color=colour, lw=2)
    ax2.plot([], [], "o", color=colour, label=f"weight decay {DECAYS[b]}")
ax2.axhline(DIAGRAM_STEPS, color="grey", ls=":", lw=1)
ax2.set_xticks(range(len(FRACS)), FRACS)
ax2.set(xlabel="training fraction", ylabel="steps to 50% unseen accuracy")
ax2.set_ylim(0, DIAGRAM_STEPS * 1.08)
ax2.legend(fontsize=9, loc="lower left")
ax2.set_title("the more data, the sooner (x: not within the run)", fontsize=10)
ax3.axhline(1, color="grey", ls=":", lw=1)
ax3.text(0, 1.1, "generalises as it memorises", fontsize=9, color="grey")
ax3.set_xticks(range(len(FRACS)), FRACS)
ax3.set(xlabel="training fraction", yscale="log", ylim=(0.8, 40))
ax3.set_ylabel("generalised step / memorised step")
ax3.set_title("the more data, the shorter the delay", fontsize=10)
fig.suptitle(
    f"Generalisation needs data and weight decay: of {regime.size} cells, "
    f"{counts[names[3]]} generalise in every seed, {counts[names[2]]} in some, "
    f"{counts[names[1]]} only memorise, {counts[names[0]]} cannot fit",
    fontsize=10,
)
fig.tight_layout()
plt.show()
print("rows: training fractions", FRACS, "; columns: weight decays", DECAYS)
print("seeds passing 50% on the unseen pairs:")
print(reached.sum(-1))
print("... and 90%:")
print((~np.isnan(to_90)).sum(-1))
print("mean step to 50% on the unseen pairs, over the seeds that got there:")
print(np.round(mean_steps))
print("mean step at which the training accuracy passes 99%:")
print(np.round(mean_reached(memorised)))
delays = (generalised / memorised)[reached & ~np.isnan(memorised)]
print(
    f"delay, generalised step / memorised step, over the {reached.sum()} networks "
    f"that generalised: {delays.min():.1f}x to {delays.max():.1f}x"
)
print("... and to 90% on all held-out pairs (test), memory included:")
print(np.round(mean_reached(to_90_test)))
for split in ["unseen", "test", "train"]:
    print(f"final {split} accuracy (mean over seeds):")
    print(final[split].mean(-1).round(2))

# %% [markdown]
# Four regions, as in Omnigrok's diagrams. Without weight decay the networks
# memorise and mostly stay there: their test accuracy sits near the
# swap-answerable fraction, about the training fraction, and none answers half
# its unseen pairs, though with the most data some climb part of the way (the
# best of them is printed below). With too much weight decay (10) they cannot even fit the training set:
# the decay wins against the loss. In between, with enough data, they
# generalise within the run, and with too little data they do not (asserted at
# 30% with weight decay 1; the tables show the rest). Dated by 90% on the unseen
# pairs, few networks would generalise at all in 3,000 steps (the counts above),
# which is why the diagram is dated at 50%.
#
# Two things the diagram shows about *when*. First, more data, sooner: dated by
# the unseen pairs, which memory cannot answer, the trend the test accuracy
# suggested survives. Second, the delay after memorisation (right panel). The
# networks that fit memorise within a few hundred steps (the mean steps
# printed), and those that generalise do so later, most of them several times
# later (the range of delays printed): grokking, not the prompt generalisation
# that Liu et al. find where data is plentiful {cite}`liu2023omnigrok`. The delay
# shrinks as the data grows (asserted at weight decay 1), but in this grid it
# does not close. Near the boundary the seeds
# can disagree: there, whether a run generalises in time depends on its seed,
# which draws both its initial weights and its split of the pairs
# (`pd.train_masks` takes the seed too); this diagram does not tell the two apart.

# %%
wd0, wd1 = DECAYS.index(0.0), DECAYS.index(1.0)
f50, f75 = FRACS.index(0.5), FRACS.index(0.75)
print(
    "best unseen accuracy without weight decay, per training fraction:",
    peak[:, wd0].max(-1).round(3),
)
# null: with weight decay 1 and 75% of the data every seed passes it (final unseen, below)
claims.claim(
    "no weight decay: no network answers half its unseen pairs",
    peak[:, wd0].max(),
    "<",
    0.5,
    null=peak[f75, wd1].min(),
)
# null: with weight decay 1, the same networks fit their training pairs.
# "No fit": none gets 95% of its training pairs right (the best reaches 0.84-0.90 over
# seeds 0, 2844, 3152, 7700, 9410: a bound of 0.9 sat within 0.001 of it at 7700)
train10 = final["train"][:, DECAYS.index(10.0)].max()
claims.claim(
    "too much wd: no fit", train10, "<", 0.95, null=final["train"][:, wd1].max()
)
# null: memorisation alone gives ~1/23 on the unseen pairs at every training fraction
unseen75, unseen30 = final["unseen"][f75, wd1].min(), final["unseen"][0, wd1].max()
claims.claim("more data, generalisation (wd = 1)", unseen75, ">", 0.5, null=1 / P)
# null: the 75% networks' accuracy, as if the data made no difference
claims.claim(
    "little data, no generalisation (wd = 1)", unseen30, "<", 0.5, null=unseen75
)
never_at = (
    DIAGRAM_STEPS * 2
)  # a network that did not get there counts as later than the run
late = np.nan_to_num(generalised, nan=never_at)
for s in range(len(SEEDS)):
    # null: data that made no difference to the date: the 50% networks' own date
    claims.claim(
        "more data, sooner: 75% against 50% of the pairs (wd = 1)",
        late[f75, wd1, s],
        "<",
        late[f50, wd1, s],
        null=late[f50, wd1, s],
    )
    # null: the delay with half the pairs; measured 14-17x there, 4.0-4.7x at 75%
    delay = late / memorised
    claims.claim(
        "more data, a shorter delay after memorisation (wd = 1)",
        delay[f75, wd1, s],
        "<",
        delay[f50, wd1, s],
        null=delay[f50, wd1, s],
    )
    # null: prompt generalisation, at the step it memorises (a ratio of 1)
    claims.claim(
        "even with 75% of the pairs it generalises well after it memorises (wd = 1)",
        delay[f75, wd1, s],
        ">",
        2,
        null=1,
    )
# null: prompt generalisation, as early as it memorises (a ratio of 1 or less);
# measured 2.2x at the least (seeds 0-2: wd 3, 75% of the pairs)
claims.claim(
    "every network that generalises does so after it memorises",
    delays.min(),
    ">",
    1,
    null=1,
)

# %% [markdown]
# ## 3. Watch the diagram form
#
# The same 75 networks over training: the mean unseen accuracy of each cell at
# each logged step. The generalising region grows from the corner with the most
# data and moderate weight decay; the cells without decay stop at their
# memorisation plateau. In Jupyter or Colab this is a slider; on the static
# website it is a pre-rendered animation.


# %%
def cell_means(step):
    """(fractions, decays): the mean over seeds of the unseen accuracy at `step`."""
    row = int(np.argmax(d_steps == step))
    acc = np.zeros((len(FRACS), len(DECAYS), len(SEEDS)))
    for i, (f, w, s) in enumerate(cells):
        acc[FRACS.index(f), DECAYS.index(w), SEEDS.index(s)] = run_diagram.metric(
            f"unseen {i}"
        )[row]
    return acc.mean(-1)


def draw(fig, step):
    ax = fig.subplots()
    im = ax.imshow(cell_means(step), cmap="magma", origin="lower", vmin=0, vmax=1)
    ax.set_xticks(range(len(DECAYS)), DECAYS)
    ax.set_yticks(range(len(FRACS)), FRACS)
    ax.set(xlabel="weight decay", ylabel="training fraction")
    ax.set_title(f"unseen accuracy (mean of seeds), step {step}", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()


plotting.snapshot_view(draw, [int(s) for s in d_steps], figsize=(5, 3.6))

# %% [markdown]
# ## What changed from the papers, and why
#
# | | He et al. {cite}`he2026modular` (grokking run) | this chapter |
# |---|---|---|
# | network | width 512 | width 128 |
# | training | AdamW lr $10^{-4}$, wd 2, 75% of the pairs, 50k steps | AdamW lr $3 \times 10^{-3}$, 3,000 full-batch steps, 5 fractions × 5 weight decays × 3 seeds |
#
# The larger learning rate and the shorter run make 75 networks fit a few
# minutes; the cells' boundaries would move with a longer run (the second
# exercise at the end).
#
# ## Summary
#
# - Whether and when the network groks depends on the data and the weight decay:
#   a memorisation phase without decay, a no-fit phase with too much, and
#   generalisation in between, sooner with more data.
# - Date generalisation by the pairs memory cannot answer: the test accuracy
#   counts the swaps of trained pairs, a share that grows with the data.
# - The delay from memorisation to generalisation shrinks with more data but
#   does not close in this grid: every network that generalises does so after
#   it memorises, and with 75% of the pairs still at least twice as late.
# - Near the boundaries the seeds disagree: there, the seed decides (its initial
#   weights and its split of the pairs together).
# - An `Ensemble` trains many small networks as one program; each member still
#   trains exactly as it would alone.
#
# **Tools you built and used:** an ensemble's loss, the first step a curve
# crosses a threshold, the unseen pairs of each member, and `Ensemble`, which
# trains many small networks as one program.
#
# **Next:** [induction heads](induction_heads.ipynb) leaves modular addition for
# a circuit that works *in context*: a transformer that learns to copy from its
# prompt, in a phase change like grokking's but far sharper.
#
# ## Exercises
#
# 1. Add a learning-rate axis. An `Ensemble` trains all its members with one
#    optimiser and so one learning rate: train one ensemble per learning rate
#    (copy the `run_diagram` cell, change `lr` and `name`) and draw the diagrams
#    side by side.
# 2. Lengthen the run (`DIAGRAM_STEPS`). Which cells that said "never" grok
#    later, and which stay memorised?
#
# The works cited here are listed on the [references](../book/references.md) page.
