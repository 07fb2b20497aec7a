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
# # ODE-solving circuits: what a transformer learns when it predicts a trajectory
#
# Show a transformer a few dozen noisy positions of a particle moving under an
# unknown linear law, and ask for the next one. A numerical analyst would use an
# *integrator* such as Euler's method: a fixed rule on the last few states. But an
# integrator needs the law, and here it is new in every sequence: it must be read
# off the trajectory, as in the [in-context regression chapter](icl_regression.ipynb),
# perhaps by heads on the previous state, as in the
# [induction chapter](induction_heads.ipynb).
#
# You train a small transformer on random 2-D linear systems (a few minutes on a
# laptop CPU), hold it against the algorithms it might have learned, and open it
# up. The answer is not the one we expected.
#
# ```{admonition} Learning objectives
# :class: tip
# - Know the exact flow $e^{hA}$ of a linear ODE, and an integrator's stencil,
#   order and stability.
# - Measure in-context learning against in-context least squares.
# - Read a model's *stencil* off its Jacobian.
# - Test a circuit hypothesis with ablations and patching.
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
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import torch

from toylab import claims, exercises, hooks, plotting
from toylab import ode_circuits as ode
from toylab.heads import previous_token_scores
from toylab.train import TrainConfig, snapshot_schedule, train

plotting.use_book_style()

# %% [markdown]
# ## 1. Linear ODEs, their exact flow, and the integrators
#
# A linear system $\dot x = A x$, $x \in \mathbb R^2$, sampled every $h$ time units,
# obeys $x_{t+1} = e^{hA} x_t$: the *exact flow map* $G = e^{hA}$ is all there is
# to know. It multiplies an eigenvector of $A$ with eigenvalue $\lambda$ by
# $e^{h\lambda}$ per step; complex pairs give spirals, real eigenvalues nodes.
#
# ```{admonition} Primer: integrators, order and stability
# :class: seealso
# An *integrator* approximates $e^{hA}$ with a few products by $A$
# {cite}`hairer1993solving`. A *one-step method* computes $x_{t+1}$ from $x_t$
# alone, a *multistep method* also from $x_{t-1}, \dots$; the fixed weights on the
# past states are its *stencil*:
#
# | method | next state | $R(z)$, $z = h\lambda$ | order $q$ |
# |---|---|---|---|
# | Euler | $x_t + hAx_t$ | $1 + z$ | 1 |
# | Adams–Bashforth 2 (AB2) | $x_t + h(\tfrac32 A x_t - \tfrac12 A x_{t-1})$ | two roots (section 8) | 2 |
# | RK4 | four evaluations of $Ax$ | $1 + z + \frac{z^2}{2} + \frac{z^3}{6} + \frac{z^4}{24}$ | 4 |
# | exact flow | $e^{hA} x_t$ | $e^{z}$ | exact |
#
# **Order.** Started from the exact state, a method of order $q$ errs by
#
# $$\|\hat x_{t+1} - x_{t+1}\| = O(h^{q+1}).$$
#
# **Stability.** Along an eigenvector, a one-step method multiplies the state by
# its *stability function* $R(h\lambda)$ where the exact flow multiplies it by
# $e^{h\lambda}$; order $q$ means
#
# $$R(z) = e^{z} + O(z^{q+1}).$$
#
# Where $|R(z)| > 1$ although $|e^z| \le 1$, errors grow every step and a bounded
# orbit spirals out: Euler on a rotation, $|1 + i\omega h| > 1$ (section 6).
# ```
#
# Two baselines need no $A$: *copy the last state* and *constant velocity*
# $2x_t - x_{t-1}$. *In-context least squares* fits $G$ to the pairs
# $(y_s, y_{s+1})$ seen so far and predicts $\hat G y_t$.
#
# **The task.** Each sequence draws a new $A$ (with probability ½ a damped
# rotation, $\delta \in [0, 0.15]$, $|\omega| \in [0.5, 1.5]$, otherwise two real
# eigenvalues in $[-0.3, 0]$; in a random basis), a step $h \in [0.25, 0.75]$ and a
# start on the unit circle, and shows 32 states with Gaussian noise,
# $\sigma = 0.05$. Without noise three states would fix the next (exercise 2);
# with it, the whole trajectory is worth reading.

# %%
T, NOISE, H_RANGE = 32, 0.05, (0.25, 0.75)
SEED = 0


def sample(n, gen, noise=NOISE, h_range=H_RANGE, **family):
    """n trajectories of random systems: steps h ~ U(h_range), 32 noisy states each."""
    A = ode.sample_systems(n, generator=gen, **family)
    h = h_range[0] + (h_range[1] - h_range[0]) * torch.rand(n, generator=gen)
    return ode.linear_trajectories(A, h, T, generator=gen, noise_std=noise)


test = sample(2000, torch.Generator().manual_seed(1234))
is_spiral = ode.eigenvalues(test.A).imag.abs().amax(-1) > 1e-6

fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
examples = [
    int(torch.nonzero(is_spiral)[0]),
    int(torch.nonzero(is_spiral)[1]),
    int(torch.nonzero(~is_spiral)[0]),
]
for ax, i in zip(axes, examples):
    ax.plot(*test.x[i].T, "-", color="0.6", lw=1, label="true states $x_t$")
    ax.plot(*test.y[i].T, ".", ms=5, label="observed $y_t$")
    ax.plot(*test.y[i, 0], "k*", ms=9, label="start")
    ev = ode.eigenvalues(test.A[i])
    ev = [
        complex(round(e.real, 2) + 0.0, round(e.imag, 2) + 0.0) for e in ev.tolist()
    ]
    ax.set_title(
        rf"$\lambda$ = {ev[0]:.2f}, {ev[1]:.2f}; $h$ = {test.h[i]:.2f}", fontsize=9
    )
    ax.set_aspect("equal")
axes[0].legend(fontsize=9, loc="lower left")
fig.suptitle("three test sequences: a new linear law each time", fontsize=10)
plt.tight_layout()
plt.show()


# %% [markdown]
# The baselines on 2,000 test sequences, scored against the *true* next state,
# *late* (positions 16 to 30) and *early* (1 to 3). The **Kalman filter with the
# true law** (`ode.kalman_filter`), the best linear predictor that knows $A$ and
# the noise, is the floor (section 8).


# %%
def errors_by_position(pred, traj=test):
    """Mean squared error of each position's next-state prediction, (T - 1,)."""
    return ode.next_state_error(pred, traj.x).mean(0)


def late(curve):
    return float(curve[16:].mean())


def early(curve):
    return float(curve[1:4].mean())


clean_err, base_curves = {}, {}
for name, predict in ode.BASELINES.items():
    clean_err[name] = late(errors_by_position(predict(test.x, test.A, test.h)))
    base_curves[name] = errors_by_position(predict(test.y, test.A, test.h))
kalman = ode.kalman_filter(test.y, test.A, test.h, noise_std=NOISE)
base_curves["Kalman filter (true A)"] = errors_by_position(kalman)
clean_err["Kalman filter (true A)"] = float("nan")  # it assumes noisy observations
print(f"{'':26s} {'clean, late':>12s} {'noisy, late':>12s} {'noisy, early':>12s}")
for name, curve in base_curves.items():
    print(
        f"{name:26s} {clean_err[name]:12.1e} {late(curve):12.1e} {early(curve):12.1e}"
    )

# %%
# checks of the baselines themselves (exact maths on clean data, no training)
# null: the best integrator, RK4, which has a truncation error
rk4_clean = clean_err["RK4 (true A)"]
exact_clean = clean_err["exact flow (true A)"]
claims.claim(
    "the exact flow is exact", exact_clean, "<", 1e-10, null=rk4_clean, log=True
)
# null: constant velocity, which also reads only the context but fits no map; least
# squares is 1000x better (what is left is the bias of its small ridge, 1e-2)
ls_clean = clean_err["least squares in context"]
cv_clean = clean_err["constant velocity"]
claims.claim(
    "2 clean pairs fix a 2x2 map",
    ls_clean,
    "<",
    1e-3 * cv_clean,
    null=cv_clean,
    log=True,
)
order = ["Euler (true A)", "AB2 (true A)", "RK4 (true A)"]
e1, e2, e3 = (clean_err[n] for n in order)
# null: no ranking, equal errors
claims.claim("on clean data Euler is less accurate than AB2", e1, ">", e2, null=e2)
claims.claim("on clean data AB2 is less accurate than RK4", e2, ">", e3, null=e3)
# noise sets a floor that every predictor but the filter stays above
copy_noisy = late(base_curves["copy last state"])
exact_noisy = late(base_curves["exact flow (true A)"])
# null: copying no worse than the exact flow
claims.claim(
    "on noisy data copying is far worse than the exact flow",
    copy_noisy,
    ">",
    5 * exact_noisy,
    null=exact_noisy,
)
floor = late(base_curves["Kalman filter (true A)"])
above = min(late(c) for n, c in base_curves.items() if "Kalman" not in n)
# null: some predictor reaches the filter's floor
claims.claim(
    "every predictor but the filter stays above its floor",
    above,
    ">",
    floor,
    null=floor,
)

# %% [markdown]
# Fed clean states, the exact flow is exact and the integrators rank by order. Fed
# noisy ones, all but the filter pass the noise on; least squares joins RK4 and the
# exact flow once it has pairs to average.
#
# ## 2. A transformer that predicts the next state
#
# ```{admonition} Predict before you run
# :class: tip
# Which of the baselines of section 1 will the trained transformer beat: copying
# the last state, constant velocity, Euler, RK4 with the true law? Can it match
# the exact flow, which knows $A$ and $h$ while the model only sees noisy states?
# ```
#
# The model is a two-layer TransformerLens model {cite}`nanda2022transformerlens`
# (four heads per layer, $d_{model} = 64$) whose tokens are states, embedded and
# read out by linear maps: `ode.StateTransformer` feeds the embedded states to a
# `TransformerBridge` as its residual stream, so its hooks work as for tokens. Like an integrator, it outputs an *increment*,
# $\hat y_{t+1} = y_t + \text{output}_t$, so copying is the model that outputs zero.
# It is trained on the squared error of every next observed state.

# %%
STEPS, BATCH = 2000, 64
model = ode.state_transformer(n_layers=2, d_model=64, n_heads=4, n_ctx=T, seed=SEED)
LAYERS, HEADS = range(model.cfg.n_layers), range(model.cfg.n_heads)


def loss_fn(model, y):
    pred = model(y)[:, :-1]  # (batch, T - 1, 2): predictions of y_1 ... y_{T-1}
    return ((pred - y[:, 1:]) ** 2).sum(-1).mean()


