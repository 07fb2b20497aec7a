import pytest
import torch

from toylab.data import modular_addition_data


def test_every_pair_once_and_labels():
    d = modular_addition_data(7, 0.3, seed=1)
    a, b, eq = d.inputs.T
    assert d.inputs.shape == (49, 3) and (eq == 7).all()
    assert torch.equal(a * 7 + b, torch.arange(49))  # row i is (a, b) = divmod(i, p)
    assert torch.equal(d.labels, (a + b) % 7)
    both = torch.cat([d.train_idx, d.test_idx]).sort().values
    assert torch.equal(both, torch.arange(49))
    assert d.train_idx.numel() == round(0.3 * 49)


def test_split_is_seeded():
    assert torch.equal(
        modular_addition_data(11, 0.3, 0).train_idx, modular_addition_data(11, 0.3, 0).train_idx
    )
    assert not torch.equal(
        modular_addition_data(11, 0.3, 0).train_idx, modular_addition_data(11, 0.3, 1).train_idx
    )


def test_unseen_swap_subset():
    d = modular_addition_data(13, 0.4, seed=0)
    train = set(d.train_idx.tolist())
    unseen = set(d.test_unseen_swap_idx.tolist())
    for i in d.test_idx.tolist():
        a, b = divmod(i, 13)
        assert (i in unseen) == (b * 13 + a not in train)


@pytest.mark.parametrize("p", [1, 0, -3, 2.5, True])
def test_bad_modulus(p):
    with pytest.raises(ValueError, match="modulus p"):
        modular_addition_data(p, 0.3)


@pytest.mark.parametrize("frac", [0.0, 1.0, -0.1, 1.5])
def test_bad_fraction(frac):
    with pytest.raises(ValueError, match="frac_train"):
        modular_addition_data(7, frac)


def test_fraction_leaving_an_empty_side():
    with pytest.raises(ValueError, match="at least one pair"):
        modular_addition_data(2, 0.01)


def test_summands_masks_and_swaps():
    d = modular_addition_data(7, 0.5, seed=0)
    assert torch.equal(d.a * 7 + d.b, torch.arange(49)) and torch.equal(d.labels, (d.a + d.b) % 7)
    assert torch.equal(torch.nonzero(d.train_mask).flatten(), d.train_idx)
    swap = d.swap_in_train
    assert torch.equal(swap, d.train_mask[d.b * 7 + d.a])
    assert torch.equal(swap[d.a == d.b], d.train_mask[d.a == d.b]), "the diagonal is its own swap"
    unseen = torch.zeros(49, dtype=torch.bool)
    unseen[d.test_unseen_swap_idx] = True
    assert torch.equal(unseen, ~d.train_mask & ~swap), "unseen = test rows whose swap is a test row"
