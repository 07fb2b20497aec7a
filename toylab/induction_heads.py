"""Head scores for the induction-head chapter (Elhage et al. 2021; Olsson et al. 2022).

Attention patterns follow TransformerLens: ``pattern[batch, head, query, key]``
(``blocks.L.attn.hook_pattern``). Weights use its row-vector convention, so a
head's OV circuit is W_OV = W_V W_O and its QK circuit W_QK = W_Q W_Kᵀ, both
(d_model, d_model).

The toolbox of the chapter ``notebooks/induction_heads.py``: the recency rule (a null
for the copy accuracy), its one-layer control's smeared keys, the head scores only it
reads, the ablations only it runs (pattern-preserving and path ablation), and its
exercise check. The task itself (data, model, training run, ICL and prefix-matching
scores, the bag-of-tokens null), which the learning-coefficient chapter shares, is in
:mod:`toylab.induction_task`; the hooks the ablations are built on (zeroing heads,
clamping a pattern) are in :mod:`toylab.hooks`, the previous-token score (the ODE
chapter reads it too) in :mod:`toylab.heads`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from transformer_lens.model_bridge import TransformerBridge

from toylab import bridge, exercises
from toylab.hooks import Hook, zero_heads
from toylab.induction_task import _check_blocks


def recency_null(tokens: Tensor, period: int, offset: int = 0) -> float:
    """Copy accuracy of always predicting the token seen least recently.

    In a block repeated from the start of a sequence, the next token is always the
    one not seen for longest, so this rule copies without an induction head: it
    scores near 1 on ``induction_task.TEST_TOKENS``. On ``induction_task.COPY_TOKENS``,
    whose repeated block follows filler tokens it does not share, the least recent
    token is filler and the rule scores 0. Arguments as for
    :func:`toylab.induction_task.copy_accuracy`.

    Taught in: induction_heads §1.
    """
    start = offset + period
    _check_blocks(tokens, start)
    right = []
    for t in range(start, tokens.shape[-1] - 1):  # predicting target t + 1
        past = tokens[:, : t + 1]  # (batch, t + 1)
        pos = torch.arange(t + 1).expand_as(past)
        last = torch.full((len(tokens), int(tokens.max()) + 1), -1).scatter_reduce(
            1, past, pos, reduce="amax"
        )  # the last position of each token; -1 if unseen
        oldest = last.masked_fill(last < 0, t + 1).argmin(-1)  # the least recently seen
        right.append(oldest == tokens[:, t + 1])
    return float(torch.stack(right).float().mean())


class SmearedKeys(nn.Module):
    """Olsson et al.'s smeared keys: key_j ← g key_j + (1 − g) key_{j−1}, one learned gate g per head.

    A forward hook on a layer's key projection: each key becomes a learned mix of
    its own position's key and the previous position's (position 0 keeps its own),
    which gives a one-layer model the previous-token information an induction
    head needs. The gate is g = sigmoid(``alpha``), with ``alpha`` initialised at 0
    (g = 1/2, an even mix).

    Taught in: induction_heads §6, through ``add_smeared_keys``.
    """

    def __init__(self, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.alpha = nn.Parameter(torch.zeros(n_heads))

    def forward(self, module: nn.Module, args, keys: torch.Tensor) -> torch.Tensor:
        keys = keys.unflatten(-1, (self.n_heads, -1))  # (batch, pos, head, d_head)
        prev = torch.cat([keys[:, :1], keys[:, :-1]], dim=1)
        mix = torch.sigmoid(self.alpha)[:, None]  # (head, 1)
        return (mix * keys + (1 - mix) * prev).flatten(-2)


def add_smeared_keys(model: TransformerBridge, layer: int = 0) -> TransformerBridge:
    """Give ``layer``'s keys learned smearing (:class:`SmearedKeys`), in place; returns the model.

    The smearing runs as a forward hook on the layer's key projection, so
    ``blocks.{layer}.attn.hook_k`` sees the smeared keys. Its ``alpha`` lives on the
    native model as ``smeared_keys_{layer}``, where the bridge's ``state_dict`` keeps
    it: trained, saved and copied with the model (:func:`toylab.bridge.attach_to_keys`).

    Taught in: induction_heads §6.
    """
    smear = SmearedKeys(model.cfg.n_heads).to(model.cfg.device)
    bridge.attach_to_keys(model, layer, f"smeared_keys_{layer}", smear)  # raises if already there
    return model


def smear_gates(model: TransformerBridge, layer: int = 0) -> Tensor:
    """The gates g = sigmoid(alpha) of ``layer``'s smeared keys, one per head.

    Taught in: induction_heads §6.
    """
    return torch.sigmoid(bridge.attached(model, f"smeared_keys_{layer}").alpha).detach().cpu()


def ov_copying_score(W_E: Tensor, W_OV: Tensor, W_U: Tensor) -> float:
    """Eigenvalue positivity Σλ / Σ|λ| of the full OV circuit W_E W_OV W_U (vocab x vocab).

    +1 for a head that copies (its circuit maps each token to itself), −1 for one that suppresses it.

    Taught in: induction_heads §3.
    """
    circuit = (W_E @ W_OV @ W_U).double()
    eig = torch.linalg.eigvals(circuit)
    return float(eig.sum().real / eig.abs().sum())


def composition_score(first: Tensor, second: Tensor) -> float:
    """‖first · second‖_F / (‖first‖_F ‖second‖_F): how much ``second`` reads what ``first`` writes.

    Taught in: induction_heads §5, through ``k_composition``.
    """
    return float((first @ second).norm() / (first.norm() * second.norm()))


def k_composition(W_OV_early: Tensor, W_QK_late: Tensor) -> float:
    """K-composition: the late head's keys read the early head's output. ‖W_OV W_QKᵀ‖ / (‖W_OV‖ ‖W_QK‖).

    Taught in: induction_heads §5.
    """
    return composition_score(W_OV_early, W_QK_late.T)


def q_composition(W_OV_early: Tensor, W_QK_late: Tensor) -> float:
    """Q-composition: the late head's queries read the early head's output.

    Taught in: induction_heads §5.
    """
    return composition_score(W_OV_early, W_QK_late)


def v_composition(W_OV_early: Tensor, W_OV_late: Tensor) -> float:
    """V-composition: the late head's values read the early head's output.

    Taught in: no chapter yet. induction_heads §5 measures K- and Q-composition only; this
    third score (Elhage et al.'s) is here for readers who extend that section, and is tested.
    """
    return composition_score(W_OV_early, W_OV_late)


def haar_rotation(d: int, generator: torch.Generator) -> Tensor:
    """A random rotation (orthogonal matrix) of R^d, uniform over the orthogonal group: (d, d).

    Taught in: induction_heads §5, through ``rotation_null``.
    """
    q, r = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))  # the sign fix makes it uniform


def rotation_null(
    first: Tensor, second: Tensor, n_samples: int = 200, seed: int = 0
) -> tuple[float, float]:
    """Mean and standard deviation of :func:`composition_score` of ``first @ R`` and ``second`` over random rotations R.

    The rotation turns the subspace ``first`` writes into at random and keeps both
    matrices' singular values, so this is what their spectra alone would give: a
    head pair that composes no more than chance scores about this. (The mean
    square is exactly 1/d_model for any spectra; the mean is lower, the more so
    the fewer directions carry the norm: for rank-1 matrices it is the mean
    |cosine| of two random directions, about sqrt(2 / (pi d_model)), 0.10 in d_model 64.)

    Taught in: induction_heads §5.
    """
    gen = torch.Generator().manual_seed(seed)
    first, second = first.detach().double(), second.detach().double()
    scores = torch.tensor(
        [
            composition_score(first @ haar_rotation(first.shape[-1], gen).to(first.device), second)
            for _ in range(n_samples)
        ]
    )
    return float(scores.mean()), float(scores.std())


def full_circuit_accuracy(W_E: Tensor, W_QK_late: Tensor, W_OV_early: Tensor) -> float:
    """Top-1 diagonal accuracy of the full K-composition circuit W_E W_QK (W_E W_OV)ᵀ (vocab x vocab).

    Entry (a, b): the late head's attention score from a query holding token a to a
    key into which the early head wrote token b (through its OV circuit). An
    induction head fed by a previous-token head should score highest where b = a;
    the accuracy is the share of query tokens a whose best key token is a itself
    (chance: 1 / vocab). ARENA 1.2's test; the weights alone, so it cannot see
    *which* token the early head attends to.

    Taught in: induction_heads §5.
    """
    circuit = W_E @ W_QK_late @ (W_E @ W_OV_early).T  # (query token, key token)
    right = torch.arange(len(circuit), device=circuit.device)
    return float((circuit.argmax(-1) == right).double().mean())


def residual_components(
    model: TransformerBridge, tokens: Tensor, layer: int
) -> tuple[list[str], Tensor]:
    """The input of ``layer`` split into what wrote it: names and (component, batch, pos, d_model).

    Components: the token embedding ``embed``, the positional embedding ``pos``, each
    earlier head's output ``L{l}H{h}`` and ``biases`` (the earlier layers' output
    biases). For an attention-only model without LayerNorm they sum to
    ``blocks.{layer}.hook_resid_pre``; a model for which they do not raises.

    Taught in: induction_heads §5, through ``induction_score_decomposition``.
    """
    if model.cfg.normalization_type is not None or not model.cfg.attn_only:
        raise ValueError("needs an attention-only model without LayerNorm")
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens.to(model.cfg.device))
    names, parts = ["embed", "pos"], [cache["hook_embed"], cache["hook_pos_embed"]]
    for l in range(layer):
        z = cache[f"blocks.{l}.attn.hook_z"]  # (batch, pos, head, d_head)
        out = torch.einsum("bphd,hdm->hbpm", z, model.W_O[l].detach())
        names += [f"L{l}H{h}" for h in range(model.cfg.n_heads)]
        parts += list(out)
    parts.append(model.b_O[:layer].detach().sum(0).expand_as(parts[0]))
    names.append("biases")
    stacked = torch.stack(parts)  # (component, batch, pos, d_model)
    resid = cache[f"blocks.{layer}.hook_resid_pre"]
    if not torch.allclose(stacked.sum(0), resid, atol=1e-4):
        raise RuntimeError(f"the components do not add up to blocks.{layer}.hook_resid_pre")
    return names, stacked


def induction_score_decomposition(
    model: TransformerBridge, tokens: Tensor, period: int, layer: int, head: int
) -> tuple[list[str], Tensor]:
    """How each (query component, key component) pair makes a head prefer the induction keys.

    On ``tokens`` repeating with ``period``, a query from the second copy on should
    pick the keys right after the earlier copies of its token. Its preference is the
    attention score on those keys minus the mean score on the other keys it can see.
    Scores are bilinear, q·k / sqrt(d_head), and q and k are sums over the residual
    components (:func:`residual_components`; each side's bias joins ``biases``), so
    the preference splits exactly into one term per pair. Returns the names and
    the terms, (component of the query, component of the key), averaged over
    sequences and queries; they sum to the whole preference. ARENA 1.2's
    decomposition of attention scores, scored on the induction keys.

    Taught in: induction_heads §5.
    """
    names, comps = residual_components(model, tokens, layer)
    W_Q, W_K = model.W_Q[layer, head].detach(), model.W_K[layer, head].detach()
    q = comps @ W_Q  # (component, batch, pos, d_head)
    k = comps @ W_K
    q[-1] += model.b_Q[layer, head].detach()
    k[-1] += model.b_K[layer, head].detach()
    n_pos = tokens.shape[-1]
    pos = torch.arange(n_pos, device=q.device)
    i, j = pos[:, None], pos[None, :]
    lag = i - j + 1
    target = ((lag > 0) & (lag % period == 0)).double()  # (query, key)
    other = (j <= i).double() - target
    weight = target / target.sum(-1, keepdim=True).clamp(min=1) - other / other.sum(
        -1, keepdim=True
    )
    weight[:period] = 0  # only queries from the second copy on
    weight = weight / (n_pos - period)
    scores = torch.einsum("xbid,ybjd->xybij", q.double(), k.double()) / q.shape[-1] ** 0.5
    return names, torch.einsum("xybij,ij->xy", scores, weight) / tokens.shape[0]


def freeze_patterns(patterns: dict[str, Tensor]) -> list[Hook]:
    """Hooks that replace every named attention pattern with a recorded one (e.g. from a clean run).

    Taught in: induction_heads §5, through ``pattern_preserving_ablation``.
    """

    def frozen(saved: Tensor) -> Callable:
        def hook_fn(attn: Tensor, hook) -> Tensor:
            if attn.shape != saved.shape:
                raise ValueError(
                    f"{hook.name}: recorded pattern {tuple(saved.shape)} vs {tuple(attn.shape)}"
                )
            return saved.to(attn)

        return hook_fn

    return [(name, frozen(saved)) for name, saved in patterns.items()]


def pattern_preserving_ablation(
    model: TransformerBridge, tokens: Tensor, layer: int, heads: list[int]
) -> Tensor:
    """Logits with ``heads`` of ``layer`` zeroed while every attention pattern keeps its clean value.

    Freezing the patterns removes only what the heads *write*: later heads still
    attend where they did, so the effect measured is the ablated heads' own.

    Taught in: induction_heads §5.
    """
    _, cache = model.run_with_cache(tokens, names_filter=lambda name: name.endswith("hook_pattern"))
    patterns = {name: cache[name] for name in cache.keys()}
    return model.run_with_hooks(
        tokens, fwd_hooks=[*freeze_patterns(patterns), zero_heads(layer, heads)]
    )


def path_ablation(
    model: TransformerBridge, tokens: Tensor, layer: int, heads: list[int], into: str
) -> Tensor:
    """Logits with what ``heads`` of ``layer`` write removed from the next layer's ``into`` inputs only.

    ``into`` names the inputs of layer ``layer + 1`` that stop seeing the heads: any of
    ``"q"``, ``"k"``, ``"v"`` (e.g. ``"k"``: its keys). Everything else, the residual
    stream and the other inputs included, keeps the heads' output. This tells
    K-composition from Q-composition causally.

    Taught in: induction_heads §5.
    """
    if not into or set(into) - set("qkv"):
        raise ValueError(f"into must name some of the inputs 'q', 'k', 'v', got {into!r}")
    if model.cfg.normalization_type is not None:
        raise ValueError("path_ablation needs a model without LayerNorm")
    if not 0 <= layer < model.cfg.n_layers - 1:
        raise ValueError(f"layer {layer} has no next layer in a {model.cfg.n_layers}-layer model")
    _, cache = model.run_with_cache(tokens, names_filter=f"blocks.{layer}.attn.hook_z")
    z = cache[f"blocks.{layer}.attn.hook_z"][:, :, heads]  # (batch, pos, len(heads), d_head)
    written = torch.einsum("bphd,hdm->bpm", z, model.W_O[layer, heads])  # (batch, pos, d_model)

    def remove(x: Tensor, hook) -> Tensor:  # x: (batch, pos, d_model), the input of q, k or v
        return x - written

    # the native model computes q, k and v with separate projections, so the input of
    # each (its ``hook_in``) can lose the heads' output alone; with LayerNorm that input
    # would be normalised already and subtracting would not remove the heads
    return model.run_with_hooks(
        tokens, fwd_hooks=[(f"blocks.{layer + 1}.attn.{c}.hook_in", remove) for c in into]
    )


def induction_pattern(n_pos: int, period: int) -> Tensor:
    """The perfect induction pattern on a sequence repeating with ``period``: (query, key).

    From the second copy on, query i attends to key i − period + 1 (the token
    after the previous copy of token i); earlier queries attend to themselves.

    Taught in: induction_heads §5, through ``exercise_cases``.
    """
    if not 1 <= period < n_pos:
        raise ValueError(f"period must lie in [1, {n_pos - 1}], got {period}")
    pattern = torch.eye(n_pos)
    for q in range(period, n_pos):
        pattern[q] = 0.0
        pattern[q, q - period + 1] = 1.0
    return pattern


def exercise_cases(
    name: str = "prefix_matching", period: int = 7, seed: int = 0
) -> list[exercises.Case]:
    """The cases an exercise of the chapter is checked on: random inputs and edge cases.

    ``name`` is ``"ov_copying"``, ``"k_composition"`` or ``"prefix_matching"`` (patterns
    over two copies of a sequence: a perfect induction head, a random one, a
    previous-token head, and the shortest period).

    Taught in: induction_heads §3 and §5 (the exercises).
    """
    gen = torch.Generator().manual_seed(seed)
    Case = exercises.Case
    if name == "ov_copying":
        W_E, W_U = torch.randn(11, 8, generator=gen), torch.randn(8, 11, generator=gen)
        copier = torch.linalg.pinv(W_E) @ torch.linalg.pinv(W_U)  # W_E W_OV W_U = I
        return [
            Case("a head whose circuit is the identity (copies: +1)", (W_E, copier, W_U)),
            Case("its negative (suppresses: -1)", (W_E, -copier, W_U)),
            Case("random matrices", (W_E, torch.randn(8, 8, generator=gen), W_U)),
            Case(
                "a low-rank OV",
                (W_E, torch.randn(8, 2, generator=gen) @ torch.randn(2, 8, generator=gen), W_U),
            ),
        ]
    if name == "k_composition":
        A = torch.randn(16, 16, generator=gen)
        low = torch.zeros(16, 16)
        low[:8, :8] = torch.randn(8, 8, generator=gen)
        high = torch.zeros(16, 16)
        high[8:, 8:] = torch.randn(8, 8, generator=gen)
        return [
            Case("random matrices", (A, torch.randn(16, 16, generator=gen))),
            Case("the keys read nothing the head writes (0)", (low.T, high)),
            Case("the same matrix on both sides", (A, A)),
        ]
    if name != "prefix_matching":
        raise ValueError(f"no exercise named {name!r}")

    def patterns(period: int) -> Tensor:
        n_pos = 2 * period
        scores = torch.randn(3, 2, n_pos, n_pos, generator=gen).masked_fill(
            torch.ones(n_pos, n_pos).triu(1).bool(), float("-inf")
        )
        pattern = scores.softmax(-1)
        pattern[:, 0] = induction_pattern(n_pos, period)
        prev = torch.zeros(n_pos, n_pos)
        prev[0, 0] = 1.0
        prev[torch.arange(1, n_pos), torch.arange(n_pos - 1)] = 1.0
        return torch.cat([pattern, prev.expand(3, 1, n_pos, n_pos)], dim=1)

    return [
        exercises.Case(
            f"period {k}; heads: perfect induction, random, previous-token", (patterns(k), k)
        )
        for k in (period, 2)
    ]