def batches(gen):
    return (sample(BATCH, gen).y,)


def evaluate(model):
    curve = errors_by_position(
        model(test.y[:500].to(model.W_pos.device)).cpu(), test[:500]
    )
    return {"test_late": late(curve), "test_early": early(curve)}


cfg = TrainConfig(
    steps=STEPS,
    lr=3e-3,
    warmup_steps=100,
    lr_decay="cosine",
    seed=SEED,
    log_every=50,
    snapshot_steps=snapshot_schedule(STEPS, n_log=10, n_linear=20),
)
run = train(
    model,
    batches,
    loss_fn,
    cfg,
    evaluate=evaluate,
    name="ode-transformer",
    config=dict(
        task="linear-ode",
        T=T,
        noise=NOISE,
        h=H_RANGE,
        family="mixed",
        batch=BATCH,
        model="state_transformer(2, 64, 4, increment)",
        v=1,
    ),
)
model = run.model
print(f"trained in {run.seconds:.0f} s")

# %% [markdown]
# The learning curves against the baselines: dashed lines know the true $A$
# (dash-dotted: $A$ and the noise level), dotted ones do not.

# %%
with torch.no_grad():
    model_curve = errors_by_position(model(test.y))
steps_logged = np.maximum(run.metric("step"), 1)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
styles = {
    "copy last state": ("0.5", ":"),
    "constant velocity": ("tab:brown", ":"),
    "least squares in context": ("tab:green", ":"),
    "Euler (true A)": ("tab:orange", "--"),
    "AB2 (true A)": ("tab:purple", "--"),
    "exact flow (true A)": ("k", "--"),
    "Kalman filter (true A)": ("tab:red", "-."),
}
for ax, key, pick in [(axes[0], "test_early", early), (axes[1], "test_late", late)]:
    ax.plot(
        steps_logged, run.metric(key), color="tab:blue", lw=2, label="transformer"
    )
    for name, (color, ls) in styles.items():
        ax.axhline(pick(base_curves[name]), color=color, ls=ls, lw=1, label=name)
    ax.set(xscale="log", yscale="log", xlabel="training step")
axes[0].set_title("early: predicting states 2-4 (2-4 states seen)", fontsize=9)
axes[1].set_title("late: predicting states 17-31 (a long context)", fontsize=9)
axes[0].set_ylabel("squared error vs the true next state")
axes[1].legend(fontsize=9, loc="center left", bbox_to_anchor=(1.02, 0.5))
plt.tight_layout()
plt.show()

# %% [markdown]
# And the error against context length.

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.8))
pos = np.arange(1, T - 1)
ax.plot(pos, model_curve[1:], color="tab:blue", lw=2.5, label="transformer")
for name, (color, ls) in styles.items():
    ax.plot(pos, base_curves[name][1:], color=color, ls=ls, lw=1.2, label=name)
ax.set(
    yscale="log", xlabel="position t (t + 1 states seen)", ylabel="squared error"
)
ax.set_title("error against context length", fontsize=10)
ax.legend(fontsize=9, ncol=2)
plt.show()
summary = {"transformer": model_curve, **base_curves}
for name, curve in summary.items():
    print(f"{name:26s} early {early(curve):.2e}   late {late(curve):.2e}")

# %%
m_late, m_early = late(model_curve), early(model_curve)
# null: each baseline's late error (printed above)
cv_late = late(base_curves["constant velocity"])
euler_late = late(base_curves["Euler (true A)"])
ab2_late = late(base_curves["AB2 (true A)"])
claims.claim(
    "the model beats constant velocity", m_late, "<", cv_late, null=cv_late
)
claims.claim(
    "the model beats Euler with the true A",
    m_late,
    "<",
    euler_late,
    null=euler_late,
)
claims.claim(
    "the model beats AB2 with the true A", m_late, "<", ab2_late, null=ab2_late
)


# %% [markdown]
# Every predictor's error falls along a sequence, because the trajectories decay.
# To isolate what the *context* buys, we use undamped rotations (in the training
# family), where a predictor that ignores the context has a **gain from context**,
# early error over late, of 1.

# %%
steady = sample(
    2000, torch.Generator().manual_seed(4321), family="rotation", decay=(0.0, 0.0)
)
with torch.no_grad():
    steady_curves = {
        "transformer": errors_by_position(model(steady.y), steady),
        "transformer, untrained": errors_by_position(
            run.model_at(0)(steady.y), steady
        ),
    }
for name, predict in ode.BASELINES.items():
    steady_curves[name] = errors_by_position(
        predict(steady.y, steady.A, steady.h), steady
    )
gains = {name: early(c) / late(c) for name, c in steady_curves.items()}
print("gain from context on undamped rotations (early error / late error):")
print({name: round(g, 2) for name, g in gains.items()})

# %% [markdown]
# The causal test replaces states 0 to 15 of each sequence and keeps states 16 on,
# then asks how much the error 3 to 6 states after the seam rises. A predictor
# that reads the *law* from the context is thrown when the first half comes from
# another law. But so is one that only *smooths* the state: a predictor that knows
# $A$ and averages the recent states, moved forward by $e^{hA}$ (`ode.recency_smoother`,
# weights $w^k$ on the state $k$ steps back; the Kalman filter is the best such
# average), mixes states of the other trajectory into its estimate. To tell the
# two apart, a 2×2 design (the fourth cell is the unspliced sequence):
#
# | first half | same law | another law |
# |---|---|---|
# | **jump in the state at the seam** | throws a smoother, barely a law-reader | throws both |
# | **no jump** | (the sequence itself) | throws a law-reader, less a smoother |
#
# "Another law, no jump" runs another rotation backwards from the state where this
# one goes on (`ode.ending_at`), so the states join without a seam.

# %%
other = sample(
    2000, torch.Generator().manual_seed(4322), family="rotation", decay=(0.0, 0.0)
)
gen_splice = torch.Generator().manual_seed(4323)
same_law = ode.linear_trajectories(  # this law, another start
    steady.A, steady.h, 16, generator=gen_splice, noise_std=NOISE
)
joined = ode.ending_at(  # another law, ending where this one goes on
    other.A, other.h, steady.x[:, 15], 16, generator=gen_splice, noise_std=NOISE
)
first_halves = {
    "another law, jump": other.y[:, :16],
    "same law, jump": same_law.y,
    "another law, no jump": joined.y,
}


def after_splice(pred):  # error at positions 18-21: 3 to 6 states of this law seen
    return float(errors_by_position(pred, steady)[18:22].mean())


predictors = {
    "transformer": lambda y, A, h: model(y),
    "transformer, untrained": lambda y, A, h: run.model_at(0)(y),
    **ode.BASELINES,
    "Kalman filter (true A)": partial(ode.kalman_filter, noise_std=NOISE),
    **{
        f"smoother w = {w} (true A)": partial(ode.recency_smoother, weight=w)
        for w in (0.5, 0.7, 0.85)
    },
}
splice_ratio = {}  # name -> {first half: error after the splice / error without}
with torch.no_grad():
    for name, predict in predictors.items():
        base = after_splice(predict(steady.y, steady.A, steady.h))
        splice_ratio[name] = {
            cell: after_splice(
                predict(torch.cat([first, steady.y[:, 16:]], 1), steady.A, steady.h)
            )
            / base
            for cell, first in first_halves.items()
        }
# a law-reader is thrown more by a new law than by a jump; a smoother, the reverse
selectivity = {
    n: r["another law, no jump"] / r["same law, jump"]
    for n, r in splice_ratio.items()
}
print("error 3-6 states after the seam / without a splice:")
print(
    f"{'':32s}"
    + "".join(f"{c:>22s}" for c in first_halves)
    + f"{'new law / jump':>16s}"
)
for name, r in splice_ratio.items():
    cells = "".join(f"{r[c]:22.2f}" for c in first_halves)
    print(f"{name:32s}{cells}{selectivity[name]:16.2f}")

# %%
exact_early, exact_late = (
    f(base_curves["exact flow (true A)"]) for f in (early, late)
)
context_free = ["copy last state", "Euler (true A)", "exact flow (true A)"]
# the yardstick: predictors that ignore the context gain nothing (printed above)
# null: a predictor that reads the context, least squares in context
ls_gap = abs(gains["least squares in context"] - 1)
gain_gap = max(abs(gains[n] - 1) for n in context_free)
claims.claim("no context, no gain", gain_gap, "<", 0.1, null=ls_gap, log=True)
# null: a predictor that reads only the last states (copy, constant velocity, the
# integrators) or nothing learned (the untrained network) is unmoved by a new law
unmoved = max(
    splice_ratio[n]["another law, no jump"]
    for n in context_free + ["constant velocity", "transformer, untrained"]
)
new_law = splice_ratio["transformer"]["another law, no jump"]
claims.claim(
    "another law, joined without a jump, throws the model",
    new_law,
    ">",
    3 * unmoved,
    null=unmoved,
)
# null: the most law-selective of the predictors that do not read the law: those that
# read only the last states (ratio 1) and those that smooth the state with the true A
# (Kalman filter, recency smoothers: a jump throws them more than a new law)
not_law = [n for n in selectivity if "smoother" in n or "Kalman" in n]
not_law += context_free + ["constant velocity", "transformer, untrained"]
claims.claim(
    "a new law throws the model more than a jump in the state does",
    selectivity["transformer"],
    ">",
    2,
    null=max(selectivity[n] for n in not_law),
)
# null: a model that knew the law from the first state would match the exact flow
claims.claim(
    "with 2-4 states, far from the exact flow",
    m_early,
    ">",
    3 * exact_early,
    null=exact_early,
)
# null: a model that ran least squares in context would match it early on too
ls_early = early(base_curves["least squares in context"])
claims.claim(
    "early on, the model beats least squares in context",
    early(model_curve),
    "<",
    ls_early,
    null=ls_early,
)
kalman_late = late(base_curves["Kalman filter (true A)"])
ls_late = late(base_curves["least squares in context"])
print(
    f"late error, model / least squares: {m_late / ls_late:.2f}; "
    f"model / Kalman filter: {m_late / kalman_late:.0f}"
)
# "well above": ten times; null: a model that reached the filter's floor (ratio 1)
claims.claim(
    "late, the model stays far above the Kalman filter",
    m_late / kalman_late,
    ">",
    10,
    null=1.0,
    log=True,
)

