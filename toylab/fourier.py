"""The real Fourier basis of Z_p and the measures built on it.

Used by both grokking chapters: a network that adds mod p represents residues
as waves, so its weights are sparse in this basis. Taught in grokking §4,
following Nanda et al. (2023).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def fourier_basis(p: int) -> tuple[Tensor, list[str]]:
    """Orthonormal real Fourier basis of R^p, one basis vector per row.

    Row 0 is the constant 1/sqrt(p); rows 2k-1 and 2k are cos and sin of
    2πkx/p (normalised), for k = 1 .. (p-1)//2. For even p the last row is the
    Nyquist wave cos(πx).

    Returns:
        basis: (p, p) tensor with ``basis @ basis.T == I``.
        names: a label per row: ``"const"``, ``"cos 3"``, ``"sin 3"``, ...

    Taught in: grokking §4.
    """
    if isinstance(p, bool) or not isinstance(p, int) or p < 2:
        raise ValueError(f"p must be an integer >= 2, got {p!r}")
    x = torch.arange(p, dtype=torch.float64)
    rows, names = [torch.ones(p, dtype=torch.float64)], ["const"]
    for k in range(1, p // 2 + 1):
        rows.append(torch.cos(2 * math.pi * k * x / p))
        names.append(f"cos {k}")
        if 2 * k != p:  # sin(πx) vanishes on the integers
            rows.append(torch.sin(2 * math.pi * k * x / p))
            names.append(f"sin {k}")
    basis = torch.stack(rows)
    basis = basis / basis.norm(dim=1, keepdim=True)
    return basis.float(), names


def row_frequencies(p: int) -> Tensor:
    """The frequency k of each row of ``fourier_basis(p)`` (0 for the constant).

    Taught in: grokking §4.1, through ``grokking.frequency_share``.
    """
    return (torch.arange(p) + 1) // 2


def frequency_norms(coefs: Tensor) -> Tensor:
    """Squared norm per frequency of Fourier coefficients along dim 0.

    Args:
        coefs: (p, ...) coefficients in the basis of :func:`fourier_basis`.

    Returns:
        (p//2 + 1,) squared norms: entry 0 is the constant, entry k sums the
        cos k and sin k rows over every other axis.

    Taught in: grokking §4.1, through ``grokking.frequency_share``.
    """
    p = coefs.shape[0]
    sq = coefs.reshape(p, -1).pow(2).sum(dim=1)
    return torch.zeros(p // 2 + 1).index_add_(0, row_frequencies(p), sq.float().cpu())


def fourier_2d(grid: Tensor) -> Tensor:
    """2-D Fourier transform of a (p, p, ...) grid over (a, b).

    Entry [i, j] of the result is the coefficient of ``basis[i] ⊗ basis[j]``.

    Taught in: grokking §4.1, through ``grokking.neuron_frequencies``.
    """
    basis, _ = fourier_basis(grid.shape[0])
    basis = basis.to(grid.device, grid.dtype)
    return torch.einsum("ia,jb,ab...->ij...", basis, basis, grid)


def gini(x: Tensor) -> float:
    """Gini coefficient of a vector of non-negative values (Hurley & Rickard 2009).

    Sort x ascending; G = 1 - 2 Σ_i (x_i / ‖x‖₁) (N - i + 1/2) / N with
    i = 1..N. It is 0 for a constant vector and approaches 1 when one entry
    holds all the mass.

    Taught in: grokking §6, through ``grokking.progress_measures``.
    """
    x = x.detach().flatten().double().abs().sort().values
    n, total = x.numel(), x.sum()
    if n == 0 or total == 0:
        raise ValueError("gini needs a non-empty vector with a non-zero entry")
    i = torch.arange(1, n + 1, dtype=torch.float64)
    return float(1 - 2 * ((x / total) * (n - i + 0.5) / n).sum())
