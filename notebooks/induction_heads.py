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

# %% [markdown]
# # Induction heads: watching a two-layer model learn to copy
#
# Give a language model the text "... Mr Dursley ... Mr D" and it completes
# "ursley". It has never memorised this pair; it looks back for the last time the
# current token appeared and copies what came next. The circuit that does this,
# the **induction head**, was found by Elhage et al. {cite}`elhage2021framework` in
# two-layer attention-only transformers, and Olsson et al. {cite}`olsson2022induction`
# showed that it forms abruptly, in a *phase change*, at the moment models
# become able to learn in context.
#
# In this chapter you train such models from scratch (about three minutes on a
# laptop CPU), watch the phase change, and take the circuit apart: which head
# does what, how the two layers talk to each other, and what happens when you
# hand the model part of the circuit for free.
#
# ```{admonition} Learning objectives
# :class: tip
# - See a phase change: in-context learning switching on within a few hundred steps.
# - Score heads by what they attend to (previous token, prefix matching) and what
#   they write (copying), and follow the scores over training.
# - Read *K-composition* in the weights, and in the run's attention scores: a layer-1
#   head whose keys read a layer-0 head's output.
# - Test the circuit causally with pattern-preserving and path ablations, and see why a
#   one-layer model cannot form it unless its keys are smeared.
# - Clamp part of the circuit throughout training and see how the plateau changes.
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
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display

from toylab import claims, exercises, hooks, plotting
from toylab import induction_heads as ind
from toylab import induction_task as task
from toylab.induction_task import (
    N_CTX,
    N_HEADS,
    N_VOCAB,
    PERIOD,
    STEPS,
    model_config,
    scores,
    train_model,
)
from toylab.models import build_transformer

plotting.use_book_style()

# %% [markdown]
# ## 1. The task and the model
#
# The training sequences are 32 random tokens from a vocabulary of 64, except
# that the first $S$ tokens are repeated right after themselves, with $S$ drawn
# anew for every sequence (4 to 16). Most tokens are unpredictable (loss
# $\ln 64 \approx 4.16$ nats at best); inside the repeat, each next token can be
# predicted by finding the current token's earlier occurrence and copying its
# successor. Because $S$ varies, position alone does not say where to look.
#
# The model is a TransformerLens `TransformerBridge` built from a config alone
# (`boot_native`: TransformerLens's own transformer, no download): two
# layers of four attention heads each, no MLPs and no LayerNorm, $d_{\rm model} = 64$.
# (For readers of `HookedTransformer`, which TransformerLens 4 removed: hook names,
# `run_with_cache` and the `W_Q`-style weight views are unchanged, but the weights
# live in `q`, `k`, `v`, `o` projections, so `W_Q` is a view to read, not a tensor
# to write.)
# Attention-only models are the ones whose circuits Elhage et al. could read off
# the weights; everything below uses their conventions.
#
# The task, the model's config and the training settings live in
# `toylab.induction_task`, because the
# [learning-coefficient chapter](learning_coefficient.py) measures the same runs
# again: both chapters call the same `train_model` and share its cache entries.
# Open that module beside this page to see them; they are short.

# %%
print(f"vocabulary {N_VOCAB}, context {N_CTX}, {N_HEADS} heads a layer")
print("model config:", model_config(2))
SEED = 0

tokens, predictable = task.repeated_subsequence_tokens(
    1, N_CTX, N_VOCAB, generator=torch.Generator().manual_seed(1)
)
print("a training sequence:", tokens[0].tolist())
print("predictable targets:", predictable[0].int().tolist())

# %% [markdown]
# To see what a model does in context, we test it on **repeated random tokens**,
# as Olsson et al. do: 8 random tokens repeated 4 times, so the first copy is
# unpredictable and the later ones are copyable. Four numbers summarise a model,
# and we log them every 25 steps of training:
#
# - the **in-context-learning (ICL) score**: the loss on the first copy minus the
#   loss on the later copies, in nats. It measures how much the context helps.
# - the **copy accuracy**: the share of tokens in the later copies that the model
#   ranks first, measured on sequences of 8 filler tokens followed by a block of 8
#   repeated three times (the 16 all different; why the filler, below).
# - each head's **previous-token score**: its mean attention from position $i$ to $i-1$.
# - each head's **prefix-matching score**: its mean attention from a token to the
#   tokens right *after* its earlier copies, where an induction head looks
#   (summed over the earlier copies: from the third copy on there are several).
#
# A model needs no induction head to score on the first two. A head that spreads
# its attention over the past and copies what it reads says "a token seen so far
# may come again". On the later copies every token has been seen, so spreading
# the probability evenly over the tokens seen (about 8 of 64) already gains
# $\ln 64 - \ln 8$ nats, half the largest possible ICL score. This
# **bag-of-tokens** predictor (`task.bag_of_tokens_null`) is the null for an ICL
# score. A sharper rule ranks the right token first without an induction head: in
# a block repeated from the start of a sequence, the next token is always the one
# seen *least recently* (`ind.recency_null`). That is why the copy accuracy is
# measured after filler tokens the block does not share: there the least recent
# token is always filler, the rule is never right, and the bag ranks the right
# token first one time in 16.

# %%
test_tokens = task.TEST_TOKENS  # (64, 32): 8 random tokens repeated 4 times
uniform = torch.tril(torch.ones(N_CTX, N_CTX))
# attention spread evenly over the past
uniform = uniform / uniform.sum(-1, keepdim=True)
CHANCE = float(task.prefix_matching_scores(uniform[None, None], PERIOD))
BAG = task.bag_of_tokens_null(test_tokens, PERIOD, N_VOCAB)
copy_set = (task.COPY_TOKENS, PERIOD, task.COPY_OFFSET)  # filler, then the block x3
COPY_NULL = max(
    task.bag_of_tokens_null(copy_set[0], PERIOD, N_VOCAB, task.COPY_OFFSET)["copy"],
    ind.recency_null(*copy_set),
)
print(f"prefix-matching score of evenly spread attention: {CHANCE:.2f}")
print(
    f"bag of tokens: ICL score {BAG['icl']:.2f} nats (of at most ln 64 = "
    f"{math.log(N_VOCAB):.2f})"
)
print(
    f"least recently seen token: ranks the right one first {ind.recency_null(test_tokens, PERIOD):.0%} "
    f"of the time on Olsson's sequences, {ind.recency_null(*copy_set):.0%} after the filler"
)
print(
    f"copy accuracy without an induction head (the better of the two rules): {COPY_NULL:.3f}"
)


# %% [markdown]
# ## 2. The phase change
#
# Train the two-layer model for 1,500 steps of Adam with batches of 32 sequences.
#
# ```{admonition} Predict before you run
# :class: tip
# How will the in-context-learning score (the loss on the first copy minus the
# loss on the second) grow over training: steadily, or flat and then all at
# once? If at once, will the overall training loss show it too?
# ```