# %% [markdown]
# So (all errors are printed above):
#
# - The model reads the law in context. Give it 16 states of another rotation
#   that join this one's without a jump, and its error 3 to 6 states later rises
#   many-fold (the table above), where predictors that read only the last states
#   stay at 1. That alone would not separate it from a smoother: the Kalman filter
#   and the recency smoothers, which know the law and only average the state, are
#   thrown too. The 2×2 design does: a jump in the state with the *same* law
#   throws the smoothers more than a new law does, and the model far less (the
#   last column, asserted above to be over 2 for the model; the smoothers' is
#   below 1). Least squares, the law-reader by construction, behaves like the
#   model. The gain from context (early over late error) is a weaker test: even
#   the untrained network's gain is not exactly 1 (printed above), since its
#   error varies along the sequence with the positions and the states it is fed.
# - With a long context it beats constant velocity, and Euler and AB2 *given the
#   true law*; early, it is above three times the exact flow's error.
# - It is not least squares: better early, falling back on what it learned about
#   typical laws, and late within a small factor of it (the ratio printed
#   above). Both stay far above the Kalman filter, the model by more than ten
#   times its error (asserted).
#
# ## 3. What the heads attend to
#
# A stencil needs a head on the previous state, like the induction chapter's
# previous-token heads. Here are all eight heads on one sequence (hover over a
# state to see where it looks).

# %%
_, cache = model.run_with_cache(test.y[:300])
patterns = [cache[f"blocks.{layer}.attn.hook_pattern"] for layer in LAYERS]
i = examples[0]
plotting.attention_heads_view(
    torch.cat([p[i] for p in patterns]),
    tokens=[f"y{t}" for t in range(T)],
    head_names=[f"L{layer}H{head}" for layer in LAYERS for head in HEADS],
)

# %% [markdown]
# A head's *previous-state score* is its mean attention from each state to the one
# before: 1 for a perfect previous-state head, the dashed line for even attention.
# Right: where the last state looks, averaged over 300 sequences.

# %%
prev_scores = torch.stack([previous_token_scores(p) for p in patterns])  # (2, 4)
uniform_prev = float(np.mean([1 / (t + 1) for t in range(1, T)]))
# (layer, head, key)
last_query = torch.stack([p[:, :, -1].mean(0) for p in patterns])
# (layer, head): 1 = perfectly even
entropy = torch.stack(
    [
        -(p[:, :, -1] * p[:, :, -1].clamp_min(1e-12).log()).sum(-1).mean(0)
        for p in patterns
    ]
) / np.log(T)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.3))
names = [f"L{layer}H{head}" for layer in LAYERS for head in HEADS]
ax1.bar(names, prev_scores.flatten())
ax1.axhline(uniform_prev, color="k", ls="--", lw=1, label="even attention")
ax1.set(ylim=(0, 1), ylabel="previous-state score")
ax1.legend(fontsize=9)
for layer in LAYERS:
    for head in HEADS:
        ax2.plot(
            np.arange(T),
            last_query[layer, head].flip(0),
            color=f"C{layer}",
            alpha=0.7,
        )
ax2.axhline(1 / T, color="k", ls="--", lw=1)
ax2.set(xlabel="distance back from the last state", ylabel="attention weight")
ax2.set_title("last state's attention (blue: layer 0, orange: layer 1)", fontsize=9)
plt.tight_layout()
plt.show()
print("previous-state scores:\n", prev_scores.numpy().round(2))
print("entropy of the last state's attention / log 32:\n", entropy.numpy().round(3))
print(  # exp(entropy): even attention over this many states has the same entropy
    "effective number of states attended:\n",
    np.exp(entropy.numpy() * np.log(T)).round(1),
)
recent = last_query[..., -4:].sum(-1)  # (layer, head): weight on the last 4 states
middle = last_query[..., T - 21 : T - 8].sum(-1)  # weight on the states 8-20 back
print(
    "weight on the 4 most recent states (even: 0.125):\n", recent.numpy().round(3)
)
print("weight on the states 8 to 20 back (even: 0.406):\n", middle.numpy().round(3))
print("weight on the current state itself:\n", last_query[..., -1].numpy().round(3))

# %%
# null: a previous-state head scores near 1 (even attention: about 0.10)
claims.claim("no previous-state head", prev_scores.max(), "<", 0.3, null=1.0)
# null: a head on one state has entropy 0, a head on the 4 most recent states at most
# log 4 / log 32 = 0.4 (even attention: 1); measured minimum 0.737 (seed 8688), > 0.75 (0-3)
claims.claim(
    "every head spreads over 8+ states' worth",
    entropy.min(),
    ">",
    np.log(8) / np.log(T),
    null=np.log(4) / np.log(T),
)
# null: a previous-state head puts nearly all its weight there (even: 0.125)
claims.claim(
    "no head gives the most recent states most of its weight",
    recent.max(),
    "<",
    0.5,
    null=1.0,
)


# %% [markdown]
# There is no previous-state head: every score is below 0.3, no head gives the four
# most recent states half of the last state's attention, and each spreads over at
# least eight states' worth (printed above). Each head *averages* something over
# the trajectory. Least squares works that way too, from the sums
# $\sum_s y_{s+1} y_s^\top$ and $\sum_s y_s y_s^\top$, as the gradient step of the
# [regression chapter](icl_regression.ipynb) is built from $\sum_i y_i x_i$. Is that
# what the heads compute? Two direct tests, on 2,000 test sequences:
#
# - **Where a head looks.** A head computing least squares' sums needs no
#   preference among the states; a head looking up states *like the current one*
#   (as kernel regression or parroting would) prefers the close ones. Per sequence
#   we correlate the last state's attention with closeness to the current state,
#   $-|y_s - y_T|^2$. The null is the same head's attention averaged over all
#   sequences, which depends on the position alone: recent states are close to the
#   current one, so recency alone correlates with closeness.
# - **What a head returns.** We regress each head's output at the last position
#   (`hook_z`) on least squares' seven sums (`ode.least_squares_sums`), or on the
#   mean state and the last state (four numbers), fitting on 1,000 sequences and
#   scoring $R^2$ on the other 1,000. A head that averaged the raw states evenly
#   would return a linear function of the mean state.

# %%
y_h = test.y
with torch.no_grad():
    _, z_cache = model.run_with_cache(y_h)
close = -((y_h - y_h[:, -1:]) ** 2).sum(-1)  # (B, T): closeness to the last state
candidates = {
    "least squares' sums": ode.least_squares_sums(y_h),
    "mean and last state": torch.cat([y_h.mean(1), y_h[:, -1]], dim=1),
}
head_tests = {}
for layer in LAYERS:
    att = z_cache[f"blocks.{layer}.attn.hook_pattern"][:, :, -1]  # (B, H, T)
    z = z_cache[f"blocks.{layer}.attn.hook_z"][:, -1]  # (B, H, d_head)
    for head in HEADS:
        a = att[:, head]
        by_position = a.mean(0, keepdim=True).expand_as(
            a
        )  # the same head, position only
        head_tests[f"L{layer}H{head}"] = {
            "closeness": float(ode.row_correlation(a, close).mean()),
            "closeness, position only": float(
                ode.row_correlation(by_position, close).mean()
            ),
            **{
                f"R2 {k}": ode.heldout_r2(f, z[:, head], n_fit=1000)
                for k, f in candidates.items()
            },
        }
columns = list(head_tests["L0H0"])
print(f"{'':6s}" + "".join(f"{c:>28s}" for c in columns))
for name, row in head_tests.items():
    print(f"{name:6s}" + "".join(f"{row[c]:28.2f}" for c in columns))

# %%
layer0 = [row for name, row in head_tests.items() if name.startswith("L0")]
# null: 0, the two sets of features explaining the layer-0 heads equally well
r2_gap = min(r["R2 mean and last state"] for r in layer0) - max(
    r["R2 least squares' sums"] for r in layer0
)
claims.claim(
    "layer-0 heads return the mean and last state, not least squares' sums",
    r2_gap,
    ">",
    0.3,
    null=0.0,
)

# %% [markdown]
# Neither test finds least squares. Each layer-0 head's output is, to a good
# approximation, a linear function of the mean state and the last state, while
# least squares' sums explain little of it linearly (the $R^2$ above; asserted:
# every layer-0 head's first $R^2$ beats the best second by more than 0.3). A
# nonlinear read-out of the sums is not excluded by a linear regression, but the
# plain averages are what the heads carry. Where the heads look is not tested by
# an assertion; compare the first two columns head by head: where a head's
# correlation with closeness is about what its own position-only pattern gives,
# recency alone accounts for it, and a head well above its pattern looks for
# states like the current one. In the runs we checked most heads were of the
# first kind. What turns the heads' averages into a prediction is left to the
# MLPs and the residual stream (exercise 4 starts on it).
#
# ## 4. The learned stencil
#
# A multistep rule predicts $\hat y_{T} = \sum_k J_k\, y_{T-1-k}$ with fixed
# $2 \times 2$ weights $J_k$. Any model has a *local* stencil, its Jacobian with the
# rest of the context held fixed:
#
# $$J_k = \frac{\partial \hat y_{T}}{\partial y_{T-1-k}}, \qquad k = 0, 1, \dots$$
#
# Euler's is $J_0 = I + hA$ alone; AB2's is $J_0 = I + \frac32 hA$,
# $J_1 = -\frac12 hA$; constant velocity's is $[2I, -I]$; the exact flow's is
# $J_0 = e^{hA}$.
#
# ```{admonition} Exercise 1: the learned stencil by autograd (medium, 15 minutes)
# :class: note
# Write `my_stencil_jacobian(model, y, n_back)`: `model` maps states `y`
# (B, T, 2) to predictions (B, T, 2); return $J_k$ for $k = 0, \dots$,
# `n_back` $- 1$, shape (B, n_back, 2, 2), indexed [sequence, k, output
# coordinate, input coordinate]. The chapter measures every stencil with it.
# ```
#
# ```{admonition} Hint
# :class: dropdown
# The sequences are independent, so the gradient of `pred[:, i].sum()` with
# respect to `y` (a leaf, `requires_grad_`) holds every sequence's
# $\partial \hat y_{T,i} / \partial y_t$: one `torch.autograd.grad` per output
# coordinate $i$. Then flip the time axis so that $k = 0$ is the last state.
# ```


# %%
def my_stencil_jacobian(model, y: torch.Tensor, n_back: int) -> torch.Tensor:
    raise NotImplementedError("your code here")


stencil_jacobian = exercises.check(
    my_stencil_jacobian, ode.stencil_jacobian, ode.exercise_cases("jacobian")
)

# %% [markdown]
# The solution (collapsed; click to open):


