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
# # The network that groks: single-frequency neurons, lottery tickets, and when grokking happens
#
# The [grokking chapter](grokking.ipynb) showed *what* algorithm a transformer
# finds for $x + y \bmod p$: waves of a few frequencies, added like clocks. This
# chapter asks *how* and *why then*, on the simplest network that does it, the
# two-layer network of He, Wang, Chen and Yang {cite}`he2026modular`:
#
# $$h_m = \sigma\big(\theta_m[x] + \theta_m[y]\big), \qquad
#   \text{logit}_j = \sum_{m=1}^{M} \xi_m[j]\, h_m ,$$
#
# input one-hot $x$ plus one-hot $y$, $M$ hidden neurons, a linear read-out, no
# biases, small random initial weights. You will see every neuron become a single
# wave, the waves lock their phases, the output form a "flawed indicator", and
# each neuron's frequency be decided by its initial weights. Then you will watch
# the network grok and map, with 75 networks trained at once, *when* it groks.
#
# ```{admonition} Learning objectives
# :class: tip
# - Read a neuron's input and output weights as waves: frequency, amplitude, phase.
# - See why the phases must align ($\psi = 2\phi$) and what the output then computes.
# - Predict a neuron's final frequency from its initial weights (a lottery ticket).
# - Explain why the test accuracy of a memorising network can sit far above chance.
# - Train many small models as one tensor program to map a phase diagram.
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
from torch.nn.functional import cross_entropy

from toylab import grokking_network as gn
from toylab import plotting
from toylab.data import modular_addition_data
from toylab.ensemble import Ensemble
from toylab.train import TrainConfig, snapshot_schedule, train

plotting.use_book_style()

# %% [markdown]
# ## 1. Train the network on every pair
#
# We follow the paper's "lottery" run: $p = 23$, $M = 512$ neurons, the square
# activation $\sigma(z) = z^2$ (its algebra is exact, which makes the theory
# checkable), all $p^2 = 529$ pairs, no weight decay, initial weights
# $0.1 \cdot \mathcal N(0, 1)/\sqrt p$. We train with Adam at learning rate $10^{-3}$
# for 1,000 full-batch steps (the paper uses $5 \times 10^{-5}$ and thousands).

# %%
P, WIDTH = 23, 512
SEED = 0
FRAC = 0.75  # the training split of section 4; here every pair is trained on
data = modular_addition_data(P, FRAC, seed=SEED)
x_all, y_all, labels = data.a, data.b, data.labels  # (529,) each, row = x * p + y


def ce_loss(model, x, y, target):
    return cross_entropy(model(x, y), target)


def accuracy(model, rows):
    with torch.no_grad():
        answers = model(x_all[rows], y_all[rows]).argmax(-1).cpu()  # (n,)
    return float((answers == labels[rows]).float().mean())


def waves_metrics(model):
    waves = gn.neuron_waves(model.theta)
    return {
        "ipr": float(waves.ipr.mean()),
        "norm": float(sum(p.pow(2).sum() for p in model.parameters())),
    }


FULL_STEPS = 1000
run_full = train(
    gn.ModularMLP(P, WIDTH, activation="square", seed=SEED),
    [x_all, y_all, labels],
    ce_loss,
    TrainConfig(
        steps=FULL_STEPS,
        lr=1e-3,
        seed=SEED,
        log_every=25,
        snapshot_steps=snapshot_schedule(FULL_STEPS, n_log=15, n_linear=20),
    ),
    evaluate=lambda m: {"acc": accuracy(m, slice(None)), **waves_metrics(m)},
    name="he-square-all-pairs",
    config={"p": P, "width": WIDTH, "activation": "square", "v": 1},
)
net = run_full.cpu_model()
acc_full = run_full.metric("acc")
print(
    f"trained in {run_full.seconds:.0f} s; accuracy 100% from step "
    f"{int(run_full.metric('step')[np.argmax(acc_full >= 1.0)])}, final {acc_full[-1]:.3f}"
)

# %% [markdown]
# ### Every neuron is one wave
#
# Write each neuron's input weights $\theta_m \in \mathbb R^p$ and output weights
# $\xi_m \in \mathbb R^p$ in the Fourier basis of $\mathbb Z_p$. For frequency
# $k = 1, \dots, 11$ the cosine and sine coefficients $(c_k, s_k)$ give the power
# $A_k^2 = c_k^2 + s_k^2$; a neuron with $\theta_m[j] = \alpha \cos(\omega_k j + \phi)$,
# $\omega_k = 2\pi k/p$, has all its power at one $k$. The **inverse participation
# ratio** $\text{IPR} = \sum_k A_k^4 / (\sum_k A_k^2)^2$ is 1 for a single frequency
# and $1/11$ for power spread evenly.

