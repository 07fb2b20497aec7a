"""The one module that touches TransformerLens's internals (TransformerLens 4.3).

The book's transformers are TransformerLens's own native transformer behind a
``TransformerBridge`` (``boot_native``: no hub, no download). Every other module uses
the bridge's public surface only: hook names (``blocks.0.attn.hook_pattern``),
``cfg``, ``blocks[l].attn.q``, ``W_Q`` ..., ``parameters()``. What needs more lives
here, each access behind a guard that fails loudly and says what changed:

- Three upstream bugs are worked around, each with a canary in
  ``tests/unit/test_upstream.py`` that fails once a release fixes it, and a
  reproduction in ``docs/upstream/``. :func:`boot` handles two: a deep copy's capture
  hooks write into the original; tokens are not moved to the weights' device.
  :func:`attach_to_keys` handles the third: a module added under a hook point is
  trained but not saved. :func:`boot` also makes the unembedding bias ``b_U``
  trainable (the native one is a fixed zero buffer), as in TransformerLens 3's
  ``HookedTransformer``.
- :func:`init_like_hooked_transformer` writes weights into the native layout.
- :func:`attach_to_keys` and :func:`attached` give a layer's key projection a
  trained module (the induction chapter's smeared keys).
"""

from __future__ import annotations

import copy
import types
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from transformer_lens.config import TransformerBridgeConfig
from transformer_lens.model_bridge import TransformerBridge

CAPTURE_FLAG = "_capture_hooks_wired"  # a BlockBridge's "my capture hooks are installed"
CAPTURE_PREFIX = "_capture"  # the names of those hooks (_capture_pre_ln1, _capture_mlp_in)


def _changed(what: str, doc: str | None = None) -> RuntimeError:
    """The error a guard raises: TransformerLens no longer looks as this module expects."""
    see = f"; check docs/upstream/{doc}" if doc else ""
    return RuntimeError(f"TransformerLens changed: {what}{see}")


def _native(model: TransformerBridge) -> nn.Module:
    """The native transformer under a bridge (``tok_embed``, ``layers``, ``head``)."""
    inner = getattr(model, "original_model", None)
    if inner is None or not hasattr(inner, "layers"):
        raise _changed("a bridge has no original_model with .layers")
    return inner


def boot(cfg: TransformerBridgeConfig) -> TransformerBridge:
    """``TransformerBridge.boot_native(cfg)``, with the workarounds the book needs.

    Tokens move to the weights' device before the forward pass; ``copy.deepcopy``
    gives the copy its own capture hooks; the unembedding bias ``b_U`` is a trained
    parameter (zero at the start).

    Taught in: induction_heads §2, through ``models.build_transformer``.
    """
    model = TransformerBridge.boot_native(cfg, device=cfg.device)
    model.register_forward_pre_hook(_inputs_follow_the_weights, with_kwargs=True)
    model.__dict__["__deepcopy__"] = types.MethodType(_deepcopy_with_own_hooks, model)
    head = _native(model).head.original_component  # nn.Linear(d_model, d_vocab_out)
    if "bias" not in head._buffers:
        raise _changed(
            f"the native head's bias is no longer a buffer (buffers {list(head._buffers)}); "
            "if b_U is now trained, drop this conversion"
        )
    head.bias = nn.Parameter(head._buffers.pop("bias"))
    return model