# %% tags=["hide-input"] jupyter={"source_hidden": true}
def jacobian_solution(model, y: torch.Tensor, n_back: int) -> torch.Tensor:
    y = y.detach().clone().requires_grad_(True)
    pred = model(y)[:, -1]  # (B, 2): the prediction after the last state
    rows = []
    for i in range(pred.shape[-1]):
        (grad,) = torch.autograd.grad(pred[:, i].sum(), y, retain_graph=True)
        rows.append(
            grad.flip(1)[:, :n_back]
        )  # (B, n_back, 2): k = 0 is the last state
    return torch.stack(rows, dim=-2)  # (B, n_back, d_out, d_in)


cases = ode.exercise_cases("jacobian")
claims.exact(
    "the solution to the stencil Jacobian exercise is right",
    *exercises.passes(jacobian_solution, ode.stencil_jacobian, cases),
)

# %%
J = stencil_jacobian(model, test.y[:500], T)  # (500, 32, 2, 2)
sub = test[:500]
M = ode.flow_map(sub.A, sub.h)
eye = torch.eye(2)
hA = sub.h[:, None, None] * sub.A
stencils = {  # (k = 0 block, k = 1 block) of each method, per sequence
    "Euler": (eye + hA, 0 * hA),
    "AB2": (eye + 1.5 * hA, -0.5 * hA),
    "constant velocity": (2 * eye.expand_as(hA), -eye.expand_as(hA)),
    "exact flow": (M, 0 * M),
}


def fro(X):
    return X.norm(dim=(-2, -1))


def kalman_predict(y):
    return ode.kalman_filter(y, sub.A, sub.h, noise_std=NOISE)


J_kalman = stencil_jacobian(kalman_predict, sub.y, T)  # linear in y: exact taps
# the control: a known estimator
J_ls = stencil_jacobian(ode.least_squares, sub.y, T)
norms = fro(J).mean(0)
norms_kalman = fro(J_kalman).mean(0)
norms_ls = fro(J_ls).mean(0)
fig, ax = plt.subplots(figsize=(6.5, 3.3))
ax.semilogy(np.arange(T), norms, "o-", ms=3, label="transformer $|J_k|$")
ax.semilogy(
    np.arange(T),
    norms_kalman,
    "-",
    color="tab:red",
    lw=1,
    label="Kalman filter (true A)",
)
ax.semilogy(
    np.arange(T),
    norms_ls,
    "-",
    color="tab:green",
    lw=1,
    label="least squares in context",
)
tap_colors = {
    "Euler": "tab:orange",
    "AB2": "tab:purple",
    "constant velocity": "tab:brown",
    "exact flow": "k",
}
for n, (name, (j0, j1)) in enumerate(stencils.items()):
    taps = [fro(j0).mean()] + ([fro(j1).mean()] if fro(j1).mean() > 0 else [])
    shift = 0.15 * (n - 1.5)  # side by side, so equal taps do not hide each other
    ax.semilogy(
        np.arange(len(taps)) + shift,
        taps,
        "s",
        ms=5,
        color=tap_colors[name],
        label=name,
    )
ax.set(xlabel="k (state $T-1-k$)", ylabel="mean Frobenius norm")
ax.set_title(
    "the stencil: how much each past state moves the prediction", fontsize=10
)
ax.legend(fontsize=9)
plt.show()


def rel(a, b):
    return float((fro(a - b) / fro(b)).mean())


best_c = float((J[:, 0] * M).sum() / (M * M).sum())  # J_0 ≈ c M, least squares
tap_sum = float(norms[1:].sum())
print(
    f"|J_0| = {norms[0]:.2f}, |J_1| = {norms[1]:.3f}, "
    f"max_k>=1 |J_k| = {norms[1:].max():.3f}, sum_k>=1 |J_k| = {norms[1:].sum():.2f}"
)
print(
    f"J_0 vs e^hA: relative difference {rel(J[:, 0], M):.2f}; vs {best_c:.2f} e^hA: "
    f"{rel(J[:, 0], best_c * M):.2f}; "
    f"vs I + hA: {rel(J[:, 0], eye + hA):.2f}; best fit J_0 = {best_c:.2f} e^hA"
)
print("|J_k| for k = 1 to 12:", norms[1:13].numpy().round(3))
ls_c = float((J_ls[:, 0] * M).sum() / (M * M).sum())
print(
    f"least squares in context: |J_0| = {norms_ls[0]:.2f}, J_0 = {ls_c:.2f} e^hA (fit), "
    f"sum_k>=1 |J_k| = {norms_ls[1:].sum():.2f}"
)


def linear_reading(predict, J):
    """How well the taps rebuild the prediction, |sum_k J_k y_{T-1-k} - y_hat| / |y_hat|."""
    with torch.no_grad():
        y_hat = predict(sub.y)[:, -1]  # (500, 2)
    rebuilt = torch.einsum("bkij,bkj->bi", J, sub.y.flip(1))  # (500, 2)
    return float(((rebuilt - y_hat).norm(dim=-1) / y_hat.norm(dim=-1)).mean())


reading = {
    "transformer": linear_reading(model, J),
    "least squares": linear_reading(ode.least_squares, J_ls),
}
print(
    "taps rebuild the prediction to within (relative error):",
    {k: round(v, 3) for k, v in reading.items()},
)

# %%
# null: constant velocity's second tap is about as large as its first (the squares
# in the figure): its |J_0| / |J_1| is 2
cv_j0, cv_j1 = stencils["constant velocity"]
cv_ratio = float(fro(cv_j0).mean() / fro(cv_j1).mean())
later = norms[1:].max()
claims.claim(
    "one dominant tap: the last state",
    norms[0],
    ">",
    5 * later,
    null=cv_ratio * later,
)
# null: AB2 (and constant velocity) have a second tap and no taps beyond it; here
# J_1 is 0.2-0.6 of the largest later tap (seeds 0, 184, 1155, 3978, 4242)
# AB2's second tap on these sequences; |J_1| is the distance from a one-step
# stencil's J_1 = 0, and the taps span orders of magnitude (the figure): log
ab2_j1 = float(fro(stencils["AB2"][1]).mean())
claims.claim(
    "no AB2-like second tap", norms[1], "<", norms[2:].max(), null=ab2_j1, log=True
)
# null: the exact flow's J_0 is e^hA itself, c = 1
claims.claim("J_0 is a shrunken flow map", best_c, "<", 0.95, null=1.0)
# (the shape: J_0 is about as far from c e^hA as from Euler's c' (I + hA), each with its
# best scale, printed; not asserted, as nothing singles out e^hA)
euler = eye + hA
c_euler = float((J[:, 0] * euler).sum() / (euler * euler).sum())
shape_ratio = rel(J[:, 0], best_c * M) / rel(J[:, 0], c_euler * euler)
print(f"J_0's distance from c e^hA / from c' (I + hA): {shape_ratio:.2f}")
# null: a one-step map (the exact flow, Euler) has no earlier taps: sum 0
claims.claim(
    "together, the earlier states weigh more than half as much as the last",
    tap_sum,
    ">",
    0.5 * norms[0],
    null=0.0,
)
# the control: least squares in context has a stencil of the same shape
ls_later = norms_ls[1:].max()
claims.claim(
    "least squares in context also has one dominant tap",
    norms_ls[0],
    ">",
    5 * ls_later,
    null=cv_ratio * ls_later,
)
claims.claim(
    "least squares' earlier states also weigh more than half as much as the last",
    norms_ls[1:].sum(),
    ">",
    0.5 * norms_ls[0],
    null=0.0,
)
# the check works on a known estimator (least squares: degree-1 homogeneous but
# for its small ridge); null for the model: a linear rule would rebuild it as well
# null for least squares: taps that rebuild nothing (all zero) leave an error of 1
ls_reading = reading["least squares"]
claims.claim(
    "the taps rebuild least squares' prediction",
    ls_reading,
    "<",
    0.1,
    null=1.0,
    log=True,
)
claims.claim(
    "... but not the model's: its taps are a local slope, not a recipe",
    reading["transformer"],
    ">",
    3 * ls_reading,
    null=ls_reading,
)


# %% [markdown]
# The last state's tap $J_0$ is more than five times any other; the other 31 are
# small but spread over the context, like the attention, and together weigh more
# than half as much. No AB2: $|J_1|$, where AB2 puts its only other tap, is smaller than some tap
# further back, where AB2 has none. And
# $J_0$ is shrunken: fitted as $r\, e^{hA}$, its $r$ is below 0.95 (asserted), so the
# model trusts its last, noisy state less than the exact flow does (the filter,
# red, far less; section 8). The fit is rough: it leaves a large part of $J_0$
# unexplained, and a scaled Euler map $r'(I + hA)$ fits about as well (both
# printed above), so the shape of $J_0$ does not single out $e^{hA}$; only its
# scale is clear.
#
# The control, **least squares in context** (green), has a stencil of the same
# shape: the shape means reading the law from the whole context. But a Jacobian is
# a *slope*, not a recipe: $\sum_k J_k y_{T-1-k}$ rebuilds a prediction exactly
# only when scaling every state by $c$ scales the prediction by $c$ (homogeneity of
# degree 1). It rebuilds least squares' prediction almost exactly, the model's
# far less well (printed above). So the model is not homogeneous, which a rule
# linear in the states would be. That is not evidence against a local, roughly
# linear rule: a predictor that weighs the states against a fixed noise level
# (trusting large states more than small ones) fails the test too.
#
# ```{admonition} Exercise 2: the two-step stencil that solves every 2-D linear system (hard, 20 minutes)
# :class: note
# By Cayley–Hamilton, $G^2 = \operatorname{tr}(G)\, G - \det(G)\, I$ for any
# $2 \times 2$ matrix $G$. Use it to show that every trajectory of $\dot x = Ax$
# sampled at step $h$ satisfies $x_{t+1} = c_0 x_t + c_1 x_{t-1}$ with two *numbers*
# $c_0, c_1$, and write `my_stencil(A, h)` returning them, one row per system
# (`A` is `(B, 2, 2)`, `h` is `(B,)`). The check tries random systems, a rotation, a
# repeated eigenvalue and a tiny step.
# ```
#
# ```{admonition} Hint
# :class: dropdown
# One step is $x_{t+1} = G x_t$ with $G = e^{hA}$ (`ode.flow_map(A, h)`), so
# $x_{t+1} = G^2 x_{t-1}$; apply Cayley–Hamilton to $G$, not to $A$.
# ```