# %%
theta, xi = net.theta.detach(), net.xi.detach()
w_in, w_out = gn.neuron_waves(theta), gn.neuron_waves(xi)
order = torch.argsort(w_in.freq * 10 - w_in.ipr)  # group neurons by frequency
counts = torch.bincount(w_in.freq, minlength=P // 2 + 1)[1:]

fig, axes = plt.subplots(1, 3, figsize=(13, 3.4), width_ratios=[1.3, 1.3, 1])
for ax, waves, title in [
    (axes[0], w_in, r"input weights $\theta_m$"),
    (axes[1], w_out, r"output weights $\xi_m$"),
]:
    share = waves.power / waves.power.sum(-1, keepdim=True)
    ax.imshow(share[order].T, aspect="auto", cmap="Blues", interpolation="nearest")
    ax.set_xlabel("neuron (sorted by frequency)")
    ax.set_ylabel("frequency $k$")
    ax.set_yticks(range(0, 11, 2), range(1, 12, 2))
    ax.set_title(f"share of power per frequency: {title}", fontsize=9)
axes[2].bar(range(1, P // 2 + 1), counts)
axes[2].set_xlabel("frequency $k$")
axes[2].set_title("neurons per frequency", fontsize=9)
fig.tight_layout()
plt.show()
ipr_init = gn.neuron_waves(run_full.state_at(0)["theta"]).ipr
print(
    f"IPR of the input weights: median {w_in.ipr.median():.3f}, at init "
    f"{ipr_init.median():.3f} (one frequency: 1; power spread evenly: {1 / 11:.3f})"
)
print(f"neurons per frequency: {counts.tolist()}")
print(
    f"same frequency in and out: {(w_in.freq == w_out.freq).float().mean():.1%} of neurons"
)

# %% [markdown]
# Each column (one neuron) is dark in a single row: the neuron has chosen one
# frequency, for its input and its output weights alike, and the frequencies are
# spread roughly evenly over the neurons. Nothing in the loss asks for this; it
# is what gradient descent finds.

# %%
same_init = (
    (
        gn.neuron_waves(run_full.state_at(0)["theta"]).freq
        == gn.neuron_waves(run_full.state_at(0)["xi"]).freq
    )
    .float()
    .mean()
)
print(
    f"same frequency in and out at initialisation: {same_init:.1%} (chance: 1/11)"
)

# %%
# null: at initialisation the median IPR is the value printed above (~0.2)
assert w_in.ipr.median() > 0.6, "neurons should be (nearly) single-frequency"
# null: at initialisation input and output agree for about 1/11 of the neurons
assert (w_in.freq == w_out.freq).float().mean() > 0.95
# null: all neurons on one frequency would give a count of 512 and ten zeros
assert counts.min() > 0.5 * WIDTH / 11 and counts.max() < 1.5 * WIDTH / 11, (
    "frequencies should be roughly balanced across neurons"
)

# %% [markdown]
# ### The phases lock: $\psi = 2\phi$
#
# Why should the phases be related? Take one neuron of frequency $k$ with
# $\theta[j] = \alpha\cos(\omega_k j + \phi)$. Squaring its input,
#
# $$\big(\theta[x] + \theta[y]\big)^2 = \theta[x]^2 + \theta[y]^2 +
#   \alpha^2\big[\cos(\omega_k(x+y) + 2\phi) + \cos(\omega_k(x-y))\big],$$
#
# contains the wave $\cos(\omega_k(x + y) + 2\phi)$: the answer $x + y$, with phase
# $2\phi$. With an output wave $\xi[j] = \beta\cos(\omega_k j + \psi)$ the neuron's
# contribution to the correct logit $j = x + y$, averaged over inputs, is
# $\tfrac12\alpha^2\beta\cos(\psi - 2\phi)$: largest when $\psi = 2\phi$. So we measure each neuron's
# misalignment $D_m = \psi_m - 2\phi_m$ (wrapped into $[-\pi, \pi)$).

# %%
D = gn.phase_misalignment(theta, xi)
fig = plt.figure(figsize=(10, 3.6))
ax1 = fig.add_subplot(1, 2, 1)
ax2 = fig.add_subplot(1, 2, 2, projection="polar")
two_phi = gn.wrap(2 * w_in.phase)
psi = gn.neuron_waves(xi, freq=w_in.freq).phase
ax1.scatter(two_phi, psi, s=4)
ax1.plot([-math.pi, math.pi], [-math.pi, math.pi], "k--", lw=1)
ax1.set_xlabel(r"$2\phi_m$ (wrapped)")
ax1.set_ylabel(r"$\psi_m$")
ax1.set_title("every neuron on the diagonal", fontsize=10)
k_show = int(counts.argmax()) + 1
group = w_in.freq == k_show
ax2.scatter(w_in.phase[group], w_in.magnitude[group], s=8)
ax2.set_title(
    f"input phases of the {int(group.sum())} neurons of frequency {k_show}",
    fontsize=10,
)
fig.tight_layout()
plt.show()
print(
    f"mean |sin D| = {D.sin().abs().mean():.3f} (random phases: {2 / math.pi:.3f})"
)

# %% [markdown]
# Every neuron sits on the diagonal (the few points in the corners are on it
# too: $\pi$ and $-\pi$ are the same angle). Within one frequency the phases
# $\phi_m$ are spread around the circle: each neuron is the same wave shifted, so
# that together they can represent any $x$. (Their mean resultant length, 0 for
# a perfectly even spread and 1 for identical phases, is printed below next to
# what independent uniform phases would give for this many neurons. The
# paper's sum over neurons in the next section also meets waves of phase $2\phi$
# and $4\phi$, so we measure the spread of $r\phi$ for the harmonics $r = 1, \dots, 4$.)


# %%
def resultants(phases, harmonics=(1, 2, 3, 4)):
    """Mean resultant length of r * phase for each harmonic r (0: evenly spread, 1: equal)."""
    return [
        float(torch.polar(torch.ones_like(phases), r * phases).mean().abs())
        for r in harmonics
    ]


spread = {k: resultants(w_in.phase[w_in.freq == k]) for k in range(1, P // 2 + 1)}
n_min = int(counts.min())
print(
    f"phase resultants within frequency {k_show}, harmonics r = 1-4: "
    f"{np.round(spread[k_show], 2)}; largest over every frequency and r: "
    f"{max(max(r) for r in spread.values()):.2f} (uniform random phases: about "
    f"{math.sqrt(math.pi / (4 * n_min)):.2f} for the smallest group, {n_min} neurons; "
    "all equal: 1)"
)
print(f"mean cos D: {D.cos().mean():.3f} (random phases: 0; anti-aligned: -1)")
# null: random phases give mean cos D ~ 0 (and psi = 2 phi + pi gives -1)
assert D.cos().mean() > 0.95, (
    "phases should be aligned, psi = 2 phi (not psi = 2 phi + pi)"
)
# null: phases all equal give 1 at every harmonic; uniform random ones ~0.1-0.2
assert max(max(r) for r in spread.values()) < 0.4, (
    "phases within every frequency spread evenly, at r = 1-4"
)

# %% [markdown]
# ## 2. The output is a "flawed indicator"
#
# Sum over the neurons of one frequency, with phases spread evenly: the
# $\theta[x]^2$ term also carries $\cos(2\omega_k x + 2\phi)$, which the aligned
# output wave turns into a peak at $j = 2x$; likewise $j = 2y$. He et al. work out
# the logits (after removing their mean) as
#
# $$\text{logit}_j \propto \tfrac p2\, \mathbb 1[j = x + y] + \tfrac p4\big(\mathbb 1[j = 2x] + \mathbb 1[j = 2y]\big):$$
#
# the right answer, plus two ghosts at half its height. The ghosts never win,
# so the network is always right, but it is not a clean indicator of $x + y$.

# %%
X_FIXED = 4
ideal = gn.dominant_waves(net)  # every neuron reduced to its dominant wave


def ghost_ratios(model):
    """Logits for x = X_FIXED, and ghost height over answer height (above the rest)."""
    with torch.no_grad():
        logits = model(torch.full((P,), X_FIXED), torch.arange(P))  # (y, j)
    prof = gn.indicator_profile(logits, X_FIXED, P)
    height = prof["answer"] - prof["rest"]
    return (
        logits,
        (prof["ghost_2x"] - prof["rest"]) / height,
        (prof["ghost_2y"] - prof["rest"]) / height,
    )


logits_ideal, ideal_x, ideal_y = ghost_ratios(ideal)
logits_x, ratio_x, ratio_y = ghost_ratios(net)
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, lg, title in [
    (axes[0], logits_ideal, "dominant waves only"),
    (axes[1], logits_x, "the trained network"),
]:
    ax.imshow(lg - lg.mean(-1, keepdim=True), cmap="RdBu_r")
    ax.set_xlabel("output $j$")
    ax.set_ylabel("$y$")
    ax.set_title(f"logits for x = {X_FIXED}: {title}", fontsize=9)
fig.tight_layout()
plt.show()
print(
    f"ghost / answer height, dominant waves only: 2x {ideal_x:.2f}, 2y {ideal_y:.2f}"
)
print(
    f"ghost / answer height, trained network:     2x {ratio_x:.2f}, 2y {ratio_y:.2f}"
)
# what the rest of the spectrum adds: the full network minus its dominant waves
residual = logits_x - logits_ideal  # (y, j)
ys = torch.arange(P)
res_answer = float(residual[ys, (X_FIXED + ys) % P].mean())
res_ghost = float(residual[ys, (2 * ys) % P].mean())
res_spread = float(residual.std())
print(
    f"the rest of the spectrum adds {res_answer:+.2f} at the answer and "
    f"{res_ghost:+.2f} at the 2y ghost (spread of its logits: {res_spread:.2f})"
)

# %%
# the paper's derivation, checked on the idealised network (theory, not training)
assert abs(ideal_x - 0.5) < 0.05 and abs(ideal_y - 0.5) < 0.05, (
    "the paper's indicator"
)
# null: a network whose extra frequencies were noise keeps the ideal 0.5
assert ratio_x < ideal_x - 0.1 and ratio_y < ideal_y - 0.1, (
    "lower ghosts than ideal"
)
# null: noise would add about 0 at the ghosts, within its spread
assert res_ghost < -2 * res_spread and abs(res_answer) < res_spread, (
    "the rest of the spectrum pulls the ghosts down and leaves the answer alone"
)

# %% [markdown]
# Both heat maps show three lines: the answer on the diagonal $j = x + y$, the
# ghost $j = 2y$ on a line of twice the slope, and the ghost $j = 2x$ as a fixed
# column. Reduce every neuron to its dominant wave (`gn.dominant_waves`) and the
# ghosts stand at half the answer's height, as the paper derives. The trained
# network's ghosts are lower (the ratios printed above, bounded by the check
# below): the rest of its spectrum (the power outside each neuron's main
# frequency; the median IPR printed in section 1 is below 1) is not noise. It subtracts from the ghost logits and leaves the answer alone. The
# cross-entropy loss penalises every wrong logit, ghosts included, and the
# network uses its spare frequencies to repair part of the flaw.
#
# ```{admonition} Exercise: read a wave off the weights
# :class: note
# Write `my_wave(w, k)` that returns $(\alpha, \phi)$ for a weight row
# $w[j] = \alpha\cos(2\pi k j/p + \phi)$ (plus possibly a constant), using only
# the dot products of $w$ with $\cos(2\pi k j/p)$ and $\sin(2\pi k j/p)$. Then run
# `gn.check_wave_decoding(my_wave)`.
# ```


# %%
def my_wave(w: torch.Tensor, k: int) -> tuple[float, float]:
    raise NotImplementedError("your code here")


gn.check_wave_decoding(my_wave)

# %% [markdown]
# The solution (collapsed; click to open):


# %% tags=["hide-input"] jupyter={"source_hidden": true}
def wave_solution(w: torch.Tensor, k: int) -> tuple[float, float]:
    p = len(w)
    j = torch.arange(p, dtype=w.dtype)
    c = (w * torch.cos(2 * math.pi * k * j / p)).sum() * 2 / p  # = alpha cos(phi)
    s = (w * torch.sin(2 * math.pi * k * j / p)).sum() * 2 / p  # = -alpha sin(phi)
    return float(torch.sqrt(c**2 + s**2)), float(torch.atan2(-s, c))


assert gn.check_wave_decoding(wave_solution)

# %% [markdown]
# ## 3. The lottery ticket
#
# At initialisation every neuron holds a little of every frequency. Which one
# wins? For $\sigma(z) = z^2$, frequency $k$ of a neuron adds
# $\tfrac12 \alpha_k^2 \beta_k \cos D_k$ to the correct logit. Under plain gradient
# descent that term grows $\alpha_k$ at a rate $\propto \alpha_k \beta_k \cos D_k$ and
# $\beta_k$ at $\propto \alpha_k^2 \cos D_k$ (and turns $D_k$ towards 0): the larger the
# magnitudes and the smaller the misalignment $|D_k|$, the faster the growth, and
# the lead compounds. (We train with Adam, which rescales the steps; the
# argument is a heuristic, and the data below test it.) So we score each
# frequency of each neuron at step 0 by its contribution $\alpha_k^2 \beta_k \cos D_k$
# (`gn.lottery_scores`) and predict the winner: a lottery decided at
# initialisation.

# %%
init = run_full.state_at(0)
scores0 = gn.lottery_scores(init["theta"], init["xi"])  # (M, 11)
predicted = scores0.argmax(-1) + 1
alpha0 = gn.neuron_waves(init["theta"]).power.sqrt()  # (M, 11) input magnitudes
beta0 = gn.neuron_waves(init["xi"]).power.sqrt()  # (M, 11) output magnitudes
predictors = {  # each predicts the frequency with the largest score, (M, 11)
    "alpha^2 beta cos D (the rule)": scores0,
    "alpha^2 beta (magnitude alone)": alpha0**2 * beta0,
    "cos D (alignment alone)": scores0 / (alpha0**2 * beta0),
    "alpha (input magnitude alone)": alpha0,
}
hit_rates = {
    name: float((s.argmax(-1) + 1 == w_in.freq).float().mean())
    for name, s in predictors.items()
}
hit = hit_rates["alpha^2 beta cos D (the rule)"]
for name, h in hit_rates.items():
    print(f"winning frequency predicted by {name:31s}: {h:.1%} of neurons")
print(f"chance: {1 / 11:.1%}")

snap = run_full.snapshot_steps
# (snapshot, M, K)
power = torch.stack(
    [gn.neuron_waves(run_full.state_at(s)["theta"]).power for s in snap]
)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.2), sharey=True)
hits = torch.nonzero(predicted == w_in.freq)[:, 0]
misses = torch.nonzero(predicted != w_in.freq)[:, 0]
for ax, m in zip(axes, [int(hits[0]), int(hits[1]), int(misses[0])]):
    for k in range(P // 2):
        win = k + 1 == int(w_in.freq[m])
        ax.plot(
            np.maximum(snap, 1),
            power[:, m, k],
            lw=2 if win else 0.8,
            color="tab:red" if win else "tab:gray",
            alpha=1 if win else 0.5,
        )
    ax.set(xscale="log", yscale="log", xlabel="step")
    ax.set_title(
        f"neuron {m}: predicted k={int(predicted[m])}, won k={int(w_in.freq[m])}",
        fontsize=9,
    )
axes[0].set_ylabel(r"power $A_k^2$ of $\theta_m$")
fig.tight_layout()
plt.show()

# %% [markdown]
# Each panel is one neuron: every frequency's power over training (two neurons
# the rule predicts right, one it gets wrong). Every frequency grows at first,
# the winner (red) by far the most; the others then stall. From the initial
# weights alone the rule picks the winner for most neurons, far above chance and
# above the initial amplitude alone. It is not perfect: it only compares the
# contributions at step 0, and where the leading frequencies start close
# together (right panel) another can overtake. The table above separates the
# rule's two ingredients: magnitude alone ($\alpha^2\beta$, without $\cos D$) and
# alignment alone ($\cos D$, without the magnitudes) each predict less than the two
# together.

# %%
# null: chance is 1/11 = 9%
assert hit > 4 / 11, "the lottery prediction should be far above chance (1/11)"
# null: the rule without its alignment term, and without its magnitudes (printed above)
assert hit > hit_rates["alpha^2 beta (magnitude alone)"], (
    "alignment adds to magnitude"
)
assert hit > hit_rates["cos D (alignment alone)"], "magnitude adds to alignment"

# %% [markdown]
# ## 4. Grokking in this network
#
# Now hold out data and add weight decay, as in the paper's "grokking" run: ReLU
# activation, 75% of the pairs, AdamW with weight decay (the paper: learning rate
# $10^{-4}$, weight decay 2, 50k steps, which do not fit a few minutes; we use
# $10^{-3}$ and weight decay 1).

# %%
WD, GROK_STEPS = 1.0, 2000
train_mask = data.train_mask
test_rows = ~train_mask
run_grok = train(
    gn.ModularMLP(P, WIDTH, activation="relu", seed=SEED),
    [x_all[train_mask], y_all[train_mask], labels[train_mask]],
    ce_loss,
    TrainConfig(
        steps=GROK_STEPS,
        lr=1e-3,
        weight_decay=WD,
        seed=SEED,
        log_every=20,
        snapshot_steps=snapshot_schedule(GROK_STEPS, n_log=10, n_linear=30),
    ),
    evaluate=lambda m: {
        "train_acc": accuracy(m, train_mask),
        "test_acc": accuracy(m, test_rows),
        **waves_metrics(m),
    },
    name="he-relu-grokking",
    config={"p": P, "width": WIDTH, "activation": "relu", "frac": FRAC, "v": 1},
)
steps = run_grok.metric("step")
train_acc, test_acc = run_grok.metric("train_acc"), run_grok.metric("test_acc")
swap = data.swap_in_train[test_rows].float().mean()
# null: chance is 1/23; a network that cannot fit stays below 100%
assert (train_acc >= 1.0).any(), "the network should memorise its training pairs"
memorised = int(steps[np.argmax(train_acc >= 1.0)])
plateau = float(test_acc[steps == memorised][0])
off_plateau = (steps > memorised) & (test_acc > plateau + 0.05)
# null: a memorising network stays on its plateau (wd 0 in section 5)
assert off_plateau.any(), "the test accuracy should leave the plateau"
leaves = int(steps[np.argmax(off_plateau)])
grokked = (
    int(steps[np.argmax(test_acc > 0.95)]) if (test_acc > 0.95).any() else None
)
print(f"trained in {run_grok.seconds:.0f} s")
print(f"train accuracy 100% at step {memorised}; test accuracy then {plateau:.3f}")
print(f"test pairs whose swap (y, x) is a training pair: {swap:.3f}")
print(
    f"test accuracy leaves the plateau at step {leaves}, passes 95% at step {grokked}"
)

# %% [markdown]
# Why does the test accuracy sit so high (printed above) while the network only
# memorises, far above the 1/23 of chance? The network is symmetric by construction:
# $h(x, y) = h(y, x)$, since it only sees $\theta[x] + \theta[y]$. A test pair whose
# swap is a training pair is answered by memory. With 75% of the pairs in
# training, about three quarters of the test pairs are such pairs (the fraction
# printed above), and that is where the plateau sits. On the other test pairs,
# whose swap is held out too, the memorising network is at chance (checked below). (The transformer of the grokking chapter needed a special test
# set to see this; here the symmetry is built in.)

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.3))
ax1.plot(steps, train_acc, label="train")
ax1.plot(steps, test_acc, label="test")
ax1.axhline(
    float(swap), color="k", ls=":", lw=1, label="test pairs answerable by swap"
)
ax1.set_xlabel("step")
ax1.set_ylabel("accuracy")
ax1.legend(fontsize=8)
stages = {
    "memorise": (0, memorised),
    "plateau": (memorised, leaves),
    "generalise": (leaves, grokked or GROK_STEPS),
}
plotting.shade_phases(ax1, stages)
ax2.plot(steps, run_grok.metric("ipr"), color="tab:green", label="mean IPR")
ax2.set_ylabel("mean IPR of the input weights")
ax3 = ax2.twinx()
ax3.plot(
    steps, run_grok.metric("norm"), color="tab:purple", label="parameter norm$^2$"
)
ax3.set_ylabel(r"$\|\theta\|^2 + \|\xi\|^2$")
plotting.shade_phases(ax2, stages, labels=False)
ax2.set_xlabel("step")
ax2.legend(
    [ax2.lines[0], ax3.lines[0]], ["mean IPR", "parameter norm$^2$"], fontsize=8
)
fig.tight_layout()
plt.show()

# %% [markdown]
# The stages, found from the curves: the network memorises within a couple of
# hundred steps (train accuracy 100%, test accuracy at the swap level); sits on
# the plateau while its neurons keep concentrating on single frequencies; then
# the test accuracy climbs, in steps. How far it gets in 2,000 steps depends on the
# seed: past 95% in some, still climbing at the end in others (the step it passes
# 95%, or None, is printed above). The IPR rises smoothly
# through all three stages: no threshold of "clean enough" features shows in
# it. The parameter norm rises steeply through memorisation and into the
# plateau and keeps growing afterwards (printed below): at this learning rate
# weight decay 1 does not shrink the weights, unlike in the transformer of the
# grokking chapter.

# %%
norm = run_grok.metric("norm")
print(
    "squared parameter norm at steps 0, memorised, leaving the plateau, end: "
    f"{norm[0]:.0f}, {norm[steps == memorised][0]:.0f}, {norm[steps == leaves][0]:.0f}, "
    f"{norm[-1]:.0f}"
)
# The plateau, split: on test pairs whose swap is a training pair the memorised
# answer is right by symmetry; on the others, does the network know anything yet?
no_swap = test_rows & ~data.swap_in_train
at_memorised = min(run_grok.snapshot_steps, key=lambda s: abs(s - memorised))
acc_no_swap = accuracy(run_grok.model_at(at_memorised), no_swap)
acc_no_swap_end = accuracy(run_grok.cpu_model(), no_swap)
print(
    f"at step {at_memorised}: accuracy {acc_no_swap:.3f} on the {int(no_swap.sum())} "
    f"test pairs whose swap is held out too (chance {1 / P:.3f}), "
    f"{acc_no_swap_end:.3f} at the end"
)
# null: a network that had learned addition would score near 1 on these pairs
assert acc_no_swap < 0.2, "on the plateau, pairs memory cannot answer are at chance"
# null: chance is 1/23 = 0.04; a plateau at the final value would mean no later jump
assert 1 / P < plateau < test_acc[-1], "plateau above chance, below the final value"
# null: a network that generalises as it fits leaves the plateau as it memorises (ratio ~1);
# measured 4.1-4.4x (seeds 6708, 9784)
assert leaves > 2 * memorised, "generalisation comes later"
# null: memorisation answers these pairs at chance (1/23; the plateau value printed above);
# measured 0.83-0.89 at the end (seeds 6708, 9784)
assert acc_no_swap_end > 0.5, "and then reaches the pairs memory cannot answer"
ipr = run_grok.metric("ipr")
# null: an IPR that stalled on the plateau would be equal at both ends of it
assert ipr[steps == leaves][0] > ipr[steps == memorised][0], (
    "IPR grows on the plateau"
)

# %% [markdown]
# ## 5. When does grokking happen? A phase diagram
#
# Power et al. {cite}`power2022grokking` and Liu et al. {cite}`liu2023omnigrok`
# mapped when networks generalise as a function of the training fraction and
# the weight decay. Here is that map for this network: 5 fractions × 5 weight
# decays × 3 seeds = 75 networks (width 128, 3,000 full-batch steps each),
# coloured by the step at which the test accuracy passes 90%.
#
# Seventy-five separate runs would take minutes. Instead we stack them into one
# `Ensemble` (`toylab.ensemble`): the 75 networks' weights become one set of
# tensors with a leading "member" axis, `torch.func.vmap` runs them as one
# program, and each member gets its own training pairs (a mask over all 529) and
# its own weight decay. Each member still trains exactly as it would alone. (The
# book's benchmarks measure the gain against running the cells one by one.)

# %%
FRACS = [0.3, 0.4, 0.5, 0.6, 0.75]
DECAYS = [0.0, 0.3, 1.0, 3.0, 10.0]
SEEDS = [SEED, SEED + 1, SEED + 2]
cells = [(f, w, s) for f in FRACS for w in DECAYS for s in SEEDS]
# (529, 75): each network's training pairs
masks = gn.train_masks(P, [f for f, _, _ in cells], [s for _, _, s in cells])
DIAGRAM_STEPS = 3000


def diagram_metrics(ensemble):
    with torch.no_grad():
        answers = ensemble(x_all, y_all).argmax(-1).cpu()  # (75, 529)
    correct = (answers == labels).float()
    train_w, test_w = masks.T.float(), (~masks.T).float()
    train_a = (correct * train_w).sum(1) / train_w.sum(1)
    test_a = (correct * test_w).sum(1) / test_w.sum(1)
    out = {f"train {i}": float(a) for i, a in enumerate(train_a)}
    out.update({f"test {i}": float(a) for i, a in enumerate(test_a)})
    return out


run_diagram = train(
    Ensemble(
        [gn.ModularMLP(P, 128, activation="relu", seed=s) for _, _, s in cells]
    ),
    [x_all, y_all, labels, masks],
    gn.ensemble_loss,
    TrainConfig(
        steps=DIAGRAM_STEPS,
        lr=3e-3,
        weight_decay=tuple(w for _, w, _ in cells),
        seed=SEED,
        log_every=50,
    ),
    evaluate=diagram_metrics,
    name="he-phase-diagram",
    config={"p": P, "width": 128, "cells": cells, "v": 1},
)
print(f"{len(cells)} networks trained together in {run_diagram.seconds:.0f} s")

# %%
d_steps = run_diagram.metric("step")
to_90 = np.full((len(FRACS), len(DECAYS), len(SEEDS)), np.nan)
final_test = np.zeros_like(to_90)
final_train = np.zeros_like(to_90)
for i, (f, w, s) in enumerate(cells):
    acc = run_diagram.metric(f"test {i}")
    idx = (FRACS.index(f), DECAYS.index(w), SEEDS.index(s))
    final_test[idx], final_train[idx] = (
        acc[-1],
        run_diagram.metric(f"train {i}")[-1],
    )
    if (acc > 0.9).any():
        to_90[idx] = d_steps[np.argmax(acc > 0.9)]

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
reached = ~np.isnan(to_90)
never = ~reached.any(-1)
mean_steps = np.where(  # mean over the seeds that got there; blank where none did
    never,
    np.nan,
    np.where(reached, to_90, 0).sum(-1) / np.maximum(reached.sum(-1), 1),
)
im = ax1.imshow(np.ma.masked_invalid(mean_steps), cmap="viridis_r", origin="lower")
for a in range(len(FRACS)):
    for b in range(len(DECAYS)):
        n_ok = int((~np.isnan(to_90[a, b])).sum())
        text = "never" if never[a, b] else f"{n_ok}/{len(SEEDS)}"
        ax1.text(
            b,
            a,
            text,
            ha="center",
            va="center",
            fontsize=7,
            color="k" if never[a, b] or n_ok < len(SEEDS) else "w",
        )
ax1.set_xticks(range(len(DECAYS)), DECAYS)
ax1.set_yticks(range(len(FRACS)), FRACS)
ax1.set_xlabel("weight decay")
ax1.set_ylabel("training fraction")
ax1.set_title("steps to 90% test accuracy (seeds that got there)", fontsize=9)
fig.colorbar(im, ax=ax1, shrink=0.8)
im2 = ax2.imshow(final_test.mean(-1), cmap="magma", origin="lower", vmin=0, vmax=1)
ax2.set_xticks(range(len(DECAYS)), DECAYS)
ax2.set_yticks(range(len(FRACS)), FRACS)
ax2.set_xlabel("weight decay")
ax2.set_title(
    f"test accuracy after {DIAGRAM_STEPS} steps (mean of seeds)", fontsize=9
)
fig.colorbar(im2, ax=ax2, shrink=0.8)
fig.tight_layout()
plt.show()
print("rows: training fractions", FRACS, "; columns: weight decays", DECAYS)
print("seeds reaching 90% test accuracy:")
print((~np.isnan(to_90)).sum(-1))
print("mean step to 90% over the seeds that got there:")
print(np.round(mean_steps))
print("final test accuracy (mean over seeds):")
print(final_test.mean(-1).round(2))
print("final train accuracy (mean over seeds):")
print(final_train.mean(-1).round(2))
# test pairs memory cannot answer: held out, and their swap held out too
with torch.no_grad():
    # (529, 75)
    correct_end = (run_diagram.model(x_all, y_all).argmax(-1) == labels).T
unseen = ~masks & ~masks[y_all * P + x_all]  # (529, 75)
final_unseen = np.zeros_like(to_90)
for i, (f, w, s) in enumerate(cells):
    idx = (FRACS.index(f), DECAYS.index(w), SEEDS.index(s))
    final_unseen[idx] = correct_end[unseen[:, i], i].float().mean()
print("final accuracy on test pairs whose swap is held out too (mean over seeds):")
print(final_unseen.mean(-1).round(2))

# %% [markdown]
# Four regions, as in Omnigrok's diagrams. Without weight decay the networks
# memorise and stay near their plateau (test accuracy about the swap-answerable
# fraction, that is about the training fraction; on the pairs memory cannot
# answer they creep above chance, far below the networks with weight decay: the
# last table above). With moderate weight decay and enough data they generalise;
# the mean steps printed above say how much sooner more data makes it in this run. With too little data they do not
# within the budget, whatever the decay (their test accuracy still creeps above
# the plateau). With too much weight decay (10) they cannot even fit the training
# set: the decay wins against the loss. Near the boundary the seeds can
# disagree: there, whether a run groks in time depends on its initialisation.

# %%
wd0, wd1 = DECAYS.index(0.0), DECAYS.index(1.0)
# null: with weight decay 1 and 75% of the data every seed reaches 90% (below)
assert np.isnan(to_90[:, wd0]).all(), "no weight decay: no network reaches 90%"
# null: with weight decay 1, the same networks fit their training pairs (final_train)
assert final_train[:, DECAYS.index(10.0)].max() < 0.9, "too much wd: no fit"
# null: memorisation alone gives ~1/23 on the unseen pairs at every training fraction
assert final_unseen[-1, wd1].min() > 0.5 > final_unseen[0, wd1].max(), (
    "more data, generalisation (wd = 1)"
)
assert not np.isnan(to_90[-1, wd1]).any(), "75% of the data, wd 1: every seed groks"

# %% [markdown]
# ## 6. Watch it happen
#
# The grokking run's neurons over training: each input weight vector's share of
# power per frequency (neurons sorted by their final frequency), next to the
# accuracy curves. In Jupyter or Colab this is a slider; on the static website
# it is a pre-rendered animation.

# %%
final_freq = gn.neuron_waves(run_grok.cpu_model().theta).freq
grok_order = torch.argsort(final_freq)
snap_share = {}
for s in run_grok.snapshot_steps:
    pw = gn.neuron_waves(run_grok.state_at(s)["theta"]).power
    snap_share[s] = (pw / pw.sum(-1, keepdim=True))[grok_order].T


def draw(fig, step):
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.4, 1])
    ax1.imshow(
        snap_share[step],
        aspect="auto",
        cmap="Blues",
        vmin=0,
        vmax=1,
        interpolation="nearest",
    )
    ax1.set_xlabel("neuron (sorted by final frequency)")
    ax1.set_ylabel("frequency $k$ (1 at top)")
    ax1.set_title(f"share of power per frequency, step {step}", fontsize=9)
    ax2.plot(steps, train_acc, label="train")
    ax2.plot(steps, test_acc, label="test")
    ax2.axvline(step, color="tab:red")
    ax2.set_xlabel("step")
    ax2.legend(fontsize=8)
    fig.tight_layout()


