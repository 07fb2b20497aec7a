import math

import pytest
import torch

from toylab.fourier import fourier_2d, fourier_basis, frequency_norms, gini, row_frequencies


@pytest.mark.parametrize("p", [2, 5, 8, 59])
def test_basis_is_orthonormal(p):
    basis, names = fourier_basis(p)
    assert basis.shape == (p, p) and len(names) == p
    assert torch.allclose(basis @ basis.T, torch.eye(p), atol=1e-5)


def test_basis_rows_are_the_named_waves():
    p = 7
    basis, names = fourier_basis(p)
    x = torch.arange(p, dtype=torch.float32)
    assert names[:3] == ["const", "cos 1", "sin 1"] and names[-1] == "sin 3"
    assert torch.allclose(basis[0], torch.full((p,), 1 / math.sqrt(p)))
    cos3 = torch.cos(2 * math.pi * 3 * x / p)
    assert torch.allclose(basis[5], cos3 / cos3.norm(), atol=1e-6)
    assert row_frequencies(p).tolist() == [0, 1, 1, 2, 2, 3, 3]


def test_frequency_norms_find_planted_frequencies():
    p, gen = 31, torch.Generator().manual_seed(0)
    basis, _ = fourier_basis(p)
    coefs = torch.zeros(p, 16)
    for k in (4, 11):  # plant two frequencies, random mixtures of cos and sin
        coefs[2 * k - 1 : 2 * k + 1] = torch.randn(2, 16, generator=gen)
    W = basis.T @ coefs  # a (p, 16) "embedding" built from those waves only
    norms = frequency_norms(basis @ W)
    assert set(torch.nonzero(norms > 1e-6).flatten().tolist()) == {4, 11}
    assert torch.isclose(norms.sum(), W.pow(2).sum(), rtol=1e-4)


def test_fourier_2d_of_a_product_wave():
    p = 11
    basis, names = fourier_basis(p)
    grid = torch.outer(basis[3], basis[6])  # cos 2 (a) times sin 3 (b)
    coefs = fourier_2d(grid)
    assert torch.isclose(coefs[3, 6], torch.tensor(1.0), atol=1e-5)
    assert coefs.pow(2).sum().item() == pytest.approx(1.0, abs=1e-5)


def test_gini_hand_cases():
    assert gini(torch.ones(10)) == pytest.approx(0.0, abs=1e-12)
    assert gini(torch.tensor([0.0, 0, 0, 5])) == pytest.approx(1 - 1 / 4)
    # sorted x = (1, 3): G = 1 - 2 [ (1/4)(2 - 1 + .5)/2 + (3/4)(2 - 2 + .5)/2 ] = 0.25
    assert gini(torch.tensor([3.0, 1.0])) == pytest.approx(0.25)
    assert gini(torch.tensor([1.0, 2.0])) == gini(torch.tensor([10.0, 20.0]))  # scale-free
    with pytest.raises(ValueError, match="non-zero entry"):
        gini(torch.zeros(3))
