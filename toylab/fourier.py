"""The real Fourier basis of Z_p.

Used by both grokking chapters: a network that adds mod p represents residues
as waves, so its weights are sparse in this basis. Taught in grokking §4,
following Nanda et al. (2023). The measures built on it that only that chapter
reads (norms per frequency, the 2-D transform, the Gini coefficient) are in
:mod:`toylab.grokking`.
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