plotting.snapshot_view(draw, run_grok.snapshot_steps, figsize=(10, 3))

# %% [markdown]
# ## 7. What changed from the paper, and why
#
# | | He et al. {cite}`he2026modular` | this chapter |
# |---|---|---|
# | all-pairs run | ReLU and $x^2$, AdamW lr $5 \times 10^{-5}$, 5k epochs | $x^2$, Adam lr $10^{-3}$, 1k steps (a fifth of the paper's length, at 20x its learning rate) |
# | grokking run | ReLU, AdamW lr $10^{-4}$, wd 2, 75% data, 50k epochs | ReLU, AdamW lr $10^{-3}$, wd 1 (half the paper's), 75% data, 2k steps (1/25 of its length) |
# | learning-rate schedule | see the paper's appendix | constant, no warm-up |
# | IPR | of the neurons' weights | of the input weights $\theta$ only (the output weights' frequencies are compared separately) |
# | phase diagram | (not in the paper) | width 128, lr $3 \times 10^{-3}$, 3k steps, 75 networks at once |
#
# Larger learning rates make everything fit the time budget; the cost is that
# the weights grow much larger than at the paper's learning rates (the squared
# parameter norm passes a thousand, section 4), and the plateau is shorter. The
# phenomena (single frequencies, phase alignment, the flawed indicator, the
# lottery, the swap plateau) are the paper's.
#
# ## Summary
#
# - Each neuron of the trained network is one wave, in and out, with its output
#   phase twice its input phase; frequencies are shared out evenly.
# - The square activation makes the output a flawed indicator: the answer plus
#   two ghosts, at half its height in the idealised network; training uses the
#   spare frequencies to shrink them.
# - Each neuron's frequency is largely decided at initialisation, by magnitude
#   and alignment together.
# - The memorising network scores far above chance on held-out pairs because it
#   is symmetric in $x, y$; grokking is the step from there to the Fourier algorithm.
# - Whether and when it groks depends on data and weight decay, with a
#   memorisation phase without decay and a no-fit phase with too much.
#
# ## Exercises
#
# 1. Repeat section 1 with `activation="relu"`. Are the neurons still single
#    frequency? Does the flawed indicator survive?
# 2. Add a learning-rate axis to the phase diagram. An `Ensemble` trains all its
#    members with one optimiser and so one learning rate: train one ensemble per
#    learning rate (copy the `run_diagram` cell, change `lr` and `name`) and draw
#    the diagrams side by side.
# 3. Change `SEED` in section 1. How many neurons change frequency, and does the
#    lottery prediction still work?
#
# The works cited here are listed on the [references](../book/references.md) page.