# %%
def my_stencil(A: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError("your code here")


stencil = exercises.check(
    my_stencil, ode.two_step_stencil, ode.exercise_cases("stencil")
)

# %% [markdown]
# The solution (collapsed; click to open):


# %% tags=["hide-input"] jupyter={"source_hidden": true}
def stencil_solution(A: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    M = ode.flow_map(A, h)  # x_{t+1} = M x_t, so x_{t+1} = M^2 x_{t-1}
    trace = M.diagonal(dim1=-2, dim2=-1).sum(-1)
    return torch.stack([trace, -torch.linalg.det(M)], dim=-1)  # det M = e^{h tr A}


claims.exact(
    "the solution to the two-step stencil exercise is right",
    *exercises.passes(stencil_solution, ode.two_step_stencil, ode.exercise_cases()),
)

# %% [markdown]
# ## 5. Ablations and patching
#
# If the heads' averages carry the law, removing a head should push the model
# towards copying, and patching in the head outputs from a trajectory of *another*
# system $A'$ should make it predict $G_{A'}\, y_T$ instead of $G_A\, y_T$.
# *Mean-ablation* replaces a head's output by its mean over the test sequences
# (`ode.mean_heads`), erasing what it says about this trajectory; *zero-ablation*,
# shown too, feeds LayerNorm a value the head never produces.

# %%
with torch.no_grad():
    _, z_cache = model.run_with_cache(
        test.y, names_filter=lambda name: name.endswith("attn.hook_z")
    )
mean_z = [z_cache[f"blocks.{layer}.attn.hook_z"].mean(0) for layer in LAYERS]
ablations = {
    "mean": lambda layer, heads: ode.mean_heads(layer, heads, mean_z[layer]),
    "zero": hooks.zero_heads,
}
ablated = {kind: {} for kind in ablations}
with torch.no_grad():
    for kind, ablate in ablations.items():
        for layer in LAYERS:
            for head in HEADS:
                out = model.run_with_hooks(
                    test.y, fwd_hooks=[ablate(layer, [head])]
                )
                ablated[kind][f"L{layer}H{head}"] = late(errors_by_position(out))
        every = [ablate(layer, list(HEADS)) for layer in LAYERS]
        out = model.run_with_hooks(test.y, fwd_hooks=every)
        ablated[kind]["all heads"] = late(errors_by_position(out))
top = names[int(prev_scores.flatten().argmax())]
fig, ax = plt.subplots(figsize=(8, 3.2))
labels = list(ablated["mean"])
for n, kind in enumerate(ablations):
    ax.bar(
        np.arange(len(labels)) + 0.4 * (n - 0.5),
        list(ablated[kind].values()),
        width=0.4,
        label=f"{kind}-ablated",
    )
ax.set_xticks(np.arange(len(labels)), labels)
ax.axhline(m_late, color="tab:blue", ls="--", lw=1, label="intact model")
ax.axhline(
    late(base_curves["copy last state"]),
    color="0.5",
    ls=":",
    label="copy last state",
)
ax.set(yscale="log", ylabel="late squared error")
ax.set_title(f"remove one head (top previous-state score: {top})", fontsize=10)
ax.legend(fontsize=9, ncol=2)
plt.show()
for kind in ablations:
    print(kind, {k: f"{v:.1e}" for k, v in ablated[kind].items()})
print(
    f"intact model {m_late:.1e}, "
    f"copy last state {late(base_curves['copy last state']):.1e}"
)
print(f"head with the top previous-state score: {top}")


# %% [markdown]
# Now the patching: for each test system $A$, a system $A'$ with a trajectory from
# the same start. We patch $A'$'s attention outputs at the last position into the
# run on $A$ and measure how far the prediction moves from $G_A y_T$ towards
# $G_{A'} y_T$ (0: not at all, 1: all the way; median of 1,000 pairs).
#
# The two runs share a start but not their last states, so a patch that carried
# only *state* (where the trajectory is, not its law) would move the prediction
# too. The control: a donor with the *same* law $A$ and another start. It differs
# from the clean run in its states only, so whatever it moves the prediction is
# what the heads say about the states, not the law.
#
# ```{admonition} Exercise 3: the patch (easy, 5 minutes)
# :class: note
# Write `my_patch_last(act, donor)`: given an activation `act` (batch, pos, ...)
# and the donor run's activation of the same shape, return `act` with its last
# position replaced by the donor's, leaving `act` itself unchanged (it belongs to
# the running model). The patching hooks below use your function.
# ```
#
# ```{admonition} Hint
# :class: dropdown
# `act.clone()`, then assign `[:, -1]`.
# ```


# %%
def my_patch_last(act: torch.Tensor, donor: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError("your code here")


patch_last_position = exercises.check(
    my_patch_last, ode.patch_last_position, ode.exercise_cases("patch")
)

# %% [markdown]
# The solution (collapsed; click to open):


# %% tags=["hide-input"] jupyter={"source_hidden": true}
def patch_solution(act: torch.Tensor, donor: torch.Tensor) -> torch.Tensor:
    patched = act.clone()  # (batch, pos, ...)
    patched[:, -1] = donor[:, -1]
    return patched


cases = ode.exercise_cases("patch")
claims.exact(
    "the solution to the patching exercise is right",
    *exercises.passes(patch_solution, ode.patch_last_position, cases),
)

# %%
gen = torch.Generator().manual_seed(99)
n = 1000
A_sys, B_sys = (ode.sample_systems(n, generator=gen) for _ in range(2))
h_pair = H_RANGE[0] + (H_RANGE[1] - H_RANGE[0]) * torch.rand(n, generator=gen)
angle = 2 * np.pi * torch.rand(n, generator=gen)
start = torch.stack([angle.cos(), angle.sin()], -1)
traj_a = ode.linear_trajectories(
    A_sys, h_pair, T, generator=gen, noise_std=NOISE, x0=start
)
traj_b = ode.linear_trajectories(
    B_sys, h_pair, T, generator=gen, noise_std=NOISE, x0=start
)
traj_c = ode.linear_trajectories(  # the control: the same law, another start
    A_sys, h_pair, T, generator=gen, noise_std=NOISE
)
y_last = traj_a.y[:, -1]
target_a = (ode.flow_map(A_sys, h_pair) @ y_last[..., None])[..., 0]
target_b = (ode.flow_map(B_sys, h_pair) @ y_last[..., None])[..., 0]


def patch_last(donor):
    """A hook that patches the donor run's activation in at the last position."""

    def hook(act, hook):
        return patch_last_position(act, donor[hook.name])

    return hook


gap = target_b - target_a
with torch.no_grad():
    _, donor = model.run_with_cache(traj_b.y)
    _, control = model.run_with_cache(traj_c.y)
    clean = model(traj_a.y)[:, -1]
    moved, shift = {}, {}  # shift: median |patched - clean| / |gap|, any direction
    for label, layers, cache_from in [
        ("layer 0", [0], donor),
        ("layer 1", [1], donor),
        ("both layers", [0, 1], donor),
        ("both layers, control donor", [0, 1], control),
    ]:
        fwd = [
            (f"blocks.{layer}.hook_attn_out", patch_last(cache_from))
            for layer in layers
        ]
        patched = model.run_with_hooks(traj_a.y, fwd_hooks=fwd)[:, -1]
        moved[label] = float(
            (((patched - clean) * gap).sum(-1) / (gap * gap).sum(-1)).median()
        )
        shift[label] = float(
            ((patched - clean).norm(dim=-1) / gap.norm(dim=-1)).median()
        )
    err_a = ((clean - target_a) ** 2).sum(-1).median()
print("moved towards G_A' y_T:", {k: round(v, 2) for k, v in moved.items()})
print("moved at all (|shift| / |gap|):", {k: round(v, 2) for k, v in shift.items()})
print(f"median error of the clean prediction vs G_A y_T: {err_a:.1e}")

# %%
factors = np.array([ablated["mean"][name] for name in names]) / m_late  # (8,)
print(
    "late error with one head mean-ablated / intact:",
    dict(zip(names, factors.round(2))),
)
# null: a head the model did not need would leave the error at m_late (1x); measured at
# seed 9784: least important head 1.46x, median 2.9x (printed above for this run)
claims.claim(
    "every head matters, even mean-ablated", factors.min(), ">", 1.1, null=1.0
)
claims.claim("most heads matter a lot", np.median(factors), ">", 1.5, null=1.0)
copy_late = late(base_curves["copy last state"])
# the share of the model's advantage over copying that it keeps with no heads
kept = {
    k: (copy_late - ablated[k]["all heads"]) / (copy_late - m_late) for k in ablated
}
print(
    "share of the gain over copying kept, all heads ablated:",
    {k: round(v, 2) for k, v in kept.items()},
)
# null: if the MLPs could do without the heads, the share would stay near 1; measured
# mean-ablated 0.02 (seed 1445; below 0 at seeds 0, 9461, 9784), zeroed below 0
claims.claim(
    "no heads (mean-ablated): back to copying", kept["mean"], "<", 0.25, null=1.0
)
claims.claim(
    "no heads (zeroed): back to copying", kept["zero"], "<", 0.25, null=1.0
)
# null: patching what carries no law moves the prediction 0% of the way (and
# patching everything, 100%)
claims.claim(
    "the heads carry the law to the last position",
    moved["both layers"],
    ">",
    0.5,
    null=0.0,
)
# "part of the way": a tenth at least (the median over 1,000 pairs moves by a few
# hundredths between draws; 0.23-0.49 over the ten seeds of the margins page)
claims.claim(
    "layer 0's heads alone move it part of the way",
    moved["layer 0"],
    ">",
    0.1,
    null=0.0,
)
# (layer 1's alone: printed above, not asserted; it varies between seeds)
# towards G_A' y_T, the law donor moves the prediction farther than the control donor
# (same law, other states) by more than 0.3 of the way; null: 0, a patch that
# carried only the states, which differ in both donors
law_part = moved["both layers"] - moved["both layers, control donor"]
claims.claim(
    "the law donor moves it towards A' beyond what other states do",
    law_part,
    ">",
    0.3,
    null=0.0,
)

# %% [markdown]
# Both predictions hold (printed above). Mean-ablating any head raises the late
# error, most heads' by more than half; with all eight gone the model keeps little
# or nothing of its advantage over copying (the share printed above; in some seeds
# it is worse than copying), as the MLPs then apply an average law that fits no
# trajectory; zero-ablation agrees. Patching both layers moves the prediction more than half of
# the way to $A'$'s law, layer 0 alone a smaller part (more than a tenth; layer 1
# alone varies between seeds). The control is sobering. A donor with the *same*
# law and other states moves the prediction a long way too (in norm, by more
# than the distance between the two laws' predictions; printed above as
# "moved at all"), and even part of the way towards $G_{A'} y_T$. So the heads'
# outputs at the last position carry much about the states themselves. Along
# the direction from $G_A y_T$ to $G_{A'} y_T$, the law donor still moves the
# prediction farther than the control, by more than 0.3 of the way (asserted):
# that part is the law. The patch carries both. The heads average features of the trajectory into the last
# position; which features is open (exercise 4 at the end).
#
# ## 6. Long rollouts and out of distribution
#
# A rollout feeds the model its own predictions. After 16 observed states of an
# undamped oscillator ($A = [[0, 1], [-1, 0]]$, $h = 0.5$, in the training
# distribution) it runs 100 steps, on a sliding window past 32 states, and we
# track the energy $\frac12 |x|^2$, which the true flow conserves and Euler
# multiplies by $1 + h^2$ every step.

# %%
osc = ode.damped_rotation(torch.zeros(200), torch.ones(200))
prefix = ode.linear_trajectories(
    osc, 0.5, 16, generator=torch.Generator().manual_seed(5), noise_std=NOISE
)
N_ROLL = 100
roll_model = ode.rollout(model, prefix.y, N_ROLL)
start_state = prefix.x[:, -1]
roll = {}
for name, step_map in [
    ("Euler", ode.euler_map),
    ("RK4", ode.rk4_map),
    ("exact", ode.flow_map),
]:
    Mk, states = step_map(osc, prefix.h), [start_state]
    for _ in range(N_ROLL):
        states.append((Mk @ states[-1][..., None])[..., 0])
    roll[name] = torch.stack(states[1:], 1)
energy = {name: ode.energy(r).mean(0) for name, r in roll.items()}
energy["transformer"] = ode.energy(roll_model).mean(0)

colors = {
    "Euler": "tab:orange",
    "RK4": "tab:purple",
    "exact": "k",
    "transformer": "tab:blue",
}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.5, 3.8))
for name, e in energy.items():
    ax1.plot(
        np.arange(1, N_ROLL + 1),
        e,
        color=colors[name],
        ls="--" if name == "exact" else "-",
        lw=2.5 if name == "transformer" else 1.2,
        label=name,
    )
ax1.set(yscale="log", xlabel="rollout step", ylabel="mean energy", ylim=(1e-3, 1e2))
ax1.legend(fontsize=9)
ax1.set_title("energy over the rollout (true: 0.5)", fontsize=10)
ax2.plot(*roll["exact"][0].T, color="0.6", lw=1, label="exact orbit")
ax2.plot(*prefix.y[0].T, "k.", ms=5, label="16 observed")
ax2.plot(*roll_model[0].T, color=colors["transformer"], lw=1.5, label="transformer")
ax2.plot(
    *roll["Euler"][0].T, color=colors["Euler"], lw=1, label="Euler (spirals out)"
)
# the frame fits the exact orbit, the data and the model; Euler's spiral leaves it
frame = torch.cat([roll["exact"][0], prefix.y[0], roll_model[0]])
lim = 1.15 * float(frame.abs().max())
ax2.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")
ax2.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.02, 0.5))
ax2.set_title("one rollout in the phase plane", fontsize=10)
fig.suptitle(
    "100-step rollouts: Euler spirals out fast, the transformer drifts slowly"
)
plt.tight_layout()
plt.show()
print(
    {k: [round(float(v[i]), 3) for i in (0, 9, 49, 99)] for k, v in energy.items()}
)

