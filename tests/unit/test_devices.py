"""Every toylab entry point follows its model's device, so a GPU run never mixes CUDA and CPU tensors.

This machine has no GPU, so the model goes to a stand-in device: inside ``FakeTensorMode`` its
parameters and buffers become fake tensors on PyTorch's ``meta`` device. Fake tensors check
devices as a GPU does: an operation that mixes them with CPU tensors raises
``FakeTensorDeviceMismatchError`` ("Expected all tensors to be on the same device"), while CPU
index tensors and 0-dim CPU scalars are allowed, as on CUDA. (Plain meta tensors are not enough:
many meta kernels accept CPU operands.) A fake tensor holds no values, so reading a number out
(``.item()``, ``float()``) raises a different error; that is the point where a result comes back
to the host, so the check passes there.
"""

from contextlib import contextmanager

import pytest
import torch
from torch import nn
from torch._subclasses.fake_tensor import (
    DataDependentOutputException,
    FakeTensorDeviceMismatchError,
    FakeTensorMode,
)
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode
from transformer_lens.utilities import quantization

from toylab import grokking, hooks
from toylab import grokking_network as gn
from toylab import grokking_phase_diagram as pd
from toylab import icl_regression as icl
from toylab import induction_heads as ind
from toylab import induction_task as task
from toylab import ode_circuits as ode
from toylab.data import modular_addition_data
from toylab.ensemble import Ensemble
from toylab.models import ModularMLP, build_transformer

FAKE = torch.device("meta", 0)  # indexed, as TransformerLens names a GPU ("cuda:0")


@contextmanager
def elsewhere(*models):
    """Inside: ``models`` live on a fake non-CPU device that checks devices as a GPU would.

    TransformerLens refuses to read weight matrices (``W_O``, ...) that live on the meta
    device, taking them for a model loaded without weights; the stand-in lifts that refusal.
    """
    with FakeTensorMode(allow_non_fake_inputs=True), pytest.MonkeyPatch.context() as patch:
        patch.setattr(quantization, "unreadable_weight_reason", lambda weight: None)
        for model in models:
            for module in model.modules():  # every tensor replaced by an empty one on FAKE
                for name, p in list(module.named_parameters(recurse=False)):
                    fake = torch.empty(p.shape, dtype=p.dtype, device=FAKE)
                    setattr(module, name, nn.Parameter(fake, requires_grad=p.requires_grad))
                for name, b in list(module.named_buffers(recurse=False)):
                    module.register_buffer(name, torch.empty(b.shape, dtype=b.dtype, device=FAKE))
            if hasattr(model, "cfg"):  # TransformerLens creates some tensors on cfg.device
                model.cfg.device = FAKE
        yield


class DeviceOps(TorchDispatchMode):
    """Counts the operations that touch a tensor on the fake device."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        leaves = pytree.tree_leaves((args, kwargs, out))
        if any(isinstance(t, torch.Tensor) and t.device == FAKE for t in leaves):
            self.count += 1
        return out


def follows_device(fn, *models):
    """Run ``fn()`` with ``models`` on the fake device; fail on a device mismatch.

    Reading a number out ends the check, but only after some operation ran on the device:
    a number read before any (from a CPU tensor, say) would otherwise pass unchecked.
    """
    with elsewhere(*models), DeviceOps() as ops:
        try:
            fn()
        except FakeTensorDeviceMismatchError as err:
            pytest.fail(f"a CPU tensor met the model's device: {err}")
        except DataDependentOutputException:
            pass  # a number was read out to the host: the end of the device path
    if ops.count == 0:
        pytest.fail("nothing ran on the model's device before the check ended")


def test_the_stand_in_catches_a_mismatch_and_allows_what_a_gpu_allows():
    model = torch.nn.Linear(3, 2)
    with pytest.raises(pytest.fail.Exception, match="same device"):
        follows_device(lambda: model(torch.zeros(1, 3)), model)  # input left on the CPU
    follows_device(lambda: model(torch.zeros(1, 3).to(model.weight.device)), model)
    with pytest.raises(pytest.fail.Exception, match="nothing ran"):  # a number read first
        follows_device(lambda: torch.zeros(2).sum().item() + model(torch.zeros(1, 3)), model)


P = 7


def test_grokking_helpers():
    d = modular_addition_data(P, 0.5)
    for fn in [
        lambda m: grokking.loss_fn(m, *d.train),
        lambda m: grokking.evaluator(d)(m),
        lambda m: grokking.all_logits(m, d),
        lambda m: grokking.neuron_activations(m, d),
    ]:
        model = grokking.grokking_transformer(P, d_model=16, n_heads=2, d_mlp=16)
        follows_device(lambda m=model, fn=fn: fn(m), model)


def test_grokking_network_helpers():
    d = modular_addition_data(P, 0.5)
    masks = pd.train_masks(P, [0.5, 0.6], [0, 1])
    model = ModularMLP(P, 8)
    follows_device(lambda: model(d.a, d.b), model)
    model = ModularMLP(P, 8)
    follows_device(lambda: gn.neuron_waves(model.theta), model)
    model = ModularMLP(P, 8)
    # keep_frequency first checks the frequencies on the host, which ends the fake-device
    # check; given frequencies on the model's device, that check itself runs there
    follows_device(
        lambda: gn.keep_frequency(
            model.theta, torch.ones(8, dtype=torch.long, device=model.theta.device)
        ),
        model,
    )
    ens = Ensemble([ModularMLP(P, 8, seed=s) for s in range(2)])
    follows_device(lambda: pd.ensemble_loss(ens, d.a, d.b, d.labels, masks), ens)


CFG = dict(
    n_layers=2,
    d_model=16,
    d_head=4,
    n_heads=2,
    d_vocab=11,
    n_ctx=8,
    attn_only=True,
    normalization_type=None,
)  # as the induction chapter's models


def test_induction_helpers_and_interventions():
    tokens = torch.randint(11, (2, 8), generator=torch.Generator().manual_seed(0))
    mean_z = torch.zeros(8, 2, 4)
    cases = [
        lambda m: task.per_token_loss(m(tokens), tokens),
        lambda m: ind.pattern_preserving_ablation(m, tokens, 1, [0]),
        lambda m: ind.path_ablation(m, tokens, 0, [1], into="k"),
        lambda m: m.run_with_hooks(tokens, fwd_hooks=[ode.mean_heads(1, [0], mean_z)]),
        lambda m: m.run_with_hooks(tokens, fwd_hooks=[hooks.clamp_pattern(0, 1)]),
    ]
    for fn in cases:
        model = build_transformer(CFG)
        follows_device(lambda m=model, fn=fn: fn(m), model)


def test_icl_regression_metrics():
    tasks = icl.sample_tasks(4, 6, 3, generator=torch.Generator().manual_seed(0))
    for model in [icl.LinearSelfAttention(3), icl.SoftmaxAttentionRegressor(3, n_heads=2)]:
        follows_device(lambda m=model: icl.mse(m, tasks), model)


def test_ode_helpers():
    traj = ode.linear_trajectories(
        ode.sample_systems(2, generator=torch.Generator().manual_seed(0)), 0.1, 8
    )
    for fn in [
        lambda m: m(traj.y),
        lambda m: ode.stencil_jacobian(m, traj.y, n_back=3),
        lambda m: ode.rollout(m, traj.y[:, :4], 3),
    ]:
        model = ode.state_transformer(n_layers=1, d_model=16, n_heads=2, n_ctx=8)
        follows_device(lambda m=model, fn=fn: fn(m), model)
