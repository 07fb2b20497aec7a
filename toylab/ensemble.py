"""Many small models trained as one: a batched ensemble for seed sweeps.

Small models leave a CPU mostly idle between Python calls. Stacking E models of
one architecture into a single set of (E, ...) parameters and running them with
``torch.func.vmap`` turns E small tensor programs into one larger one. Train an
:class:`Ensemble` with the usual loop (:func:`toylab.train.train`) on the *sum*
of the members' losses: each member's gradient then depends on its own loss
alone, and Adam(W) works element by element, so every member follows exactly
the trajectory it would follow if trained by itself (up to float rounding).
A sweep over weight decay gives each member its own decay: the ensemble brings
the optimiser that applies them (:meth:`Ensemble.configure_optimizer`).

Taught in: icl_regression §4 and §5; the phase diagram of grokking_phase_diagram §2 trains 75
networks as one.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

if TYPE_CHECKING:
    from toylab.train import TrainConfig


class MemberDecayAdamW(torch.optim.AdamW):
    """AdamW with one decoupled weight decay per ensemble member: p ← p (1 − lr·wd_e), then Adam.

    ``decays`` (E,) holds member e's decay; every parameter is stacked along a
    first axis of length E, so row e of each parameter shrinks by its own factor.

    Taught in: grokking_phase_diagram §2; icl_regression §4 and §5, through ``Ensemble``.
    """

    def __init__(self, params, decays: Tensor, **adam_kwargs):
        super().__init__(params, weight_decay=0.0, **adam_kwargs)
        self.decays = decays

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            shrink = 1 - group["lr"] * self.decays  # (M,)
            for p in group["params"]:
                p.mul_(shrink.view(-1, *[1] * (p.ndim - 1)))
        return super().step(closure)


class Ensemble(nn.Module):
    """E models of one architecture whose parameters are stacked along a new first axis.

    ``ensemble(*inputs)`` gives every member the same inputs and returns each
    output with a leading member axis (E, ...). ``ensemble.member(i)`` is a plain
    copy of model ``i`` with its current parameters.

    Taught in: grokking_phase_diagram §2; icl_regression §4 and §5.
    """

    def __init__(self, models: Sequence[nn.Module]):
        super().__init__()
        if len(models) < 1:
            raise ValueError("an Ensemble needs at least one model")
        names = [sorted(n for n, _ in m.named_parameters()) for m in models]
        shapes = [[p.shape for _, p in sorted(m.named_parameters())] for m in models]
        if any(n != names[0] or s != shapes[0] for n, s in zip(names, shapes)):
            raise ValueError(
                "all models of an Ensemble must have the same parameter names and shapes"
            )
        if any("__" in n for n in names[0]):
            raise ValueError("parameter names with a double underscore are not supported")
        params, buffers = stack_module_state(list(models))
        # nn.Parameter names cannot hold dots: "blocks.0.W" is stored as "blocks__0__W".
        self.stacked = nn.ParameterDict(
            {k.replace(".", "__"): nn.Parameter(v) for k, v in params.items()}
        )
        for k, v in buffers.items():
            self.register_buffer("stacked__" + k.replace(".", "__"), v)
        # Neither is a submodule, so their parameters are not the ensemble's: the
        # base (on the meta device, holding no memory) gives vmap the computation,
        # the template gives member() a module to fill.
        object.__setattr__(self, "_base", copy.deepcopy(models[0]).to("meta"))
        object.__setattr__(self, "_template", copy.deepcopy(models[0]))

    def __deepcopy__(self, memo: dict) -> Ensemble:
        """A copy (``Run.model_at`` makes one) with a fresh meta base.

        The base runs under ``vmap``; a module that stores activations on itself (a
        ``TransformerBridge`` block keeps its last residual) is left holding batched
        tensors, which cannot be copied. The base holds no weights, so the copy
        builds its own from the template, which never runs.
        """
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            if key != "_base":
                clone.__dict__[key] = copy.deepcopy(value, memo)
        object.__setattr__(clone, "_base", copy.deepcopy(self._template).to("meta"))
        return clone

    def __len__(self) -> int:
        return next(iter(self.stacked.values())).shape[0]

    def _params(self) -> dict[str, Tensor]:
        return {k.replace("__", "."): v for k, v in self.stacked.items()}

    def _stacked_buffers(self) -> dict[str, Tensor]:
        prefix = "stacked__"
        return {
            k[len(prefix) :].replace("__", "."): v
            for k, v in self.named_buffers()
            if k.startswith(prefix)
        }

    def forward(self, *inputs: Tensor) -> Tensor:
        return self._map(inputs, None)

    def each(self, *inputs: Tensor) -> Tensor:
        """Member e runs on ``inputs[e]``: every input has a leading member axis (E, ...).

        For sweeps in which each member sees its own data (its own pool of
        sequences, its own mixture). Returns (E, ...) like ``forward``.
        """
        for x in inputs:
            if x.shape[0] != len(self):
                raise ValueError(
                    f"each() needs one input per member on the first axis: got "
                    f"{x.shape[0]} for {len(self)} members"
                )
        return self._map(inputs, 0)

    def _map(self, inputs: tuple[Tensor, ...], in_dim: int | None) -> Tensor:
        def one(params, buffers, *args):
            return functional_call(self._base, (params, buffers), args)

        in_dims = (0, 0) + (in_dim,) * len(inputs)
        return vmap(one, in_dims=in_dims)(self._params(), self._stacked_buffers(), *inputs)

    def hooks(self, fwd_hooks: Sequence[tuple[str, Callable]]) -> AbstractContextManager:
        """A context in which ``fwd_hooks`` act on every member's forward pass.

        The members' models must have a ``hooks(fwd_hooks=...)`` context (TransformerLens
        models do); a hook sees one member's activations at a time. No hooks: nothing.

        Taught in: repeated_data §5 (a clamp on every member of a sweep).
        """
        if not fwd_hooks:
            return contextlib.nullcontext()
        if not hasattr(self._base, "hooks"):
            raise TypeError(f"{type(self._base).__name__} has no hooks() context to add hooks with")
        return self._base.hooks(fwd_hooks=list(fwd_hooks))

    def configure_optimizer(self, cfg: TrainConfig) -> torch.optim.Optimizer:
        """The optimiser :func:`toylab.train.train` uses: AdamW, with one decay per member if
        ``cfg.weight_decay`` is a tuple of E decays."""
        params = [p for p in self.parameters() if p.requires_grad]
        if not isinstance(cfg.weight_decay, tuple):
            return torch.optim.AdamW(
                params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay
            )
        if len(cfg.weight_decay) != len(self):
            raise ValueError(
                f"{len(cfg.weight_decay)} weight decays for an ensemble of {len(self)} members"
            )
        decays = torch.tensor(cfg.weight_decay, device=params[0].device)
        return MemberDecayAdamW(params, decays, lr=cfg.lr, betas=cfg.betas)

    def member(self, i: int) -> nn.Module:
        """Model ``i`` as an ordinary module holding a copy of its current parameters."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"member {i} out of range for an ensemble of {len(self)}")
        model = copy.deepcopy(self._template)
        # by the names named_parameters() gives (a bridge's state_dict names differ)
        with torch.no_grad():
            for k, v in self._params().items():
                model.get_parameter(k).copy_(v[i])
            for k, v in self._stacked_buffers().items():
                model.get_buffer(k).copy_(v[i])
        return model