# %%
# the baselines' known behaviour: Euler's |R| > 1, RK4's slightly < 1 on the axis
e_exact, e_euler = energy["exact"][-1], energy["Euler"][-1]
# null: a rollout that conserves the energy, as the exact flow does
claims.claim("Euler's energy explodes", e_euler, ">", 100 * e_exact, null=e_exact)
rk4_kept = energy["RK4"][-1] / e_exact
# the share of the energy lost, under 5% (kept > 0.95); null: a rollout that loses
# all its energy loses a share 1
claims.claim(
    "RK4 loses only a little energy", 1 - rk4_kept, "<", 0.05, null=1.0, log=True
)
# null: no loss, the exact flow's ratio 1
claims.claim("RK4 loses some energy", rk4_kept, "<", 1, null=1.0)
# the energy's mean change per step over the rollout, (E_100 / E_exact)^(1/100) - 1:
# Euler's is h^2 = 25% a step (its |R|^2 = 1 + h^2 on this axis), the exact flow's 0
e_model = energy["transformer"][-1]
drift = {
    k: abs(float(energy[k][-1] / e_exact) ** (1 / N_ROLL) - 1)
    for k in ("transformer", "Euler")
}
print(f"energy change per step: {drift}")
# null: Euler's drift per step
claims.claim(
    "the rollout's energy drifts by under 10% a step",
    drift["transformer"],
    "<",
    0.1,
    null=drift["Euler"],
)

# %% [markdown]
# The model's rollouts are not bounded in any guaranteed sense, and they do not
# keep the energy as RK4 does: they drift, in or out, by a few per cent a step
# (the drift per step and the energies at steps 1, 10, 50 and 100 are printed
# above), where Euler gains 25% a step. Over 100 steps a few per cent a step
# compounds: with other values of `SEED` we have seen the energy end at a
# hundredth of its true value or at many times it. The assertion bounds the
# drift per step, not the energy. Its own smooth outputs are not the noisy data it
# was trained on, and nothing in that mostly decaying data teaches that energy is
# conserved.
#
# **Out of distribution**: larger steps, faster rotations, and the nonlinear
# pendulum $\ddot x_1 = -\sin x_1$ ($x_1$ the angle; solved with RK4,
# `ode.integrate`).

# %%
ood = {}
for label, kwargs in [
    ("trained: h in [0.25, 0.75]", {}),
    ("h = 1.0", dict(h_range=(1.0, 1.0))),
    ("h = 1.5", dict(h_range=(1.5, 1.5))),
    ("rotations, |omega| in [0.5, 1.5]", dict(family="rotation")),
    ("rotations, |omega| in [2, 3]", dict(family="rotation", freq=(2.0, 3.0))),
]:
    traj = sample(1000, torch.Generator().manual_seed(11), **kwargs)
    with torch.no_grad():
        ood[label] = {"transformer": late(errors_by_position(model(traj.y), traj))}
    for name in ["least squares in context", "Euler (true A)", "copy last state"]:
        pred = ode.BASELINES[name](traj.y, traj.A, traj.h)
        ood[label][name] = late(errors_by_position(pred, traj))

for label, theta0 in [
    ("pendulum, amplitude 0.3", 0.3),
    ("pendulum, amplitude 2.5", 2.5),
]:
    x0 = torch.stack([theta0 * torch.ones(500), torch.zeros(500)], -1)
    x0 = x0 * (
        0.8 + 0.4 * torch.rand(500, 1, generator=torch.Generator().manual_seed(12))
    )
    x = ode.integrate(ode.pendulum, x0, 0.5, T)
    # the model was trained on |x| <= 1
    scale = x.abs().amax(dim=(1, 2), keepdim=True)
    x = x / scale
    y = x + NOISE * torch.randn(
        x.shape, generator=torch.Generator().manual_seed(13)
    )
    traj = ode.Trajectories(x, y, torch.zeros(500, 2, 2), 0.5 * torch.ones(500))
    with torch.no_grad():
        ood[label] = {"transformer": late(errors_by_position(model(y), traj))}
    ood[label]["least squares in context"] = late(
        errors_by_position(ode.least_squares(y), traj)
    )
    ood[label]["copy last state"] = late(errors_by_position(y, traj))

columns = list(ood["trained: h in [0.25, 0.75]"])
print(f"{'':28s}" + "".join(f"{k[:14]:>16s}" for k in columns))
for label, row in ood.items():
    cells = [f"{row[k]:16.1e}" if k in row else f"{'-':>16s}" for k in columns]
    print(f"{label:28s}" + "".join(cells))

# %%
trained_err = ood["trained: h in [0.25, 0.75]"]["transformer"]
# null: an estimator of the law, like least squares, keeps its error out of range
big_h = ood["h = 1.5"]["transformer"]
claims.claim(
    "the model breaks at larger steps",
    big_h,
    ">",
    3 * trained_err,
    null=trained_err,
)
rot_err = ood["rotations, |omega| in [0.5, 1.5]"]["transformer"]
fast = ood["rotations, |omega| in [2, 3]"]["transformer"]
claims.claim(
    "the model breaks on faster turns", fast, ">", 3 * rot_err, null=rot_err
)
ls_trained = ood["trained: h in [0.25, 0.75]"]["least squares in context"]
# the control: an estimator of the law does not care about h
# null: least squares degrading as much as the model does at h = 1.5
ls_big_h = ood["h = 1.5"]["least squares in context"]
ls_null = ls_trained * big_h / trained_err
claims.claim(
    "least squares does not break at larger steps",
    ls_big_h,
    "<",
    1.5 * ls_trained,
    null=ls_null,
    log=True,
)
# null: Euler, with the law
for label in ["h = 1.5", "rotations, |omega| in [2, 3]"]:
    euler_err = ood[label]["Euler (true A)"]
    claims.claim(
        "out of range, the model still beats Euler",
        ood[label]["transformer"],
        "<",
        euler_err,
        null=euler_err,
    )
for label in ["pendulum, amplitude 0.3", "pendulum, amplitude 2.5"]:
    # null: copying the last state (a model lost on this system does no better)
    copy_err = ood[label]["copy last state"]
    claims.claim(
        "the pendulum is still predicted",
        ood[label]["transformer"],
        "<",
        0.25 * copy_err,
        null=copy_err,
        log=True,
    )

# %% [markdown]
# Least squares fits whatever linear map the context shows. The model degrades
# once $h\lambda$ leaves its training range, to more than three times its
# in-distribution error at $h = 1.5$ and on rotations two to three times as fast,
# though it still beats Euler with the true law: it is tuned to the laws it was
# trained on. It still predicts the pendulum (rescaled to the unit box) far better
# than copying. At amplitude 0.3 that is no test of anything new: the small swing
# is nearly the linear rotation with $\omega = 1$, inside the training family. At
# amplitude 2.5 the law is truly nonlinear, and the model still beats copying
# there (both asserted; each row is a fresh sample).
#
# ## 7. Watch it happen
#
# The error against context length at each training snapshot (a slider in Jupyter
# or Colab, an animation on the website), and the gain from context over training.

# %%
snap_steps = run.snapshot_steps


