import math

import pytest
import torch

from toylab.fourier import fourier_basis


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