# %%
run2 = train_model(
    "induction-2layer", build_transformer(model_config(2), seed=SEED), seed=SEED
)
model2 = run2.model
steps = run2.metric("step")
icl2 = run2.metric("icl")


def best(run, kind, layer):
    """The best head's score in ``layer`` at every logged step."""
    return np.max(
        [run.metric(f"{kind} L{layer}H{h}") for h in range(N_HEADS)], axis=0
    )


prefix_l1 = best(run2, "prefix", 1)


def phase_change(prefix):
    """First logged steps where the best prefix-matching score passes 0.3 and 0.6."""
    if prefix.max() <= 0.6:
        return None, None
    return int(steps[np.argmax(prefix > 0.3)]), int(steps[np.argmax(prefix > 0.6)])


start, end = phase_change(prefix_l1)
print(
    f"trained in {run2.seconds:.0f} s; phase change between steps {start} and {end}"
)
copy2 = run2.metric("copy")
print(f"ICL score: {icl2[0]:.2f} nats at step 0, {icl2[-1]:.2f} at the end")
print(f"copy accuracy: {copy2[0]:.2f} at step 0, {copy2[-1]:.2f} at the end")
print(
    f"before the phase change: ICL score at most {icl2[steps < start].max():.2f}, "
    f"copy accuracy at most {copy2[steps < start].max():.2f}"
)


def smooth(x, k=5):
    """Running mean over k logged values (the ends, without k neighbours, are dropped)."""
    return np.convolve(x, np.ones(k) / k, mode="valid")


fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 3.2))
for ax, x, y, title, null in [
    (
        ax1,
        steps[2:-2],
        smooth(run2.metric("loss")),
        "training loss (nats, smoothed)",
        None,
    ),
    (ax2, steps, icl2, "ICL score (nats)", BAG["icl"]),
    (ax3, steps, copy2, "copy accuracy", COPY_NULL),
]:
    ax.plot(x, y)
    ax.axvspan(start, end, color="tab:orange", alpha=0.2, label="phase change")
    if null is not None:
        ax.axhline(null, color="k", ls=":", lw=1, label="no induction head")
    ax.set_xlabel("step")
    ax.set_title(title, fontsize=10)
ax1.legend(fontsize=9)
ax3.legend(fontsize=9)
fig.suptitle(
    f"In-context learning switches on in a phase change (steps {start}-{end}): "
    "the loss drops as the model starts to copy the right token",
    fontsize=10,
)
fig.tight_layout()
plt.show()

# %% [markdown]
# For several hundred steps almost nothing happens; then, within a couple of
# hundred steps, the loss drops and the ICL score shoots up. Before the jump the
# ICL score stays below the bag of tokens' (dotted line). After it the model ranks
# the right token first most of the time, far above what copying without an
# induction head can do (dotted line; both printed above).
# Olsson et al. see the
# same event as a "bump" in the loss curves of real language models, where the
# drop competes with everything else the model is learning; on our task the
# repeat is the only learnable structure, so the bump is a cliff.
#
# Per-token loss on the test sequences, before and after, shows where the gain is:

# %%
before_step = max(s for s in run2.snapshot_steps if s <= start)


def per_position_loss(model):
    with torch.no_grad():
        return task.per_token_loss(model(test_tokens), test_tokens).mean(0)


fig, ax = plt.subplots(figsize=(8, 3))
for step, label in [(before_step, "before"), (STEPS, "after")]:
    ax.plot(
        range(1, N_CTX),
        per_position_loss(run2.model_at(step)),
        "o-",
        ms=3,
        label=f"step {step} ({label})",
    )
