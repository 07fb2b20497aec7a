"""Model builders: TransformerLens ``HookedTransformer`` from a plain config.

Every activation of a ``HookedTransformer`` has a stable hook name
(``blocks.0.mlp.hook_post``), which is what the analyses read. Models are built
from their config alone: no hub, no download.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn
from transformer_lens import HookedTransformer, HookedTransformerConfig

# TransformerLens 3.x warns on every HookedTransformer that 4.0 will replace it;
# the book pins 3.9, so the warning says nothing to the reader.
warnings.filterwarnings("ignore", message=r"HookedTransformer is deprecated", category=DeprecationWarning)


def build_transformer(config: dict[str, Any], seed: int = 0) -> HookedTransformer:
    """A CPU ``HookedTransformer`` built from a plain dict of config fields, seeded.

    Args:
        config: keyword arguments of ``HookedTransformerConfig`` (``n_layers``,
            ``d_model``, ``d_head``, ``n_heads``, ``d_vocab``, ``n_ctx``, ...).
        seed: seeds the weight initialisation.

    Raises:
        ValueError: the config cannot be built; the message says why.
    """
    sizes = ("n_layers", "d_model", "d_head", "n_heads", "d_vocab", "n_ctx", "d_mlp", "d_vocab_out")
    for key in sizes:
        value = config.get(key)
        if value is not None and not (isinstance(value, int) and value >= 1):
            if key == "d_mlp" and config.get("attn_only"):
                continue
            raise ValueError(f"transformer config: {key} must be a positive integer, got {value!r}")
    try:
        cfg = HookedTransformerConfig(**{"device": "cpu", **config, "seed": seed})
        torch.manual_seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return HookedTransformer(cfg)
    except (TypeError, ValueError, AssertionError, KeyError) as err:
        raise ValueError(f"cannot build a HookedTransformer from {config}: {err}") from None


def grokking_transformer(
    p: int, d_model: int = 128, n_heads: int = 4, d_mlp: int = 512, seed: int = 0
) -> HookedTransformer:
    """The one-layer transformer of Nanda et al. (2023) for ``a + b mod p``.

    Tokens are ``0..p-1`` and '=' (``p``); logits over the p answers. ReLU MLP,
    learned positions, no LayerNorm, biases fixed at zero (frozen), weights
    ~ N(0, 1/d_model) except the unembedding ~ N(0, 1/d_vocab).

    Defined in the grokking chapter (``notebooks/grokking.py``).
    """
    if d_model % n_heads:
        raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
    model = build_transformer(
        dict(n_layers=1, d_model=d_model, d_head=d_model // n_heads, n_heads=n_heads, d_mlp=d_mlp,
             d_vocab=p + 1, d_vocab_out=p, n_ctx=3, act_fn="relu", normalization_type=None),
        seed=seed,
    )
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.split(".")[-1].startswith("b_"):
                param.zero_()
                param.requires_grad_(False)
            else:
                scale = p + 1 if name == "unembed.W_U" else d_model
                param.copy_(torch.randn(param.shape, generator=gen) / scale**0.5)
    return model


class SmearedKeys(nn.Module):
    """Olsson et al.'s smeared keys: k_j ← σ(α_h) k_j + (1 − σ(α_h)) k_{j−1}, one learned α per head.

    A forward hook on a layer's ``hook_k``: each key becomes a learned mix of its
    own position's key and the previous position's (position 0 keeps its own),
    which gives a one-layer model the previous-token information an induction
    head needs. Initialised at α = 0 (an even mix).
    """

    def __init__(self, n_heads: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(n_heads))

    def forward(self, hook_point: nn.Module, args, keys: torch.Tensor) -> torch.Tensor:
        prev = torch.cat([keys[:, :1], keys[:, :-1]], dim=1)  # (batch, pos, head, d_head)
        mix = torch.sigmoid(self.alpha)[:, None]  # (head, 1)
        return mix * keys + (1 - mix) * prev


def add_smeared_keys(model: HookedTransformer, layer: int = 0) -> HookedTransformer:
    """Give ``layer``'s keys learned smearing (:class:`SmearedKeys`), in place; returns the model.

    The smearing module is a submodule of the layer's ``hook_k``, so its α is a
    model parameter (trained, saved, copied with the model), and its forward
    hook is not one of TransformerLens's removable hooks.
    """
    hook_point = model.blocks[layer].attn.hook_k
    if hasattr(hook_point, "smear"):
        raise ValueError(f"layer {layer} already has smeared keys")
    hook_point.smear = SmearedKeys(model.cfg.n_heads).to(model.cfg.device)
    hook_point.register_forward_hook(hook_point.smear)
    return model


class StateTransformer(HookedTransformer):
    """A causal ``HookedTransformer`` over continuous states: x_t ∈ R^d_state in, a vector out per position.

    A linear map embeds each state (``state_embed``); learned positions are added
    as usual; the unembedding reads out ``d_vocab_out = d_state`` numbers, the
    prediction of the next state. Everything between is an ordinary
    TransformerLens model, so hooks, caches and head indices work as for tokens:
    ``model.run_with_cache(states)``. With ``predict_increment`` (the default) the
    read-out is added to the input state, like an integrator's update: the
    prediction at position t is y_t + output_t.

    Defined in the ODE chapter (``notebooks/ode_circuits.py``).
    """

    def __init__(self, cfg: HookedTransformerConfig, d_state: int, predict_increment: bool = True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            super().__init__(cfg)
        self.d_state = d_state
        self.predict_increment = predict_increment
        self.state_embed = nn.Linear(d_state, cfg.d_model)
        self.to(cfg.device, print_details=False)

    def forward(self, states: torch.Tensor, **kwargs) -> torch.Tensor:  # (batch, pos, d_state) -> same
        if states.ndim != 3 or states.shape[-1] != self.d_state:
            raise ValueError(f"states must be (batch, pos, {self.d_state}), got {tuple(states.shape)}")
        if states.shape[1] > self.cfg.n_ctx:
            raise ValueError(f"{states.shape[1]} states exceed the model's context of {self.cfg.n_ctx}")
        embed = self.hook_embed(self.state_embed(states))  # (batch, pos, d_model)
        pos = self.hook_pos_embed(self.W_pos[: states.shape[1]])[None]  # (1, pos, d_model)
        out = super().forward(embed + pos, start_at_layer=0, **kwargs)
        return states + out if self.predict_increment else out


def state_transformer(
    n_layers: int = 2, d_model: int = 64, n_heads: int = 4, n_ctx: int = 32, d_state: int = 2,
    attn_only: bool = False, layer_norm: bool = True, predict_increment: bool = True, seed: int = 0,
) -> StateTransformer:
    """A small causal :class:`StateTransformer` (LayerNorm or none, GELU MLP of 4·d_model), seeded."""
    if d_model % n_heads:
        raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
    if min(n_layers, d_model, n_heads, n_ctx, d_state) < 1:
        raise ValueError("n_layers, d_model, n_heads, n_ctx and d_state must all be positive")
    cfg = HookedTransformerConfig(
        n_layers=n_layers, d_model=d_model, d_head=d_model // n_heads, n_heads=n_heads,
        d_mlp=None if attn_only else 4 * d_model, attn_only=attn_only, act_fn="gelu",
        # no tokens: a 1-row W_E is built but unused, states go through state_embed
        d_vocab=1, d_vocab_out=d_state,
        n_ctx=n_ctx, normalization_type="LN" if layer_norm else None, device="cpu", seed=seed,
    )
    torch.manual_seed(seed)
    return StateTransformer(cfg, d_state, predict_increment)
