"""The phase diagram's training sets and masked ensemble loss, checked against member-by-member losses."""

import pytest
import torch

from toylab import grokking_phase_diagram as PD
from toylab.data import modular_addition_data
from toylab.ensemble import Ensemble
from toylab.models import ModularMLP


def test_masked_ensemble_loss_is_the_sum_of_member_losses():
    d = modular_addition_data(5, 0.5, seed=0)
    x, y, labels = d.a, d.b, d.labels
    masks = PD.train_masks(5, [0.3, 0.6, 0.6], [0, 0, 1])
    assert masks.shape == (25, 3) and masks.sum(0).tolist() == [8, 15, 15]
    assert (masks[:, 0] <= masks[:, 1]).all(), "same seed: nested training sets"
    models = [ModularMLP(5, width=4, seed=s) for s in range(3)]
    got = PD.ensemble_loss(Ensemble(models), x, y, labels, masks)
    want = sum(
        torch.nn.functional.cross_entropy(m(x[masks[:, i]], y[masks[:, i]]), labels[masks[:, i]])
        for i, m in enumerate(models)
    )
    assert torch.allclose(got, want, atol=1e-5)
    assert torch.equal(masks[:, 2], modular_addition_data(5, 0.6, seed=1).train_mask)
    with pytest.raises(ValueError, match="frac_train"):
        PD.train_masks(5, [1.0], [0])
    with pytest.raises(ValueError, match="equal length"):
        PD.train_masks(5, [0.5], [0, 1])
