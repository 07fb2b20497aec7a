"""The book's shared models: a TransformerLens ``TransformerBridge`` from a plain config, and
He et al.'s two-layer network for modular addition (:class:`ModularMLP`).

Every activation of a ``TransformerBridge`` has a stable hook name
(``blocks.0.mlp.hook_post``), which is what the analyses read. Models are built
from their config alone: no hub, no download. A chapter's own architecture
(the grokking transformer, smeared keys, the state transformer) lives in that
chapter's module and starts from :func:`build_transformer` or its config.
"""

from __future__ import annotations

import copy
import math
import types
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from transformer_lens.config import TransformerBridgeConfig
from transformer_lens.model_bridge import TransformerBridge


def build_transformer(config: dict[str, Any], seed: int = 0) -> TransformerBridge:
    """A CPU ``TransformerBridge`` built from a plain dict of config fields, seeded.

    The model is TransformerLens's own native transformer (``boot_native``: no hub, no
    download). Where ``boot_native`` differs from the ``HookedTransformer`` the book was
    measured with (TransformerLens 3.9), this is the one place that makes it behave
    the same: the initialisation (:func:`init_like_hooked_transformer`: a seed gives
    the same weights and logits), a trainable unembedding bias ``b_U`` (the native
    one is a fixed zero buffer), and tokens moved to the weights' device
    (:func:`_inputs_follow_the_weights`). And one bug worked around: a copy made with
    ``copy.deepcopy`` (as ``Run.model_at`` makes) gets its own capture hooks
    (:func:`_deepcopy_with_own_hooks`).

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
        model = TransformerBridge.boot_native(cfg, device=cfg.device)
    except (TypeError, ValueError, AssertionError, KeyError) as err:
        raise ValueError(f"cannot build a TransformerBridge from {config}: {err}") from None
    model.register_forward_pre_hook(_inputs_follow_the_weights, with_kwargs=True)
    model.__dict__["__deepcopy__"] = types.MethodType(_deepcopy_with_own_hooks, model)
    # HookedTransformer trained an unembedding bias b_U; the native model's is a zero buffer
    head = model.original_model.head.original_component  # nn.Linear(d_model, d_vocab_out)
    if "bias" not in head._buffers:  # a guard: fail loudly if TransformerLens changed this
        raise RuntimeError(
            "TransformerLens changed: the native head's bias is no longer a buffer "
            f"(buffers {list(head._buffers)}); if b_U is now trained, drop this conversion"
        )
    head.bias = nn.Parameter(head._buffers.pop("bias"))
    std = cfg.initializer_range if cfg.initializer_range > 0 else 0.8 / math.sqrt(cfg.d_model)
    torch.manual_seed(seed)  # HookedTransformer drew from the global generator
    init_like_hooked_transformer(
        model, lambda name, shape: nn.init.normal_(torch.empty(shape), std=std)
    )
    return model


def _inputs_follow_the_weights(model: TransformerBridge, args: tuple, kwargs: dict):
    """Move a forward pass's tensor arguments to the device of the model's weights.

    ``HookedTransformer`` moved its tokens to the model's device; ``TransformerBridge``
    4.3 passes them on as they come, so CPU tokens would meet GPU weights in the
    embedding (no upstream issue found as of 2026-12). The weights' device, not
    ``cfg.device``: a module holding the bridge (the ODE chapter's) moves it with
    ``nn.Module.to``, which leaves ``cfg.device`` as it was.
    """
    device = next(model.original_model.parameters()).device

    def move(x: Any) -> Any:
        return x.to(device) if isinstance(x, Tensor) else x

    return tuple(move(a) for a in args), {k: move(v) for k, v in kwargs.items()}


def _deepcopy_with_own_hooks(model: TransformerBridge, memo: dict) -> TransformerBridge:
    """``copy.deepcopy`` of a bridge, with the copy's capture hooks rewired to the copy.

    TransformerLens 4.3's blocks install forward pre-hooks (``_capture_pre_ln1``,
    ``_capture_mlp_in``) that hold weak references to their own block and attention.
    ``deepcopy`` copies the hook table but not the closures, so a copy's forward
    pass writes its residual into the *original's* attention module (after which
    the original, holding a tensor with a graph, can no longer be copied) and fires
    the original's ``hook_mlp_in``. Here the copy drops those hooks and rewires its
    own on its next forward pass, as a freshly built block does. No upstream issue
    found as of 2026-12; tests/unit/test_models.py checks the fix.
    """
    del model.__dict__["__deepcopy__"]  # copy.deepcopy would call this again
    try:
        clone = copy.deepcopy(model, memo)
    finally:
        model.__dict__["__deepcopy__"] = types.MethodType(_deepcopy_with_own_hooks, model)
    blocks = [b for b in clone.modules() if hasattr(b, "_capture_hooks_wired")]  # BlockBridges
    if len(blocks) != clone.cfg.n_layers:  # guards: fail loudly if TransformerLens changed
        raise RuntimeError(
            f"TransformerLens changed: {len(blocks)} blocks carry _capture_hooks_wired, the model "
            f"has {clone.cfg.n_layers} layers; check docs/upstream/deepcopy-capture-hooks.md"
        )
    for block in blocks:
        removed = 0
        for sub in block.modules():
            for key, fn in list(sub._forward_pre_hooks.items()):
                if getattr(fn, "__name__", "").startswith("_capture"):
                    del sub._forward_pre_hooks[key]
                    removed += 1
        if block._capture_hooks_wired and removed == 0:
            raise RuntimeError(
                "TransformerLens changed: a block says its capture hooks are wired but none is "
                "named _capture*; check docs/upstream/deepcopy-capture-hooks.md"
            )
        block._capture_hook_handles = []
        block._capture_hooks_wired = False
    clone.__dict__["__deepcopy__"] = types.MethodType(_deepcopy_with_own_hooks, clone)
    return clone


def init_like_hooked_transformer(
    model: TransformerBridge, draw: Callable[[str, tuple[int, ...]], Tensor]
) -> None:
    """Set a native bridge's weights as TransformerLens 3's ``HookedTransformer`` laid them out.

    ``HookedTransformer`` drew its weight matrices in its parameter order (W_E, W_pos,
    then per layer W_Q, W_O, W_K, W_V, W_in, W_out, and last W_U), in its own shapes
    (W_Q: (n_heads, d_model, d_head), ...), with biases zero and LayerNorm scales one.
    ``draw(name, shape)`` is called in that order and its tensor is copied into the
    native layout (q.weight[h·d_head + e, d] = W_Q[h, d, e], ...). With N(0, 0.8/sqrt(d_model))
    from the global generator (:func:`build_transformer`) a seed gives exactly the
    weights, and the logits, that ``HookedTransformer`` gave, so every chapter's
    runs stay those we measured.

    Taught in: induction_heads §2 (the model); grokking §2 draws its own init through it.
    """
    cfg, native = model.cfg, model.original_model
    H, d, dh = cfg.n_heads, cfg.d_model, cfg.d_head
    with torch.no_grad():
        native.tok_embed.weight.copy_(draw("W_E", (cfg.d_vocab, d)))
        if native.pos is not None:  # rotary models have no learned positions
            native.pos.weight.copy_(draw("W_pos", (cfg.n_ctx, d)))
        for block in native.layers:
            attn = block.attn
            W_Q, W_O = draw("W_Q", (H, d, dh)), draw("W_O", (H, dh, d))
            W_K, W_V = draw("W_K", (H, d, dh)), draw("W_V", (H, d, dh))
            for linear, W in ((attn.q, W_Q), (attn.k, W_K), (attn.v, W_V)):
                linear.weight.copy_(W.permute(0, 2, 1).reshape(H * dh, d))
            attn.o.weight.copy_(W_O.reshape(H * dh, d).T)
            if not cfg.attn_only:
                block.mlp.fc_in.weight.copy_(draw("W_in", (d, cfg.d_mlp)).T)
                block.mlp.fc_out.weight.copy_(draw("W_out", (cfg.d_mlp, d)).T)
        native.head.weight.copy_(draw("W_U", (d, native.head.out_features)).T)
        for name, param in native.named_parameters():
            if name.endswith("bias"):
                param.zero_()
            elif param.ndim == 1:  # LayerNorm scales
                param.fill_(1.0)


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
