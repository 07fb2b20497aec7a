"""Interventions on a TransformerLens model's activations, for analysis or throughout training.

Clamping and zero-ablation: used by the induction-head, ODE and repeated-data
chapters. An intervention only one chapter runs lives in that chapter's module:
pattern-preserving and path ablation in :mod:`toylab.induction_heads`, mean-ablation
in :mod:`toylab.ode_circuits`.

A hook is a pair ``(hook_name, fn)`` as TransformerLens takes them:
``fn(activation, hook) -> activation`` runs whenever the model computes the
activation named ``hook_name`` (``blocks.0.attn.hook_pattern``). To *clamp* an
activation is to overwrite it with a chosen value on every forward pass. Singh
et al. (2024) clamp parts of a circuit throughout training to see which parts
the others wait for; :func:`with_hooks` turns any loss function into one that
trains under hooks, so any chapter can do the same with :func:`toylab.train.train`.

Taught in: induction_heads §5 (ablations) and §7 (clamping during training); reused in
ode_circuits §6 and repeated_data §5.
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