def _inputs_follow_the_weights(model: TransformerBridge, args: tuple, kwargs: dict):
    """Move a forward pass's tensor arguments to the device of the model's weights.

    ``HookedTransformer`` moved its tokens to the model's device; ``TransformerBridge``
    4.3 passes them on as they come, so CPU tokens would meet GPU weights in the
    embedding (docs/upstream/tokens-follow-the-weights.md). The weights' device, not
    ``cfg.device``: a module holding the bridge (the ODE chapter's) moves it with
    ``nn.Module.to``, which leaves ``cfg.device`` as it was.
    """
    device = next(model.parameters()).device

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
    the original's ``hook_mlp_in`` (docs/upstream/deepcopy-capture-hooks.md). Here the
    copy drops those hooks and rewires its own on its next forward pass, as a freshly
    built block does.
    """
    del model.__dict__["__deepcopy__"]  # copy.deepcopy would call this again
    try:
        clone = copy.deepcopy(model, memo)
    finally:
        model.__dict__["__deepcopy__"] = types.MethodType(_deepcopy_with_own_hooks, model)
    blocks = [b for b in clone.modules() if hasattr(b, CAPTURE_FLAG)]  # the BlockBridges
    if len(blocks) != clone.cfg.n_layers:
        raise _changed(
            f"{len(blocks)} blocks carry {CAPTURE_FLAG}, the model has {clone.cfg.n_layers} layers",
            "deepcopy-capture-hooks.md",
        )
    for block in blocks:
        handles = getattr(block, "_capture_hook_handles", None)
        if not isinstance(handles, list):
            raise _changed("a block has no _capture_hook_handles list", "deepcopy-capture-hooks.md")
        removed = 0
        for sub in block.modules():
            for key, fn in list(sub._forward_pre_hooks.items()):
                if getattr(fn, "__name__", "").startswith(CAPTURE_PREFIX):
                    del sub._forward_pre_hooks[key]
                    removed += 1
        if removed != len(handles):  # every installed capture hook found, and no other
            raise _changed(
                f"a block holds {len(handles)} capture hook handles but {removed} hooks are "
                f"named {CAPTURE_PREFIX}*",
                "deepcopy-capture-hooks.md",
            )
        block._capture_hook_handles = []
        setattr(block, CAPTURE_FLAG, False)
    clone.__dict__["__deepcopy__"] = types.MethodType(_deepcopy_with_own_hooks, clone)
    return clone


def init_like_hooked_transformer(
    model: TransformerBridge, draw: Callable[[str, tuple[int, ...]], Tensor]
) -> None:
    """Set a native bridge's weights as TransformerLens 3's ``HookedTransformer`` laid them out.

    ``draw(name, shape)`` is called in ``HookedTransformer``'s parameter order (W_E,
    W_pos, then per layer W_Q, W_O, W_K, W_V, W_in, W_out, and last W_U), in its
    shapes (W_Q: (n_heads, d_model, d_head), ...), and each tensor is copied into the
    native layout (q.weight[h·d_head + e, d] = W_Q[h, d, e], ...). Biases are set to
    zero and LayerNorm scales to one.

    Why it is kept: the native initialisation is not the book's. ``boot_native`` (4.3)
    draws the output projections (attention ``o``, MLP ``fc_out``) at std 0.05 whatever
    the width, the rest at 0.8/sqrt(d_model); the book's models start every matrix at
    N(0, 0.8/sqrt(d_model)) (0.1 at the induction chapter's width 64), and the grokking
    transformer at Nanda et al.'s N(0, 1/d_model): the distributions every chapter's
    claims were swept at. Some order of draws must be chosen; this one also gives,
    seed for seed, the weights ``HookedTransformer`` gave.

    Taught in: induction_heads §2 (the model); grokking §2 draws its own init through it.
    """
    cfg, inner = model.cfg, _native(model)
    H, d, dh = cfg.n_heads, cfg.d_model, cfg.d_head
    with torch.no_grad():
        inner.tok_embed.weight.copy_(draw("W_E", (cfg.d_vocab, d)))
        if inner.pos is not None:  # rotary models have no learned positions
            inner.pos.weight.copy_(draw("W_pos", (cfg.n_ctx, d)))
        for block in inner.layers:
            attn = block.attn
            W_Q, W_O = draw("W_Q", (H, d, dh)), draw("W_O", (H, dh, d))
            W_K, W_V = draw("W_K", (H, d, dh)), draw("W_V", (H, d, dh))
            for linear, W in ((attn.q, W_Q), (attn.k, W_K), (attn.v, W_V)):
                linear.weight.copy_(W.permute(0, 2, 1).reshape(H * dh, d))
            attn.o.weight.copy_(W_O.reshape(H * dh, d).T)
            if not cfg.attn_only:
                block.mlp.fc_in.weight.copy_(draw("W_in", (d, cfg.d_mlp)).T)
                block.mlp.fc_out.weight.copy_(draw("W_out", (cfg.d_mlp, d)).T)
        inner.head.weight.copy_(draw("W_U", (d, inner.head.out_features)).T)
        for name, param in inner.named_parameters():
            if name.endswith("bias"):
                param.zero_()
            elif param.ndim == 1:  # LayerNorm scales
                param.fill_(1.0)


def attach_to_keys(model: TransformerBridge, layer: int, name: str, module: nn.Module) -> None:
    """Run ``module(linear, args, keys) -> keys`` on ``layer``'s key projection, and keep it.

    The module is registered on the native model under ``name``, where the bridge's
    ``state_dict`` keeps it (trained, saved and copied with the model), and runs as a
    forward hook on the native key projection, so ``blocks.{layer}.attn.hook_k`` sees
    its output. Attached to the bridge's ``hook_k`` it would be trained but left out of
    ``state_dict`` (docs/upstream/state-dict-hook-point-parameters.md).

    Taught in: induction_heads §6, through ``add_smeared_keys``.
    """
    inner = _native(model)
    if hasattr(inner, name):
        raise ValueError(f"the model already has an attribute named {name!r}")
    key = model.blocks[layer].attn.k
    linear = getattr(key, "original_component", None)
    if not isinstance(linear, nn.Linear):
        raise _changed(f"blocks[{layer}].attn.k wraps {type(linear).__name__}, not an nn.Linear")
    inner.add_module(name, module)
    linear.register_forward_hook(module)


def attached(model: TransformerBridge, name: str) -> nn.Module:
    """The module :func:`attach_to_keys` attached under ``name``.

    Taught in: induction_heads §6, through ``smear_gates``.
    """
    module = getattr(_native(model), name, None)
    if not isinstance(module, nn.Module):
        raise ValueError(f"no module named {name!r} is attached to this model")
    return module