def draw(fig, step):
    with torch.no_grad():  # only the steps drawn: the slider's, or the animation's
        curve = errors_by_position(run.model_at(step)(test.y[:500]), test[:500])
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(pos, curve[1:], color="tab:blue", lw=2, label="transformer")
    for name in ["least squares in context", "Euler (true A)", "copy last state"]:
        color, ls = styles[name]
        ax1.plot(pos, base_curves[name][1:], color=color, ls=ls, lw=1, label=name)
    ax1.set(yscale="log", ylim=(2e-3, 0.5), xlabel="position t")
    ax1.set_title(f"error vs context, step {step}", fontsize=9)
    ax1.legend(fontsize=9)
    ax2.plot(steps_logged, run.metric("test_early"), label="early")
    ax2.plot(steps_logged, run.metric("test_late"), label="late")
    ax2.axvline(max(step, 1), color="tab:red")
    ax2.set(xscale="log", yscale="log", xlabel="training step")
    ax2.legend(fontsize=9)
    fig.tight_layout()


with torch.no_grad():  # only at the steps printed
    for s in snap_steps[:: max(1, len(snap_steps) // 8)] + [snap_steps[-1]]:
        c = errors_by_position(run.model_at(s)(steady.y), steady)
        print(f"step {s:5d}: gain from context {early(c) / late(c):.2f}")
plotting.snapshot_view(draw, snap_steps, figsize=(10, 3.2))

# %% [markdown]
# The printed gains, against the untrained network's at step 0, show when the model
# starts to read the law, and whether it was still improving at the end.

# %% [markdown]
# ## 8. Optional, for the numerical analyst: roots, order and the best filter
#
# ```{admonition} Optional
# :class: note
# This section is for readers who know numerical analysis; the rest of the chapter
# does not depend on it. It shows why the Kalman filter is the floor of section 1
# and how its stencil differs from the model's; that the model's stencil, read as a
# 32-step multistep rule, has growth factors near the exact $e^{h\lambda}$, plus
# parasitic ones; and that the model has no order of convergence.
# ```
#
# ### The best linear filter
#
# The Kalman filter with the true law averages all the noisy observations so far
# into the best estimate of the current state and moves it with $e^{hA}$. It is the
# best *linear* predictor that knows $A$ and the noise level (a start known to lie
# on the unit circle could be used a little better, mostly early on), a floor no
# predictor that has to infer $A$ can be expected to reach. The exact flow passes
# the noise of $y_t$ on, about $2\sigma^2$ of squared error; the filter averages it
# away, and its late error is many times lower (the ratio is printed below). Least
# squares with a long context does about as well as the exact flow, and can do
# slightly better: its estimate of $G$ from noisy pairs is biased towards smaller
# maps, which shrinks the noise of $y_t$ a little.
#
# The filter's stencil (the red line in section 4's figure) shows how. Fitted as
# $J_0 \approx r\, e^{hA}$, its $r$ (printed below) is less than half the model's
# (printed in section 4), and its weight is spread over the whole past. The model
# sits between the exact flow ($c = 1$, all the weight on the last, noisy state)
# and the filter, much nearer the exact flow: that is why its error stays near the
# exact flow's, far above the filter's (both are printed in section 2).

# %%
print(
    "late error, exact flow / Kalman filter:",
    round(
        late(base_curves["exact flow (true A)"])
        / late(base_curves["Kalman filter (true A)"])
    ),
)
kalman_c = float((J_kalman[:, 0] * M).sum() / (M * M).sum())
print(
    f"Kalman filter: J_0 = {kalman_c:.3f} e^hA (fit), sum_k>=1 |J_k| = "
    f"{norms_kalman[1:].sum():.2f}"
)

# %%
# the filter is linear in the data: its J_0 is exact, c printed above
# null: the filter trusting the last state as much as the model does (best_c)
claims.claim(
    "the filter trusts the last state far less",
    kalman_c,
    "<",
    0.5 * best_c,
    null=best_c,
)

# %% [markdown]
# ### Growth factors of the one-step map
#
# A one-step method multiplies an eigen-direction with eigenvalue $\lambda$ by
# $R(h\lambda)$ per step. A rule with $K$ taps, $\hat y_{t+1} = \sum_k J_k y_{t-k}$,
# advances the stacked state $(y_t, \dots, y_{t-K+1})$ by its block *companion
# matrix* (`ode.companion`), whose $2K$ eigenvalues are the rule's growth factors.
# AB2, for one, has two per eigenvalue $\lambda$, the roots $\zeta$ of
# $\zeta^2 - (1 + \tfrac32 z)\zeta + \tfrac12 z$ with $z = h\lambda$: one follows
# $e^{z}$, the other is *parasitic*, harmless while it stays inside the unit circle.
# A rule exact on the trajectories of $\dot x = Ax$ has each $e^{h\lambda}$ among
# its roots (exercise 2's two-step rule has only $e^{h\lambda_1}$ and
# $e^{h\lambda_2}$, each twice). So we linearise the model around each test
# trajectory (its stencil $J_0, \dots, J_{31}$ from section 4), take the 64 roots,
# and ask how close the nearest comes to each $e^{h\lambda}$. As 64 roots crowd the
# plane, the comparison needs a null, and chance (a point of the same modulus at a
# random angle) is too weak: a stencil blind to the law, $J_0 = 0.9\,I$ plus small
# random taps, already comes about a quarter closer than chance, because its ring of
# roots sits near the unit circle where the $e^{h\lambda}$ lie. The null is a
# **shuffled law**: each sequence's stencil against *another* test sequence's
# $e^{h\lambda}$, which any law-blind stencil matches as well as its own. This is a
# consistency check, not a fingerprint: any rule that predicts these trajectories
# well must have roots near $e^{h\lambda}$.

# %%
z = ode.eigenvalues(sub.A) * sub.h[:, None]  # (500, 2): h lambda, complex
exact = torch.exp(z)
roots = torch.linalg.eigvals(ode.companion(J.double()))  # (500, 64)
nearest = ode.nearest_roots(J, exact)  # (500, 2)
angle = (
    2 * np.pi * torch.rand(exact.shape, generator=torch.Generator().manual_seed(0))
)
decoy = exact.abs() * torch.exp(1j * angle.double())  # same modulus, random angle
shuffle = torch.roll(torch.arange(len(exact)), 1)  # sequence b's stencil, b-1's law
# a law-blind stencil: 0.9 I and small random taps
blind = 0.02 * torch.randn(J.shape, generator=torch.Generator().manual_seed(1))
blind[:, 0] += 0.9 * torch.eye(2)
eig_j0 = ode.eigenvalues(J[:, 0])
j0_gap = torch.minimum(  # J_0's two eigenvalues, matched to e^{h lambda} either way round
    (eig_j0 - exact).abs().mean(-1), (eig_j0.flip(-1) - exact).abs().mean(-1)
)


def root_gap(stencil, targets):
    """Mean distance from each target growth factor to the stencil's nearest root."""
    return (ode.nearest_roots(stencil, targets) - targets).abs().mean()


dist = {
    "nearest root of the model's stencil": (nearest - exact).abs().mean(),
    "chance (same modulus, random angle)": root_gap(J, decoy),
    "shuffled law (another sequence's e^h lambda)": root_gap(J, exact[shuffle]),
    "law-blind stencil, own law": root_gap(blind, exact),
    "law-blind stencil, shuffled law": root_gap(blind, exact[shuffle]),
    "Euler 1 + h lambda": (ode.euler_stability(z) - exact).abs().mean(),
    "RK4 R(h lambda)": (ode.rk4_stability(z) - exact).abs().mean(),
    "eig J_0 alone": j0_gap.mean(),
}
dist = {k: float(v) for k, v in dist.items()}
modulus_ratio = float((nearest.abs() / exact.abs()).mean())
j0_ratio = float(
    (eig_j0.abs().sort(-1).values / exact.abs().sort(-1).values).mean()
)
parasitic = ode.parasitic_roots(J, exact)  # (500, 62): the principal roots removed
outside = float((parasitic.abs() > 1).any(-1).double().mean())

fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.6))
circle = np.exp(1j * np.linspace(0, 2 * np.pi, 200))
for ax, i in zip(axes, torch.nonzero(is_spiral[:500])[:3, 0].tolist()):
    ax.plot(circle.real, circle.imag, color="0.8", lw=1)
    ax.plot(roots[i].real, roots[i].imag, ".", ms=4, label="roots of the stencil")
    ax.plot(
        exact[i].real,
        exact[i].imag,
        "o",
        mfc="none",
        ms=11,
        mew=1.5,
        color="tab:orange",
        label=r"exact $e^{h\lambda}$",
    )
    ax.plot(eig_j0[i].real, eig_j0[i].imag, "x", color="tab:red", label="eig $J_0$")
    euler_i = ode.euler_stability(z[i])
    ax.plot(
        euler_i.real,
        euler_i.imag,
        "+",
        ms=9,
        color="tab:green",
        label=r"Euler $1 + h\lambda$",
    )
    ax.set_aspect("equal")
    ax.set_xticks([-1, 0, 1])
    ax.set_yticks([-1, 0, 1])
axes[0].legend(fontsize=9, loc="center")
fig.suptitle("growth factors per step: three test spirals", fontsize=10)
plt.tight_layout()
plt.show()
print({k: round(v, 3) for k, v in dist.items()})
print(
    f"|nearest root| / |e^(h lambda)|: {modulus_ratio:.3f};  "
    f"|eig J_0| / |e^(h lambda)|: {j0_ratio:.2f}"
)
print(
    f"sequences with a parasitic root outside the unit circle: {outside:.0%}, "
    f"largest modulus {parasitic.abs().max():.3f}"
)

# %%
shuffled = dist["shuffled law (another sequence's e^h lambda)"]
# null: the same stencils against another sequence's law (printed above); a stencil
# blind to the law gives a ratio of 1 (the law-blind stencil's two rows, printed)
nearest_dist = dist["nearest root of the model's stencil"]
claims.claim(
    "a root near its own e^(h lambda), not another's",
    nearest_dist,
    "<",
    0.75 * shuffled,
    null=shuffled,
)
# null: a root that only matched the angle could have any modulus; the number used:
# J_0's eigenvalues read as the growth factors (j0_ratio, printed above)
claims.claim(
    "the principal roots neither grow nor damp",
    abs(modulus_ratio - 1),
    "<",
    0.05,
    null=abs(j0_ratio - 1),
)
# null: if J_0 were the one-step map, its eigenvalues would be as close to e^(h lambda)
# as the whole stencil's nearest roots are; "not": more than twice as far
claims.claim(
    "J_0 alone is not the map",
    dist["eig J_0 alone"],
    ">",
    2 * nearest_dist,
    null=nearest_dist,
)
# null: the exact flow's ratio, 1. "Damp": by 5% or more a step (measured 0.65-0.89 over
# seeds 0, 1445, 2844, 3152, 7065, 7700, 9410, 9461; 0.9 sat within 0.011 of 1445's)
claims.claim("J_0 alone would damp", j0_ratio, "<", 0.95, null=1.0)

