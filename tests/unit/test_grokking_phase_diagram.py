"""The phase diagram's training sets and masked ensemble loss, checked against member-by-member losses."""

import numpy as np
import pytest
import torch
from exercise_checks import assert_check_tells_right_from_wrong

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


def loss(ensemble, x, y, labels, masks, use_masks=True):
    logits = ensemble(x, y)
    ce = torch.nn.functional.cross_entropy(
        logits.transpose(1, 2), labels.expand(logits.shape[0], -1), reduction="none"
    )
    w = masks.T.to(ce.dtype) if use_masks else torch.ones_like(ce)
    return ((ce * w).sum(1) / w.sum(1)).sum()


def first(steps, values, threshold, strict=True):
    above = (values > threshold) if strict else (values >= threshold)
    return float(steps[np.argmax(above)]) if above.any() else float("nan")


@pytest.mark.parametrize(
    "name, reference, right, wrong",
    [
        ("ensemble_loss", PD.ensemble_loss, loss, lambda *a: loss(*a, use_masks=False)),
        ("unseen", PD.unseen_pairs, lambda m, x, y, p: ~m & ~m[y * p + x], lambda m, x, y, p: ~m),
        ("first_above", PD.first_above, first, lambda *a: first(*a, strict=False)),
    ],
)
def test_each_exercise_check_accepts_a_right_answer_and_refuses_a_wrong_one(
    name, reference, right, wrong
):
    assert_check_tells_right_from_wrong(reference, right, wrong, PD.exercise_cases(name))
    with pytest.raises(ValueError, match="no exercise named"):
        PD.exercise_cases("nope")
