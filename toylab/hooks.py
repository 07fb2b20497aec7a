"""Interventions on a TransformerLens model's activations, for analysis or throughout training.

Clamping, zero- and mean-ablation, pattern-preserving and path ablation: used by
the induction-head and ODE chapters.

A hook is a pair ``(hook_name, fn)`` as TransformerLens takes them:
``fn(activation, hook) -> activation`` runs whenever the model computes the
activation named ``hook_name`` (``blocks.0.attn.hook_pattern``). To *clamp* an
activation is to overwrite it with a chosen value on every forward pass. Singh
et al. (2024) clamp parts of a circuit throughout training to see which parts
the others wait for; :func:`with_hooks` turns any loss function into one that
trains under hooks, so any chapter can do the same with :func:`toylab.train.train`.

Taught in: induction_heads §5 (ablations) and §7 (clamping during training); reused in
ode_circuits §6.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from transformer_lens.model_bridge import TransformerBridge

Hook = tuple[str, Callable]


def with_hooks(loss_fn: Callable[..., Tensor], hooks: list[Hook]) -> Callable[..., Tensor]:
    """A loss function that evaluates ``loss_fn(model, *batch)`` with ``hooks`` attached.

    Pass it to :func:`toylab.train.train` to train with the hooks in place at
    every step (and name the hooks in the run's ``config``, so that the cache
    tells clamped runs apart).

    Taught in: induction_heads §7; repeated_data §5, through ``train_sweep``.
    """

    def hooked_loss(model: TransformerBridge, *batch: Tensor) -> Tensor:
        with model.hooks(fwd_hooks=hooks):
            return loss_fn(model, *batch)

    return hooked_loss


def previous_token_pattern(n_pos: int) -> Tensor:
    """The perfect previous-token attention pattern: query i attends to key i − 1 (position 0 to itself).

    Taught in: induction_heads §7, through ``clamp_pattern``.
    """
    if n_pos < 1:
        raise ValueError(f"n_pos must be positive, got {n_pos}")
    pattern = torch.zeros(n_pos, n_pos)
    pattern[0, 0] = 1.0
    pattern[torch.arange(1, n_pos), torch.arange(n_pos - 1)] = 1.0
    return pattern  # (query, key)


def clamp_pattern(
    layer: int, head: int, pattern: Callable[[int], Tensor] = previous_token_pattern
) -> Hook:
    """A hook that replaces one head's attention pattern by ``pattern(n_pos)`` (query, key) on every pass.

    Taught in: induction_heads §7; repeated_data §5, through ``train_sweep``.
    """

    def clamp(attn: Tensor, hook) -> Tensor:  # attn: (batch, head, query, key)
        target = pattern(attn.shape[-1]).to(attn)
        attn = attn.clone()
        attn[:, head] = target
        return attn

    return f"blocks.{layer}.attn.hook_pattern", clamp


def zero_heads(layer: int, heads: list[int]) -> Hook:
    """A hook that zeroes the outputs (hook_z) of ``heads`` in ``layer``: they write nothing.

    Taught in: induction_heads §5; ode_circuits §6.
    """

    def ablate(z: Tensor, hook) -> Tensor:  # z: (batch, pos, head, d_head)
        z = z.clone()
        z[:, :, heads] = 0.0
        return z

    return f"blocks.{layer}.attn.hook_z", ablate


def mean_heads(layer: int, heads: list[int], mean_z: Tensor) -> Hook:
    """A hook that replaces the outputs (hook_z) of ``heads`` in ``layer`` by their mean on reference data.

    ``mean_z`` (pos, head, d_head) is the mean of ``blocks.{layer}.attn.hook_z``
    over a batch (mean-ablation): the heads keep writing what they write on
    average, but nothing that depends on this input.

    Taught in: ode_circuits §6.
    """

    def ablate(z: Tensor, hook) -> Tensor:  # z: (batch, pos, head, d_head)
        if z.shape[1:] != mean_z.shape:
            raise ValueError(
                f"{hook.name}: mean of shape {tuple(mean_z.shape)} for outputs {tuple(z.shape[1:])}"
            )
        z = z.clone()
        z[:, :, heads] = mean_z[:, heads].to(z)
        return z

    return f"blocks.{layer}.attn.hook_z", ablate


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