for c in range(1, N_CTX // PERIOD):
    ax.axvline(c * PERIOD, color="k", lw=0.5)
ax.axhline(np.log(N_VOCAB), color="k", ls=":", lw=1, label="ln 64")
ax.set_xlabel("position of the predicted token (copies start at the lines)")
ax.set_ylabel("loss (nats)")
ax.legend(fontsize=9)
ax.set_title(
    "After the phase change the copies are predicted; the first block stays near chance",
    fontsize=10,
)
plt.show()

# %%
final = per_position_loss(model2)
# null: evenly spread attention scores CHANCE = 0.10 (printed in section 1). At step 0
# the best head's score should sit at chance: asserted on its distance from chance,
# within half of it
claims.claim(
    "layer 1 has no induction head at step 0",
    abs(prefix_l1[0] - CHANCE),
    "<",
    0.5 * CHANCE,
    null=abs(prefix_l1[-1] - CHANCE),  # an induction head there from the start
    log=True,
)
claims.claim("an induction head forms", prefix_l1[-1], ">", 0.6, null=CHANCE)
# null: a gradual rise would spread the 0.3 -> 0.6 climb over most of the run
claims.claim(
    "within a narrow window of steps", end - start, "<=", 0.2 * STEPS, null=STEPS
)
# null: ICL already switched on (its final value). Before the phase change the model
# may learn what a bag of tokens knows (section 1), but no more
claims.claim(
    "before the phase change, ICL below a bag of tokens'",
    icl2[steps < start].max(),
    "<",
    BAG["icl"],
    null=icl2[-1],
)
# null: the bag of tokens (section 1) gains ln 64 - ln 8 without an induction head.
# "Switches on": more than halfway from it to the largest possible score, ln 64
ln_vocab = math.log(N_VOCAB)
SWITCHED_ON = (BAG["icl"] + ln_vocab) / 2
claims.claim(
    "ICL switches on, beyond a bag of tokens",
    icl2[-1],
    ">",
    SWITCHED_ON,
    null=BAG["icl"],
)
# null: copying without an induction head, the better of the bag of tokens and the
# least-recently-seen rule (printed in section 1)
claims.claim(
    "the model ranks the copied token first", copy2[-1], ">", 0.6, null=COPY_NULL
)
# null: ln 64 = 4.16 nats for a token that cannot be predicted
claims.claim(
    "the first copy stays unpredictable",
    final[: PERIOD - 1].mean(),
    ">",
    3.5,
    null=final[PERIOD:].mean(),  # the first copy predicted like the later ones
)
# "predicted": under half the loss of a token that cannot be predicted
claims.claim(
    "the later copies are predicted",
    final[PERIOD:].mean(),
    "<",
    ln_vocab / 2,
    null=ln_vocab,
)

# %% [markdown]
# ## 3. Which heads, and when
#
# An attention head does two separate things {cite}`elhage2021framework`. Its
# **QK circuit** $W_Q W_K^\top$ scores each position against the earlier ones;
# the softmax of those scores is its attention pattern, *where* it reads. Its
# **OV circuit** $W_V W_O$ maps what it reads there to what it adds to the
# residual stream, *what* it moves. The scores below measure each circuit.
#
# The scores of every head over training. Layer 0 should hold a
# **previous-token head** (it attends to $i-1$, and so writes "the previous token
# was B" into position $i$); layer 1 an **induction head** (it attends to the
# position after the earlier copy of the current token). A third property says
# whether an induction head can copy at all: its OV circuit $W_E W_V W_O W_U$
# (vocabulary to vocabulary) should map each token to itself. Elhage et al.
# measure that by the sign of its eigenvalues: $\sum \lambda / \sum |\lambda|$,
# +1 for a perfect copier. We compute it on the saved snapshots.
#
# Every coded exercise in the book works the same way: a stub to fill in, a
# hint, a check that runs your function beside the book's on random inputs and
# edge cases and says what differs, and the solution, collapsed. The check
# returns the function the chapter then uses: yours once it is right, the
# book's until then, so the chapter runs either way.
#
# ```{admonition} Exercise 1: the OV copying score (easy, 10 minutes)
# :class: note
# Write `my_ov_copying_score(W_E, W_OV, W_U)`: form the full OV circuit
# $W_E W_{OV} W_U$ (vocabulary × vocabulary; `W_E` is (vocab, d_model), `W_OV`
# (d_model, d_model), `W_U` (d_model, vocab)) and return $\sum\lambda / \sum|\lambda|$
# over its eigenvalues, a float. The scores over training below use your function.
# ```
#
# ```{admonition} Hint
# :class: dropdown
# `torch.linalg.eigvals` returns complex eigenvalues; their sum is real (up to
# rounding: take `.real`), and `.abs()` gives their moduli. Compute in float64.
# ```


# %%
def my_ov_copying_score(
    W_E: torch.Tensor, W_OV: torch.Tensor, W_U: torch.Tensor
) -> float:
    raise NotImplementedError("your code here")


ov_copying_score = exercises.check(
    my_ov_copying_score, ind.ov_copying_score, ind.exercise_cases("ov_copying")
)

# %% [markdown]
# The solution (collapsed; click to open):


# %% tags=["hide-input"] jupyter={"source_hidden": true}
def ov_copying_solution(
    W_E: torch.Tensor, W_OV: torch.Tensor, W_U: torch.Tensor
) -> float:
    eig = torch.linalg.eigvals((W_E @ W_OV @ W_U).double())  # (vocab,) complex
    return float(eig.sum().real / eig.abs().sum())


cases = ind.exercise_cases("ov_copying")
claims.exact(
    "the solution to exercise 1 (OV copying score) is right",
    *exercises.passes(ov_copying_solution, ind.ov_copying_score, cases),
)

# %%
snap_steps = run2.snapshot_steps


def copying_scores(model):
    """OV eigenvalue positivity of every head: (layer, head)."""
    W_OV = model.W_V @ model.W_O  # (layer, head, d_model, d_model)
    heads = range(model.cfg.n_heads)
    return np.array(
        [
            [ov_copying_score(model.W_E, W_OV[l, h], model.W_U) for h in heads]
            for l in range(model.cfg.n_layers)
        ]
    )


with torch.no_grad():
    copying = np.array([copying_scores(run2.model_at(s)) for s in snap_steps])

fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
for layer, ls in [(0, "-"), (1, "--")]:
    for h in range(N_HEADS):
        kw = dict(ls=ls, color=f"C{h}", label=f"L{layer}H{h}")
        axes[0].plot(steps, run2.metric(f"prev L{layer}H{h}"), **kw)
        axes[1].plot(steps, run2.metric(f"prefix L{layer}H{h}"), **kw)
        axes[2].plot(snap_steps, copying[:, layer, h], **kw)
for ax, title in zip(
    axes, ["previous-token score", "prefix-matching score", "copying score (OV)"]
):
    ax.axvspan(start, end, color="tab:orange", alpha=0.15)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("step")
axes[2].legend(fontsize=9, ncol=2)
fig.suptitle(
    "Copying comes first; previous-token and induction attention arrive "
    "together, in the phase change (shaded)",
    fontsize=10,
)
fig.tight_layout()
plt.show()

final_scores = scores(model2)
prev0 = np.array([final_scores[f"prev L0H{h}"] for h in range(N_HEADS)])
prefix1 = np.array([final_scores[f"prefix L1H{h}"] for h in range(N_HEADS)])
prev_head, ind_head = int(prev0.argmax()), int(prefix1.argmax())
prev_heads = [h for h in range(N_HEADS) if prev0[h] > 0.3]
induction_heads = [h for h in range(N_HEADS) if prefix1[h] > 0.3]
print(f"previous-token scores, layer 0: {prev0.round(2)} -> head L0H{prev_head}")
print(
    f"prefix-matching scores, layer 1: {prefix1.round(2)} -> induction heads {induction_heads}"
)
at_start = int(np.searchsorted(snap_steps, start))
print(
    f"copying scores, layer 1, at step {snap_steps[at_start]}: {copying[at_start, 1].round(2)}, "
    f"at the end: {copying[-1, 1].round(2)}"
)
print(
    "copying, layer 1, best head over the snapshots:",
    dict(zip(snap_steps[::4], copying[::4, 1].max(-1).round(2))),
)

# %% [markdown]
# The pieces do not arrive together. **Copying comes first**: within the first
# couple of hundred steps every layer-1 head's OV circuit maps tokens to
# themselves (copying score near 1), long before any head attends to the right
# place. On its own that already pays: attending to the tokens seen so far and
# copying them says "tokens that appeared may appear again", which lowers the loss
# on the repeats a little (the slow rise of the ICL score before the cliff).
# **The attention comes second, all at once**: the previous-token scores in layer
# 0 and the prefix-matching scores in layer 1 rise together inside the
# phase-change window. Neither is useful without the other, so neither is
# learned before the other.
#
# Two more things differ from the textbook picture of *one* previous-token head
# and *one* induction head. Several layer-1 heads become induction heads (the
# list printed above; the redundancy Singh et al. also report), and the
# previous-token heads are *soft*: the best puts only part of its attention on
# $i-1$ (its score is printed above) and spreads the rest over recent positions.
# Several layer-0 heads share the job.
#
# One more observation we leave open: the layer-0 heads' OV circuits, read
# directly through the unembedding, copy early on and in our runs turned to
# *anti*-copying after the phase change (this run's scores are printed above). What they write is now read by the
# layer-1 keys, and its direct effect on the logits pushes the other way.

# %%
prev_l0 = best(run2, "prev", 0)
prev_half = int(steps[np.argmax(prev_l0 > 0.5 * prev_l0[-1])])
print(f"best previous-token score passes half its final value at step {prev_half}")
# (at least one head scores > 0.3: the best does; null: evenly spread attention)
claims.claim(
    "layer 0 has a previous-token head", prev0.max(), ">", 0.3, null=CHANCE
)
# null: a previous-token head that formed on its own schedule, before or after
# (at step 0, or at the end of training)
claims.claim(
    "the previous-token head forms no earlier than the phase change",
    prev_half,
    ">=",
    start - 100,
    null=0,
)
claims.claim(
    "the previous-token head forms no later than the phase change",
    prev_half,
    "<=",
    end + 100,
    null=STEPS,
)
# (layer 1's induction head: prefix1.max() is the final prefix_l1, asserted > 0.6 in
# section 2, so the list induction_heads is not empty)
copy_start = int(snap_steps[np.argmax(copying[:, 1].min(-1) > 0.9)])
print(
    f"every layer-1 head copies (score > 0.9) from step {copy_start}; "
    f"layer-0 copying scores at the end: {copying[-1, 0].round(2)}"
)
# null: copying that formed with the attention would start inside the window
claims.claim(
    "the OV copying forms well before the attention",
    copy_start,
    "<",
    start / 2,
    null=start,
)


# %% [markdown]
# ## 4. Attention patterns
#
# The patterns of all eight heads on one test sequence. Click a head to enlarge
# it and hover to see where each token looks. The previous-token head is a
# stripe just below the diagonal; the induction head a stripe 7 places below the
# diagonal from the second copy on (and from the third copy on, more stripes 15
# and 23 places below it: the successors of the earlier copies).

# %%
_, cache = model2.run_with_cache(test_tokens[:1])
# (8, 32, 32)
patterns = torch.cat(
    [cache[f"blocks.{l}.attn.hook_pattern"][0] for l in range(model2.cfg.n_layers)]
)
display(
    plotting.attention_heads_view(
        patterns,
        [f"{t}" for t in test_tokens[0].tolist()],
        [f"L{l}H{h}" for l in range(model2.cfg.n_layers) for h in range(N_HEADS)],
    )
)

# %% [markdown]
# ## 5. The circuit: K-composition and ablations
#
# How does the induction head know where to look? Its query at position $i$
# carries the current token A. Its key at position $j$ must say "the token
# before me was A", and only the previous-token head writes that. So the layer-1
# head's **keys read the layer-0 head's output**: K-composition. Elhage et al.
# measure it in the weights, with $W_{OV}^{(0)} = W_V W_O$ of a layer-0 head and
# $W_{QK}^{(1)} = W_Q W_K^\top$ of a layer-1 head (TransformerLens's row-vector
# convention; Elhage et al. write the transposes):
#
# $$\text{K-comp}(0 \to 1) = \frac{\| W_{OV}^{(0)} \, W_{QK}^{(1)\top} \|_F}{\|W_{OV}^{(0)}\|_F \, \|W_{QK}^{(1)}\|_F},$$
#
# minus what the two matrices' spectra alone would give. Any two matrices compose a
# little by chance, and how much depends on their singular values: spread over
# many directions or held in a few. So the null rotates the space the layer-0 head
# writes into at random, keeping both spectra (`ind.rotation_null`: the mean score
# over 100 random rotations).
#
# ```{admonition} Exercise 2: K-composition (easy, 5 minutes)
# :class: note
# Write `my_k_composition(W_OV_early, W_QK_late)`, both (d_model, d_model), that
# returns the score above as a float (without the baseline). The scores below
# use your function.
# ```
#
# ```{admonition} Hint
# :class: dropdown
# `torch.linalg.matrix_norm` (or `.norm()`) of a matrix is its Frobenius norm;
# mind the transpose on $W_{QK}$.
# ```


# %%
def my_k_composition(W_OV_early: torch.Tensor, W_QK_late: torch.Tensor) -> float:
    raise NotImplementedError("your code here")


k_composition = exercises.check(
    my_k_composition, ind.k_composition, ind.exercise_cases("k_composition")
)

# %% [markdown]
# The solution (collapsed; click to open):


# %% tags=["hide-input"] jupyter={"source_hidden": true}
def k_composition_solution(
    W_OV_early: torch.Tensor, W_QK_late: torch.Tensor
) -> float:
    both = W_OV_early @ W_QK_late.T
    return float(both.norm() / (W_OV_early.norm() * W_QK_late.norm()))


cases = ind.exercise_cases("k_composition")
claims.exact(
    "the solution to exercise 2 (K-composition) is right",
    *exercises.passes(k_composition_solution, ind.k_composition, cases),
)

# %%
W_OV = (model2.W_V @ model2.W_O).detach()  # (layer, head, d_model, d_model)
W_QK = (model2.W_Q @ model2.W_K.transpose(-1, -2)).detach()
pairs = [(a, b) for a in range(N_HEADS) for b in range(N_HEADS)]


def minus_null(score, second):
    """score(W_OV of L0Ha, W_QK of L1Hb) minus its rotation null's mean, and the null's spread.

    Both (layer-0 head, layer-1 head).
    """
    out = []
    for a, b in pairs:
        mean, std = ind.rotation_null(
            W_OV[0, a], second(W_QK[1, b]), 100, seed=SEED
        )
        out.append((score(W_OV[0, a], W_QK[1, b]) - mean, std))
    return np.array(out).T.reshape(2, N_HEADS, N_HEADS)


k_comp, k_spread = minus_null(k_composition, lambda W: W.T)
q_comp, q_spread = minus_null(ind.q_composition, lambda W: W)
# the spread of a mean over the 16 pairs, if each composed no more than its null
k_noise, q_noise = (np.sqrt((s**2).mean() / s.size) for s in (k_spread, q_spread))
fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
for ax, m, title in [
    (axes[0], k_comp, "K-composition"),
    (axes[1], q_comp, "Q-composition"),
]:
    im = ax.imshow(
        m, cmap="RdBu", vmin=-np.abs(k_comp).max(), vmax=np.abs(k_comp).max()
    )
    ax.set_xticks(range(N_HEADS), [f"L1H{h}" for h in range(N_HEADS)])
    ax.set_yticks(range(N_HEADS), [f"L0H{h}" for h in range(N_HEADS)])
    ax.set_title(f"{title} minus its rotation null", fontsize=10)
fig.colorbar(im, ax=axes, shrink=0.8)
fig.suptitle(
    "Layer 1 reads layer 0 through its keys: K-composition above its null, "
    "Q-composition below",
    fontsize=10,
)
plt.show()
print("K-composition minus its null (rows: layer-0 heads, columns: layer-1 heads):")
print(k_comp.round(3))
print("Q-composition minus its null:")
print(q_comp.round(3))
print(
    f"means over the pairs: K {k_comp.mean():+.3f}, Q {q_comp.mean():+.3f}; the spread of "
    f"such a mean under the null: {k_noise:.4f} (K), {q_noise:.4f} (Q)"
)

# %% [markdown]
# On average the layer-0 heads K-compose with the layer-1 heads above the null,
# while Q-composition is *below* it: the layer-1 queries avoid the directions
# layer 0 writes into. The weights say the layer-1 heads read layer 0 through
# their keys rather than their queries, as the circuit requires.
#
# Which layer-0 heads? The scores above weigh every direction alike. ARENA's
# {cite}`arena` sharper test follows a token through the whole circuit: the
# layer-0 head writes token $b$ into a key ($W_E W_{OV}^{(0)}$), a query holds
# token $a$ ($W_E$), and the layer-1 head scores them with $W_{QK}^{(1)}$. The
# resulting vocabulary-by-vocabulary matrix
# $W_E W_{QK}^{(1)} (W_E W_{OV}^{(0)})^\top$ should be largest on its diagonal
# ($b = a$: the key says "the token before me was yours"). We score it by the
# share of rows whose largest entry is on the diagonal (chance: 1/64), averaged
# over the induction heads.

# %%
full = np.array(
    [
        np.mean(
            [
                ind.full_circuit_accuracy(
                    model2.W_E.detach(), W_QK[1, b], W_OV[0, a]
                )
                for b in induction_heads
            ]
        )
        for a in range(N_HEADS)
    ]
)
# null: the same circuit with the layer-0 head's output space rotated at random
gen = torch.Generator().manual_seed(SEED)
full_null = np.mean(  # over the same pairs as `full`
    [
        ind.full_circuit_accuracy(
            model2.W_E.detach().double(),
            W_QK[1, b].double(),
            W_OV[0, a].double() @ ind.haar_rotation(task.D_MODEL, gen),
        )
        for a in range(N_HEADS)
        for b in induction_heads
    ]
)
print(f"full-circuit top-1 accuracy, per layer-0 head: {full.round(2)}")
print(f"  same with the layer-0 output rotated at random: {full_null:.3f}")
print(f"  previous-token scores, for comparison:        {prev0.round(2)}")

# %% [markdown]
# On average the layer-0 heads' outputs can be read this way far above chance,
# and each head's accuracy is printed above beside its previous-token score: a
# head that hardly attends to the previous token may score as well as the others.
# Each head writes the identity of the tokens it attends to into the subspace the
# layer-1 keys read; only its *attention pattern* decides whether that is the
# previous token, and no score on the weights alone can see patterns.
#
# So score the run instead of the weights. An attention score is bilinear, $q_i
# \cdot k_j / \sqrt{d_{\rm head}}$, and the input of layer 1 is a sum of parts: the
# token embedding, the positional embedding, each layer-0 head's output, and the
# biases. Split the query and the key into those parts and the score splits into
# one term per pair of parts (ARENA 1.2's decomposition). For each induction head,
# on the test sequences, we take the quantity it has to get right: the score of
# the key right after the earlier copies of the query's token, minus the mean
# score of the other keys (`ind.induction_score_decomposition`).

# %%
names, terms = None, 0
for b in induction_heads:
    names, t = ind.induction_score_decomposition(model2, test_tokens, PERIOD, 1, b)
    terms = terms + t.numpy() / len(induction_heads)
# (query part, key part), averaged over the induction heads; they sum to the whole
total = terms.sum()
by_query, by_key = terms.sum(1), terms.sum(0)
from_heads = by_key[2:6]  # the four layer-0 heads' outputs, on the key side
fig, ax = plt.subplots(figsize=(5, 4))
lim = np.abs(terms).max()
im = ax.imshow(terms, cmap="RdBu", vmin=-lim, vmax=lim)
ax.set_xticks(range(len(names)), names, rotation=45)
ax.set_yticks(range(len(names)), names)
ax.set_xlabel("part of the key")
ax.set_ylabel("part of the query")
fig.colorbar(im, ax=ax, shrink=0.8)
ax.set_title(
    "The query's own token meets the layer-0\nheads' output in the key", fontsize=10
)
plt.show()
corr_run = np.corrcoef(from_heads, prev0)[0, 1]
corr_weights = np.corrcoef(full, prev0)[0, 1]
weakest = int(
    prev0.argmin()
)  # the layer-0 head that attends least to the previous token
weakest_share = from_heads[weakest] / from_heads.sum()
print(f"preference for the induction keys: {total:.2f} (score units)")
print(
    f"  query side: own token {by_query[0] / total:.0%}, position {by_query[1] / total:.0%}"
)
print(
    f"  key side: layer-0 heads {from_heads.sum() / total:.0%}, "
    f"the key's own token and position {(by_key[0] + by_key[1]) / total:.0%}"
)
print(f"  per layer-0 head: {from_heads.round(2)}")
print(f"  previous-token scores: {prev0.round(2)}")
print(
    f"correlation with the previous-token scores over the layer-0 heads: "
    f"this decomposition {corr_run:.2f}, the full-circuit accuracy {corr_weights:.2f}"
)
print(
    f"L0H{weakest}, the weakest previous-token head ({prev0[weakest]:.2f}): "
    f"{weakest_share:.0%} of layer 0's part of the keys; its full-circuit accuracy {full[weakest]:.2f}"
)

# %% [markdown]
# The picture is the circuit's. On the query side almost all of the preference
# comes from the query's own token, on the key side from the layer-0 heads'
# output (the shares are printed above): "my token is A" meets "the token before
# me was A". And the run tells the layer-0 heads apart: the head that attends
# least to the previous token gives the keys a small share of layer 0's part,
# whatever its weights' accuracy (both printed above), and over the four heads
# the shares follow the previous-token scores (the correlation printed above,
# next to the weights').
#
# The decomposition is still an observation: it says which parts the scores are
# made of, not what would happen without them.
#
# **Ablations** test it causally. Zeroing a head's output changes everything
# downstream, including where later heads attend; a *pattern-preserving*
# ablation freezes every attention pattern at its clean value, so only the
# information the head writes is removed. Compare ablating the induction heads,
# the previous-token heads both ways, and each layer-0 head alone:


# %%
def icl_of_logits(logits):
    return task.icl_score(task.per_token_loss(logits, test_tokens), PERIOD)


with torch.no_grad():
    icl_clean = icl_of_logits(model2(test_tokens))
    ablations = {
        "induction head(s), patterns kept": icl_of_logits(
            ind.pattern_preserving_ablation(model2, test_tokens, 1, induction_heads)
        ),
        "previous-token heads, patterns kept": icl_of_logits(
            ind.pattern_preserving_ablation(model2, test_tokens, 0, prev_heads)
        ),
        "previous-token heads, plain": icl_of_logits(
            model2.run_with_hooks(
                test_tokens, fwd_hooks=[hooks.zero_heads(0, prev_heads)]
            )
        ),
    }
    for h in range(N_HEADS):
        ablations[f"L0H{h} alone (previous-token score {prev0[h]:.2f}), plain"] = (
            icl_of_logits(
                model2.run_with_hooks(
                    test_tokens, fwd_hooks=[hooks.zero_heads(0, [h])]
                )
            )
        )
print(f"ICL score, clean model: {icl_clean:.2f} nats")
for name, value in ablations.items():
    print(
        f"  ablate {name}: {value:.2f} ({1 - value / icl_clean:.0%} of the score removed)"
    )

# %% [markdown]
# Removing what the induction heads write removes most of the in-context
# learning (the share is printed above). The previous-token heads are the instructive ones: with the patterns
# kept, ablating them does not hurt (the score may even rise), because their
# contribution reaches the output *through the layer-1 attention patterns*,
# which the frozen patterns preserve. Ablate them plainly, letting the layer-1
# patterns change, and a large part of it is gone (the percentages are printed
# above). One head at a time, how much each layer-0 head matters varies from run
# to run (printed above): the soft previous-token heads share the job.
#
# A pattern is made of queries *and* keys, so this does not yet say which one
# the previous-token heads feed. A **path ablation** does: remove what they
# write from the input of the layer-1 *keys* only, leaving the residual stream,
# the queries and the values as they are (each of the three has its own
# projection, whose input has its own hook, `blocks.1.attn.k.hook_in`;
# `ind.path_ablation` edits it). Then the same for the queries alone, and the
# values alone:

# %%
with torch.no_grad():
    by_path = {
        into: 1
        - icl_of_logits(
            ind.path_ablation(model2, test_tokens, 0, prev_heads, into=into[0])
        )
        / icl_clean
        for into in ("keys", "queries", "values")
    }
for into, share in by_path.items():
    print(
        f"previous-token heads removed from the layer-1 {into}: {share:.0%} removed"
    )

# %% [markdown]
# Removed from the keys, the previous-token heads take most of the score with them;
# removed from the queries or the values, almost nothing (the shares printed
# above). That is K-composition, seen causally.

# %%
removed = 1 - np.array(list(ablations.values())) / icl_clean
# null: matrices with these spectra compose 0 either way (the rotation null subtracted)
# (bound: three spreads of such a mean under the null, printed above)
claims.claim(
    "layer 1 reads layer 0 through its keys",
    k_comp.mean(),
    ">",
    3 * k_noise,
    null=0,
)
claims.claim(
    "... and not through its queries", q_comp.mean(), "<", -3 * q_noise, null=0
)
# null: a circuit that matched tokens at random, with the layer-0 output rotated
claims.claim(
    "the full circuit matches the query's token to the key's previous one",
    full.mean(),
    ">",
    0.3,
    null=full_null,
)
# null: a head that found its key by position (a fixed offset) would draw its
# preference from the positional embeddings on the query side
claims.claim(
    "the query side of the preference is the query's own token",
    by_query[0] / total,
    ">",
    0.5,
    null=by_query[1] / total,
)
# null: a key found by its own token or position, with layer 0 idle
claims.claim(
    "the key side of the preference comes from layer 0",
    from_heads.sum() / total,
    ">",
    0.5,
    null=(by_key[0] + by_key[1]) / total,
)
# null: the weights' account, every layer-0 head readable alike, gives each an equal
# share, 1/4. "Small": under half of that
claims.claim(
    "the weakest previous-token head gives the keys little",
    weakest_share,
    "<",
    0.5 / N_HEADS,
    null=1 / N_HEADS,
)
# null: if layer 0 carried part of the ICL directly (as the one-layer model's heads
# do, section 6), ablating layer 1 would leave that part; that share is measured only
# in section 6, so the null here is no effect (0 removed)
claims.claim(
    "ablating the induction heads removes >70% of ICL", removed[0], ">", 0.7, null=0
)
# null: heads that did not matter would remove ~0 plainly; heads that mattered
# by what they write would remove as much with the patterns kept
claims.claim(
    "the prev-token heads act via patterns", removed[1], "<", 0.1, null=removed[2]
)
claims.claim(
    "ablating the prev-token heads plainly removes >30% of ICL",
    removed[2],
    ">",
    0.3,
    null=0,
)
# null: removing them from the queries or the values instead (printed above)
other_paths = max(by_path["queries"], by_path["values"])
claims.claim("... through the keys", by_path["keys"], ">", 0.5, null=other_paths)
# null: the queries or values mattered as much as the keys
claims.claim(
    "... and not the queries or values", other_paths, "<", 0.1, null=by_path["keys"]
)
# (one head at a time: printed above, not asserted; it varies between seeds)

# %% [markdown]
# ```{admonition} Exercise 3: the prefix-matching score (easy, 10 minutes)
# :class: note
# Write `my_prefix_matching(pattern, period)`: for attention patterns of shape
# `(batch, head, query, key)` on sequences that repeat every `period` tokens,
# return each head's mean attention from a query $i$ (from the second copy on) to
# the key $i - \text{period} + 1$, as a tensor of shape `(head,)`. Assume two
# copies (with more, `task.prefix_matching_scores` also adds the stripes of the
# earlier copies). The check compares your function with
# `task.prefix_matching_scores` on a perfect induction head, a random one and a
# previous-token head.
# ```
#
# ```{admonition} Hint
# :class: dropdown
# `pattern.diagonal(offset=-(period - 1), dim1=-2, dim2=-1)` collects the entries
# (query $q$, key $q - \text{period} + 1$) for every $q$; keep the queries in the
# second copy and average over batch and queries.
# ```


# %%
def my_prefix_matching(pattern: torch.Tensor, period: int) -> torch.Tensor:
    raise NotImplementedError("your code here")


prefix_matching = exercises.check(
    my_prefix_matching,
    task.prefix_matching_scores,
    ind.exercise_cases("prefix_matching"),
)

# %% [markdown]
# The solution (collapsed; click to open):


# %% tags=["hide-input"] jupyter={"source_hidden": true}
def prefix_matching_solution(pattern: torch.Tensor, period: int) -> torch.Tensor:
    # entries (q, q - period + 1) for q = period - 1, ...: drop the first (q = period - 1)
    stripe = pattern.diagonal(offset=-(period - 1), dim1=-2, dim2=-1)
    return stripe[..., 1:].mean(dim=(0, -1))


cases = ind.exercise_cases()
claims.exact(
    "the solution to exercise 3 (prefix matching) is right",
    *exercises.passes(prefix_matching_solution, task.prefix_matching_scores, cases),
)

# %% [markdown]
# ## 6. Controls: one layer, and one layer with smeared keys
#
# A one-layer attention-only model has no earlier head to tell a key what token
# preceded it, so it should not be able to form an induction head. Olsson et al.
# tested the argument from the other side: give a one-layer model **smeared
# keys**, where each head's key at position $j$ is a learned mix
# $g\,\mathrm{key}_j + (1-g)\,\mathrm{key}_{j-1}$ of its own and the previous
# position's key, with one learned gate $g \in (0, 1)$ per head (the sigmoid of
# the parameter `smear.alpha`; `toylab.induction_heads.add_smeared_keys`), and
# the previous-token information arrives without a layer 0. We train both the
# same way.

# %%
run1 = train_model(
    "induction-1layer", build_transformer(model_config(1), seed=SEED), seed=SEED
)
run_smear = train_model(
    "induction-1layer-smeared",
    ind.add_smeared_keys(build_transformer(model_config(1), seed=SEED)),
    seed=SEED,
)
mix = ind.smear_gates(run_smear.model)  # (head,) g = sigmoid(alpha)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.2))
for run, label in [
    (run2, "2 layers"),
    (run1, "1 layer"),
    (run_smear, "1 layer, smeared keys"),
]:
    ax1.plot(steps, run.metric("icl"), label=label)
    ax2.plot(steps, best(run, "prefix", run.model.cfg.n_layers - 1), label=label)
ax1.set_title("ICL score (nats)", fontsize=10)
ax2.set_title("best prefix-matching score, last layer", fontsize=10)
for ax in (ax1, ax2):
    ax.set_xlabel("step")
    ax.legend(fontsize=9)
fig.suptitle(
    "One layer cannot build an induction head; smeared keys give it the "
    "previous token and it can",
    fontsize=10,
)
fig.tight_layout()
plt.show()
icl1, icl_smear = run1.metric("icl"), run_smear.metric("icl")
copy1 = run1.metric("copy")
print(
    f"final ICL scores: 2 layers {icl2[-1]:.2f}, 1 layer {icl1[-1]:.2f}, "
    f"smeared {icl_smear[-1]:.2f} (bag of tokens {BAG['icl']:.2f})"
)
print(
    f"final copy accuracy: 2 layers {copy2[-1]:.2f}, 1 layer {copy1[-1]:.2f}, "
    f"smeared {run_smear.metric('copy')[-1]:.2f} (without induction {COPY_NULL:.2f})"
)
print(
    f"smeared keys: share of each head's own key, the gate g = {mix.numpy().round(3)}"
)
smear_start, smear_end = phase_change(best(run_smear, "prefix", 0))
print(
    f"best prefix-matching score, 1 layer: max {best(run1, 'prefix', 0).max():.2f}; "
    f"smeared keys: phase change at steps {smear_start}-{smear_end} (2 layers: {start}-{end})"
)

# %% [markdown]
# The one-layer model never forms an induction head: its best prefix-matching
# score creeps only a little above the 0.10 of evenly spread attention (printed
# above), nowhere near the induction heads'. (We have not pinned down where the
# extra comes from; a head that preferred the early positions, where the
# repeated block always starts in training, would produce some of it.) It still
# learns *some* in-context behaviour, slowly and without a jump: the
# copying strategy of section 3, attending to the tokens seen so far and raising
# their logits ("tokens that appeared may appear again"),
# which helps on the copies, where every token has appeared, but cannot say
# *which* token comes next. Its ICL score stays below the bag of tokens'. Its copy
# accuracy ends above what the two rules of section 1 get, but far below the
# two-layer model's (both printed above): it knows something more than which
# tokens it has seen, and we have not found out what. The smeared one-layer model forms an induction head
# (when, next to the two-layer model's phase change, is printed above): it learns
# to build each key almost entirely from the previous position ($g$ below 0.2
# for every head, printed above), the job of the previous-token head done by a
# single parameter per head.

# %%
# null: an induction head scores > 0.6 (the two-layer model's, section 2); even
# attention scores CHANCE = 0.10. (Under 0.3 means no phase change either: phase_change
# needs 0.6)
prefix_one = best(run1, "prefix", 0)
claims.claim(
    "one layer: no induction head", prefix_one.max(), "<", 0.3, null=prefix_l1[-1]
)
# null: the two-layer model's final ICL score. What the one-layer model learns in
# context, a bag of tokens (section 1) could learn
claims.claim(
    "one layer: ICL within a bag of tokens'",
    icl1[-1],
    "<",
    BAG["icl"],
    null=icl2[-1],
)
# null: the two-layer model's copy accuracy; "far below": under half of it
claims.claim(
    "one layer: rarely ranks the copied token first",
    copy1[-1],
    "<",
    0.5 * copy2[-1],
    null=copy2[-1],
)
# null: the plain one-layer model above (best prefix score < 0.3)
claims.claim(
    "smeared keys: an induction head",
    best(run_smear, "prefix", 0)[-1],
    ">",
    0.5,
    null=prefix_one[-1],
)
claims.claim(
    "smeared keys: nearly the two-layer model's in-context learning",
    icl_smear[-1],
    ">",
    0.8 * icl2[-1],
    null=icl1[-1],
)
# null: at initialisation the gate g is the value the smear starts from (0.5)
claims.claim(
    "smeared keys read (mostly) the previous position",
    mix.max(),
    "<",
    0.2,
    null=0.5,
)

# %% [markdown]
# ## 7. Clamping part of the circuit during training
#
# Why the long plateau before the phase change? Singh et al. {cite}`singh2024induction`
# asked which part of the circuit the others wait for, by *clamping* an
# activation throughout training: overwriting it with its ideal value at every
# step. Here we clamp head L0H0's attention pattern to a perfect previous-token
# pattern (`hooks.clamp_pattern`) and train a fresh model from the same seed.
# `hooks.with_hooks` makes the training loss run under the hook; the scores are
# computed under it too. When the phase change comes depends on the seed, so we
# compare clamped and free training for three seeds (this chapter's and the
# next two; the first pair is the models trained above).
#
# One subtlety: the clamped head's queries and keys get no gradient (its
# pattern is overwritten), so the clamp is part of the model. Take it away after
# training and that head attends with its random initial pattern.

# %%
clamp = [hooks.clamp_pattern(layer=0, head=0)]
run_clamp = train_model(
    "induction-2layer-clamped",
    build_transformer(model_config(2), seed=SEED),
    loss=hooks.with_hooks(task.lm_loss, clamp),
    fwd_hooks=clamp,
    seed=SEED,
)
icl_clamp = run_clamp.metric("icl")
prefix_clamp = best(run_clamp, "prefix", 1)
start_clamp, end_clamp = phase_change(prefix_clamp)
unclamped = scores(run_clamp.model)["icl"]

fig, ax = plt.subplots(figsize=(7, 3.2))
ax.plot(steps, icl2, label="free")
ax.plot(steps, icl_clamp, label="L0H0 clamped to previous-token")
ax.set_xlabel("step")
ax.set_ylabel("ICL score (nats)")
ax.legend(fontsize=9)
ax.set_title(
    "A previous-token head given from the start shortens the plateau", fontsize=10
)
plt.show()
print(
    f"clamped model's ICL score with the clamp {icl_clamp[-1]:.2f}, without {unclamped:.2f}"
)

CLAMP_SEEDS = [SEED, SEED + 1, SEED + 2]
windows = {}  # seed -> (free phase change, clamped phase change), each (start, end)
for s in CLAMP_SEEDS:
    free_s = train_model(
        "induction-2layer", build_transformer(model_config(2), seed=s), seed=s
    )
    clamped_s = train_model(
        "induction-2layer-clamped",
        build_transformer(model_config(2), seed=s),
        loss=hooks.with_hooks(task.lm_loss, clamp),
        fwd_hooks=clamp,
        seed=s,
    )
    windows[s] = tuple(
        phase_change(best(r, "prefix", 1)) for r in (free_s, clamped_s)
    )
    print(f"seed {s}: phase change free {windows[s][0]}, clamped {windows[s][1]}")

# %% [markdown]
# With a perfect previous-token head given from the start, the plateau is
# shorter: in every seed the clamped model's phase change is over before the free
# model's begins. Part of the plateau is the wait for
# the previous-token head; the rest (the induction head's QK matching and OV
# copying, which still have to be learned) remains. Without the clamp the
# trained model loses most of its in-context learning, as expected.

# %%
# null: a clamp that did not help would leave the two windows overlapping, in
# either order (the windows of every seed are printed above); the null value is the
# free window's end (the clamped window no shorter). A window never found fails: the
# clamped end as never (inf), the free start as at once (-inf)
for free, clamped in windows.values():
    clamped_end = clamped[1] if clamped[1] is not None else math.inf
    free_start = free[0] if free[0] is not None else -math.inf
    free_end = free[1] if free[1] is not None else math.inf
    claims.claim(
        "clamping the previous-token pattern shortens the plateau, in every seed",
        clamped_end,
        "<",
        free_start,
        null=free_end,
    )
# null: chance prefix score CHANCE (0.10); ICL 0 before training
claims.claim(
    "clamped: an induction head forms", prefix_clamp[-1], ">", 0.5, null=CHANCE
)
# null: the bag of tokens; "switches on" as in section 2
claims.claim(
    "clamped: ICL switches on", icl_clamp[-1], ">", SWITCHED_ON, null=BAG["icl"]
)
# null: if the trained model did not rely on the clamp, removing it would change little
claims.claim(
    "the clamp is part of the trained model",
    unclamped,
    "<",
    0.5 * icl_clamp[-1],
    null=icl_clamp[-1],
)

# %% [markdown]
# ## 8. Watch it happen
#
# The previous-token head and the induction head of the free two-layer model on
# one test sequence, over training, next to the ICL score. In Jupyter or Colab
# this is a slider; on the static website it is a pre-rendered animation.

# %%
snap_patterns = {}
for s in snap_steps:
    _, c = run2.model_at(s).run_with_cache(test_tokens[:1])
    snap_patterns[s] = (
        c["blocks.0.attn.hook_pattern"][0, prev_head],
        c["blocks.1.attn.hook_pattern"][0, ind_head],
    )


def draw(fig, step):
    ax1, ax2, ax3 = fig.subplots(1, 3, width_ratios=[1, 1, 1.5])
    for ax, pattern, title in zip(
        (ax1, ax2),
        snap_patterns[step],
        [f"L0H{prev_head} (previous token)", f"L1H{ind_head} (induction)"],
    ):
        ax.imshow(pattern, cmap="Blues", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    ax3.plot(steps, icl2)
    ax3.axvline(step, color="tab:red")
    ax3.set_title(f"ICL score, step {step}", fontsize=9)
    ax3.set_xlabel("step")
    fig.tight_layout()


plotting.snapshot_view(draw, snap_steps, figsize=(10, 3))

# %% [markdown]
# ## 9. What changed from the papers, and why
#
# | | paper | this chapter |
# |---|---|---|
# | data | natural text {cite}`olsson2022induction` | random tokens with a repeated prefix of random length |
# | model | larger models with MLPs, trained on text | 2 layers, 4 heads, $d_{\rm model}$ 64, no MLP, no LayerNorm |
# | prefix-matching test | 25 tokens × 4 repeats after a BOS | 8 tokens × 4 repeats (context 32) |
# | ICL score | loss at token 500 minus at token 50 (negative when context helps) | loss on the first copy minus on the later copies (positive when context helps), beside a bag-of-tokens null |
# | composition | K-composition against random matrices {cite}`elhage2021framework`; full circuit and score decomposition {cite}`arena` | against random rotations that keep the spectra; the decomposition scored on the induction keys |
# | clamping {cite}`singh2024induction` | several subcircuits, 8 heads per layer | one previous-token pattern |
#
# Synthetic data makes the phase change happen within a minute on a CPU, and
# makes "in context" unambiguous: nothing but the repeat is learnable. The price
# is that the loss curve shows a cliff rather than the bump of a model that is
# learning many things at once.
#
# ## Summary
#
# - Induction heads form in a phase change: in-context learning switches on
#   within a few hundred steps, after a long plateau.
# - The circuit has two heads in two layers: a previous-token head writes "the
#   previous token was B"; an induction head's keys read it (K-composition) to
#   attend to the token after the earlier B, and its OV circuit copies it.
# - A score is evidence of induction only above what a bag of tokens gets; weights
#   say which layer reads which, the run's attention scores say which head.
# - Pattern-preserving ablations separate what a head writes from where others
#   attend: the previous-token head acts through the induction head's keys.
# - One layer cannot build the circuit; smeared keys let it. A clamped
#   previous-token head shortens the plateau.
#
# **Tools you built and used:** previous-token, induction and prefix-matching
# scores, copy accuracy beside a bag-of-tokens null, the OV copying score,
# K-composition against a spectrum-preserving null, the full circuit and the
# decomposition of attention scores, pattern-preserving ablations, and hooks that
# clamp a head's pattern during training.
#
# **Next:** [in-context regression](icl_regression.ipynb) asks what else
# attention can do with its context: learn a linear function from examples, by
# an algorithm we can read off the weights.
#
# ## Exercises
#
# 1. Clamp the *induction* pattern of a layer-1 head instead (`ind.induction_pattern`
#    gives it for the test sequences; training sequences need their own $S$).
#    What is left to learn, and how long is the plateau?
# 2. Fix $S = 16$ for every training sequence. Does the model still need a
#    previous-token head, or can it find the copy by position alone?
# 3. Train the two-layer model with three other seeds. How much does the step
#    of the phase change vary?
#
# The works cited here are listed on the [references](../book/references.md) page.
