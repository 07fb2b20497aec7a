"""The book's shared models: a TransformerLens ``TransformerBridge`` from a plain config, and
He et al.'s two-layer network for modular addition (:class:`ModularMLP`).

Every activation of a ``TransformerBridge`` has a stable hook name
(``blocks.0.mlp.hook_post``), which is what the analyses read. Models are built
from their config alone: no hub, no download. A chapter's own architecture
(the grokking transformer, smeared keys, the state transformer) lives in that
chapter's module and starts from :func:`build_transformer` or its config.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from transformer_lens.config import TransformerBridgeConfig
from transformer_lens.model_bridge import TransformerBridge

from toylab import bridge


def build_transformer(config: dict[str, Any], seed: int = 0) -> TransformerBridge:
    """A CPU ``TransformerBridge`` built from a plain dict of config fields, seeded.

    The model is TransformerLens's own native transformer (``boot_native``: no hub, no
    download) through :func:`toylab.bridge.boot`, which works around what differs from
    TransformerLens 3's ``HookedTransformer`` or is broken (a trainable unembedding bias
    ``b_U``, tokens moved to the weights' device, deep copies with their own hooks).
    Weights start at N(0, 0.8/sqrt(d_model)), biases at zero, LayerNorm scales at one
    (:func:`toylab.bridge.init_like_hooked_transformer`).

    Args:
        config: keyword arguments of ``TransformerBridgeConfig`` (``n_layers``,
            ``d_model``, ``d_head``, ``n_heads``, ``d_vocab``, ``n_ctx``, ...).
        seed: seeds the weight initialisation.

    Raises:
        ValueError: the config cannot be built; the message says why.

    Taught in: induction_heads §2.
    """
    sizes = ("n_layers", "d_model", "d_head", "n_heads", "d_vocab", "n_ctx", "d_mlp", "d_vocab_out")
    for key in sizes:
        value = config.get(key)
        if value is not None and not (isinstance(value, int) and value >= 1):
            if key == "d_mlp" and config.get("attn_only"):
                continue
            raise ValueError(f"transformer config: {key} must be a positive integer, got {value!r}")
    try:
        cfg = TransformerBridgeConfig(**{"device": "cpu", **config, "seed": seed})
        model = bridge.boot(cfg)
    except (TypeError, ValueError, AssertionError, KeyError) as err:
        raise ValueError(f"cannot build a TransformerBridge from {config}: {err}") from None
    std = cfg.initializer_range if cfg.initializer_range > 0 else 0.8 / math.sqrt(cfg.d_model)
    torch.manual_seed(seed)  # HookedTransformer drew from the global generator
    bridge.init_like_hooked_transformer(
        model, lambda name, shape: nn.init.normal_(torch.empty(shape), std=std)
    )
    return model


ACTIVATIONS = {"relu": torch.relu, "square": torch.square}


class ModularMLP(nn.Module):
    """logit_c = Σ_m ξ_m[c] f(θ_m[a] + θ_m[b]): He et al.'s network, M neurons wide.

    The inputs a, b are the arguments ``x``, ``y``; the activation f is ``"relu"`` or
    ``"square"`` (f(z) = z²).

    Weights start at ``init_scale``·N(0, 1)/sqrt(p) (the paper: 0.1).

    Taught in: grokking_network §1; trained in grokking_phase_diagram too.
    """

    def __init__(
        self,
        p: int,
        width: int = 512,
        activation: str = "relu",
        init_scale: float = 0.1,
        seed: int = 0,
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if p < 3 or width < 1 or init_scale <= 0:
            raise ValueError(
                f"need p >= 3, width >= 1 and init_scale > 0 (got {p}, {width}, {init_scale})"
            )
        gen = torch.Generator().manual_seed(seed)
        self.p, self.activation = p, activation
        self.theta = nn.Parameter(
            init_scale * torch.randn(width, p, generator=gen) / math.sqrt(p)
        )  # (M, p)
        self.xi = nn.Parameter(
            init_scale * torch.randn(width, p, generator=gen) / math.sqrt(p)
        )  # (M, p)

    def hidden(self, x: Tensor, y: Tensor) -> Tensor:
        """Neuron activations (B, M) for inputs x, y (B,)."""
        # one_hot(x) + one_hot(y) times θᵀ, as in the paper: a dense product is much
        # faster than gathering θ[:, x] once deterministic kernels are on
        x, y = x.to(self.theta.device), y.to(self.theta.device)  # inputs follow the weights
        inputs = nn.functional.one_hot(x, self.p) + nn.functional.one_hot(y, self.p)  # (B, p)
        return ACTIVATIONS[self.activation](inputs.to(self.theta.dtype) @ self.theta.T)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.hidden(x, y) @ self.xi  # (B, p) logits