# %% [markdown]
# Read as a 32-step rule, the model's stencil has a root near each exact growth
# factor of *its own* trajectory: on average the nearest root is less than three
# quarters as far from $e^{h\lambda}$ as from another sequence's, where the
# law-blind stencil does no better on its own law than on a shuffled one, and its
# nearest root has the right modulus to within 5% (all printed under the figure).
# Linearised around a trajectory, the model is consistent with its law. The other
# 62 roots form a ring near the unit circle: parasitic roots, as a long rule with
# small taps must have. Where a *parasitic* root lies outside the circle (the
# fraction of such sequences and the largest modulus are printed too; the two
# principal roots, which follow $e^{h\lambda}$ and sit on the circle for an
# undamped rotation, are left out), the linearised model, read as a multistep
# method, is not *absolutely stable* at that trajectory's $h$: an error along that
# root grows from step to step. (Zero-stability, about the limit $h \to 0$, is a
# different property.) $J_0$ alone, whose eigenvalues are more than twice as far
# from $e^{h\lambda}$ as the stencil's nearest roots and have too small a modulus
# (printed), is not the model's one-step map; the whole context is.
#
# ### Order of convergence
#
# On noise-free trajectories, shrink $h$ and see how the one-step error shrinks:
# like $h^{q+1}$ for a method of order $q$ (`ode.empirical_order` fits the slope of
# log error against log $h$ and subtracts 1). Any *consistent* method has
# $p \ge 1$. We use undamped rotations (in the training distribution), whose states
# stay on the unit circle, so that every $h$ is scored on states of the same size.
# We fit the integrators on small steps, where the asymptotics hold, and the model
# on its training range (grey); smaller steps and noise-free inputs are out of
# distribution for the model, so read the left of its curve as extrapolation.

# %%
hs = np.array([0.05, 0.1, 0.2, 0.25, 0.35, 0.5, 0.6, 0.75])
# float64: RK4's error at h = 0.05 is below float32's resolution
rotations = ode.sample_systems(
    1000,
    generator=torch.Generator().manual_seed(77),
    family="rotation",
    decay=(0, 0),
).double()

rms = {
    name: []
    for name in [
        "transformer",
        "copy last state",
        "Euler (true A)",
        "AB2 (true A)",
        "RK4 (true A)",
        "least squares in context",
    ]
}
for h in hs:
    traj = ode.linear_trajectories(
        rotations, float(h), T, generator=torch.Generator().manual_seed(78)
    )
    with torch.no_grad():
        preds = {"transformer": model(traj.y.float()).double()}
    for name in list(rms)[1:]:
        preds[name] = ode.BASELINES[name](traj.y, traj.A, traj.h)
    for name, pred in preds.items():
        rms[name].append(late(errors_by_position(pred, traj)) ** 0.5)
rms = {name: np.array(v) for name, v in rms.items()}
small, trained = hs <= 0.2, hs >= H_RANGE[0]
orders = {
    name: ode.empirical_order(hs[small], v[small])
    for name, v in rms.items()
    if name != "transformer"
}
orders["transformer"] = ode.empirical_order(
    hs[trained], rms["transformer"][trained]
)

fig, ax = plt.subplots(figsize=(6, 3.8))
for name, v in rms.items():
    ax.loglog(
        hs,
        v,
        "o-",
        ms=4,
        lw=2.5 if name == "transformer" else 1.2,
        label=f"{name}: order {orders[name] + 0:.1f}".replace("-0.0", "0.0"),
    )
ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1, 0.5))
ax.axvspan(*H_RANGE, color="0.9", zorder=0)
ax.set(xlabel="step h", ylabel="RMS one-step error (no noise)")
ax.set_xticks(hs, [f"{h:g}" for h in hs])
ax.minorticks_off()
ax.set_title("order of convergence (grey: the model's training range)", fontsize=10)
plt.show()
print({k: round(v, 2) for k, v in orders.items()})

# %%
# null for each integrator's order: the method one order below it (copying: 0)
p_copy, p_euler = orders["copy last state"], orders["Euler (true A)"]
p_ab2, p_rk4 = orders["AB2 (true A)"], orders["RK4 (true A)"]
claims.claim("Euler has order 1", abs(p_euler - 1), "<", 0.2, null=abs(p_copy - 1))
claims.claim("AB2 has order 2", abs(p_ab2 - 2), "<", 0.3, null=abs(p_euler - 2))
# the yardstick: RK4 has order 4
claims.claim("RK4 has order 4", abs(p_rk4 - 4), "<", 0.3, null=abs(p_ab2 - 4))
# null: an integrator has order >= 1 (Euler, the lowest: 1, asserted above)
claims.claim(
    "no truncation error: not even Euler's order",
    orders["transformer"],
    "<",
    0.5,
    null=p_euler,
)
# null: from h = 0.2 to 0.05 an integrator's error falls as h^(q+1): 16x for Euler's
# order 1, 4x for copying (order 0; ratio 0.25, printed). The model's ratio was 0.68
# (seed 9461) and 1.00 (seed 0): less than half of copying's fall
below = {n: rms[n][0] / rms[n][2] for n in ["transformer", "copy last state"]}
print(
    "error at h = 0.05 / at h = 0.2:",
    {n: round(float(r), 2) for n, r in below.items()},
)
copy_fall = below["copy last state"]
claims.claim(
    "nearly flat below the range",
    below["transformer"],
    ">",
    2 * copy_fall,
    null=copy_fall,
)

# %% [markdown]
# The order test finds no integrator. In its training range the model's fitted
# order (printed above) is below 0.5, where even Euler has 1: its error grows with
# $h$ more slowly than any truncation error. Below the range its error hardly
# falls: copying the last state (order 0) gains a factor 2 per halving of $h$, so
# its error at $h = 0.05$ is a quarter of its error at $h = 0.2$, while the model's
# is still more than half (both printed above). Its error is set by how well it
# infers the law from the context, with the caution it learned from noisy data, not
# by a truncation error in $h$. (Least
# squares has no order either: given noise-free states it is exact at every $h$,
# up to the small bias of its ridge.)

# %% [markdown]
# ## 9. What we expected, and what the model did
#
# We expected previous-state heads forming finite differences, a regression of the
# one-step map from context pairs, and an update close to $e^{hA}$. The last two
# have support: linear transformers learn an autoregressive map in context by a
# gradient step {cite}`sander2024autoregressive` and can approximate least squares
# on noisy linear dynamical systems {cite}`cole2025dynamical`; the heads were our
# guess.
#
# | our hypothesis | this chapter |
# |---|---|
# | previous-state heads | none: every head spreads over the context (section 3) |
# | an Euler- or AB2-like stencil | a shrunken map near $e^{hA}$ (or $I + hA$: the fit cannot tell) on the last state, small taps on the rest, as for least squares; not homogeneous of degree 1 (section 4) |
# | ablating heads gives copy-last | every head matters; all eight ablated: no better than copying (section 5) |
# | patching moves the law | both layers: more than half of the way, but a same-law donor with other states moves it too; the law's own share is over 0.3 of the way (section 5) |
# | error falls with context, as for least squares | yes: better early, near it late, far above the Kalman filter (section 2) |
# | energy kept in rollouts | not kept: it drifts in or out by a few per cent a step, with the seed (section 6) |
# | growth factors $e^{h\lambda}$, an order | roots near $e^{h\lambda}$, no order (section 8) |
#
# We added noise because without it, in an earlier experiment of ours (not run
# here), a model that saw only the last two states did as well as one with the
# whole context. Other setups
# might give a finite-difference circuit; our short tries found none. *Context
# parroting* {cite}`zhang2025parroting,zhang2025zeroshot`, copying what followed an
# earlier matching state, needs orbits that revisit their past, and some of ours
# do: in the share of test sequences printed below, some state four or more
# steps back lies within one step's distance of the last true state. We have not
# excluded it. The splice test of section 2 says the model uses the law the
# context shows, which parroting would also do; what section 3 shows is only that
# the heads' attention is not, beyond what position explains, a search for states
# like the current one (head by head, as printed there).

# %%
x_true, t_last = test.x, T - 1
back = x_true[:, : t_last - 3] - x_true[:, t_last : t_last + 1]  # states 4+ back
nearest_back = back.norm(dim=-1).min(1).values
one_step = (x_true[:, t_last] - x_true[:, t_last - 1]).norm(dim=-1)
print(
    "sequences with a state 4+ back within one step of the last true state: "
    f"{float((nearest_back < one_step).double().mean()):.0%}"
)

# %% [markdown]
#
#
# ## Summary
#
# - **Tools of this chapter**: the exact flow $e^{hA}$, and integrators as stencils
#   with an order and a stability function; the *gain from context*; a model's
#   stencil from its Jacobian; mean-ablation and last-position patching; rollouts
#   scored by a conserved energy; optionally, a stencil's growth factors and an
#   empirical order.
# - **Tools reused**: the previous-token score of the
#   [induction chapter](induction_heads.ipynb), which found no previous-state head
#   here, and the in-context least squares of the
#   [regression chapter](icl_regression.ipynb), the control for every measurement.
# - **The model** learns in context and, with a long context, beats Euler and AB2
#   given the true law, but is no integrator: no previous-state head, a stencil
#   spread over the context, no order, rollouts whose energy drifts by a few
#   per cent a step. Without its heads it is no better than copying.
# - Measure before naming a circuit: every part of our hypothesis was reasonable,
#   and several were wrong for this model.
#
# **Next:** [stages of development](learning_coefficient.ipynb) looks at the
# induction chapter's run again, through the learning coefficient. This
# chapter's open questions, below, start where its measurements stop.
#
# ## Exercises
#
# 1. Train without noise (`NOISE = 0`). Does a previous-state head appear? Compare
#    the model's error at position 3 with the two-step stencil of section 4.
# 2. Train on damped rotations only (`family="rotation"`) and repeat the
#    patching. Which is easier for the model, and why (count the parameters of
#    the law)?
# 3. Restrict the model's attention to the last three states (a hook that masks
#    `hook_attn_scores`) during training. Does it learn a stencil then? How does
#    its late error compare with the full model's?
# 4. Section 3 found the layer-0 heads' outputs linear in the mean and last
#    state. What do the layer-1 heads carry? Regress their outputs on nonlinear
#    features of the trajectory (its radius, the angle turned per step, the
#    decay per step) and on the layer-0 heads' outputs.
#
# The works cited here are listed on the [references](../book/references.md) page.
