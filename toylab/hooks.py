"""Interventions on a TransformerLens model's activations, for analysis or throughout training.

A hook is a pair ``(hook_name, fn)`` as TransformerLens takes them:
``fn(activation, hook) -> activation`` runs whenever the model computes the
activation named ``hook_name`` (``blocks.0.attn.hook_pattern``). To *clamp* an
activation is to overwrite it with a chosen value on every forward pass. Singh
et al. (2024) clamp parts of a circuit throughout training to see which parts
the others wait for; :func:`with_hooks` turns any loss function into one that
trains under hooks, so any chapter can do the same with :func:`toylab.train.train`.

Defined in the induction-head chapter (``notebooks/induction_heads.py``).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor
from transformer_lens import HookedTransformer

Hook = tuple[str, Callable]


def with_hooks(loss_fn: Callable[..., Tensor], hooks: list[Hook]) -> Callable[..., Tensor]:
    """A loss function that evaluates ``loss_fn(model, *batch)`` with ``hooks`` attached.

    Pass it to :func:`toylab.train.train` to train with the hooks in place at
    every step (and name the hooks in the run's ``config``, so that the cache
    tells clamped runs apart).
    """
    def hooked_loss(model: HookedTransformer, *batch: Tensor) -> Tensor:
        with model.hooks(fwd_hooks=hooks):
            return loss_fn(model, *batch)

    return hooked_loss


def previous_token_pattern(n_pos: int) -> Tensor:
    """The perfect previous-token attention pattern: query i attends to key i − 1 (position 0 to itself)."""
    if n_pos < 1:
        raise ValueError(f"n_pos must be positive, got {n_pos}")
    pattern = torch.zeros(n_pos, n_pos)
    pattern[0, 0] = 1.0
    pattern[torch.arange(1, n_pos), torch.arange(n_pos - 1)] = 1.0
    return pattern  # (query, key)


def clamp_pattern(layer: int, head: int, pattern: Callable[[int], Tensor] = previous_token_pattern) -> Hook:
    """A hook that replaces one head's attention pattern by ``pattern(n_pos)`` (query, key) on every pass."""
    def clamp(attn: Tensor, hook) -> Tensor:  # attn: (batch, head, query, key)
        target = pattern(attn.shape[-1]).to(attn)
        attn = attn.clone()
        attn[:, head] = target
        return attn

    return f"blocks.{layer}.attn.hook_pattern", clamp


def zero_heads(layer: int, heads: list[int]) -> Hook:
    """A hook that zeroes the outputs (hook_z) of ``heads`` in ``layer``: they write nothing."""
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
    """
    def ablate(z: Tensor, hook) -> Tensor:  # z: (batch, pos, head, d_head)
        if z.shape[1:] != mean_z.shape:
            raise ValueError(f"{hook.name}: mean of shape {tuple(mean_z.shape)} for outputs {tuple(z.shape[1:])}")
        z = z.clone()
        z[:, :, heads] = mean_z[:, heads].to(z)
        return z

    return f"blocks.{layer}.attn.hook_z", ablate


def freeze_patterns(patterns: dict[str, Tensor]) -> list[Hook]:
    """Hooks that replace every named attention pattern with a recorded one (e.g. from a clean run)."""
    def frozen(saved: Tensor) -> Callable:
        def hook_fn(attn: Tensor, hook) -> Tensor:
            if attn.shape != saved.shape:
                raise ValueError(f"{hook.name}: recorded pattern {tuple(saved.shape)} vs {tuple(attn.shape)}")
            return saved.to(attn)
        return hook_fn

    return [(name, frozen(saved)) for name, saved in patterns.items()]
