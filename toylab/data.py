"""Modular addition, the task of both grokking chapters: every pair (a, b) mod p and a seeded split.

Shared by two chapters, so it lives in a module named for what it holds (the
rule of the README's "Layout" section). Taught in: grokking §1, reused in
grokking_network §1 and §5.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class ModularAdditionData:
    """Every pair (a, b) of residues mod p, with a seeded train/test split.

    Row ``i`` of ``inputs`` is the token sequence ``[a, b, =]`` for
    ``a, b = divmod(i, p)``; the '=' token is ``p``. Keeping the rows in this
    order lets the analyses reshape any per-example quantity to a ``(p, p)``
    grid over (a, b).

    Taught in: grokking §1 (the transformer reads ``inputs``); grokking_network §1
    (the two-layer network reads ``a`` and ``b``).
    """

    p: int
    frac_train: float
    seed: int
    inputs: Tensor  # (p*p, 3) long: a, b, '='
    labels: Tensor  # (p*p,) long: (a + b) mod p
    train_idx: Tensor  # (n_train,) rows used for training
    test_idx: Tensor  # (p*p - n_train,) the rest
    test_unseen_swap_idx: Tensor  # test rows whose swap (b, a) is also a test row

    @property
    def a(self) -> Tensor:
        """The first summand of every row, (p*p,)."""
        return self.inputs[:, 0]

    @property
    def b(self) -> Tensor:
        """The second summand of every row, (p*p,)."""
        return self.inputs[:, 1]

    @property
    def train_mask(self) -> Tensor:
        """(p*p,) bool: True on the training rows."""
        mask = torch.zeros(self.p * self.p, dtype=torch.bool)
        mask[self.train_idx] = True
        return mask

    @property
    def swap_in_train(self) -> Tensor:
        """(p*p,) bool: whether each row's swap (b, a) is a training row.

        A model symmetric in its inputs answers such a row for free once it has
        memorised the swap, without having learned addition.
        """
        return self.train_mask[self.b * self.p + self.a]

    @property
    def train(self) -> tuple[Tensor, Tensor]:
        """(inputs, labels) of the training rows."""
        return self.inputs[self.train_idx], self.labels[self.train_idx]

    @property
    def test(self) -> tuple[Tensor, Tensor]:
        """(inputs, labels) of the test rows."""
        return self.inputs[self.test_idx], self.labels[self.test_idx]


def modular_addition_data(p: int, frac_train: float, seed: int = 0) -> ModularAdditionData:
    """All p² problems ``a + b mod p``, split at random into train and test.

    Args:
        p: the modulus (at least 2; the book uses primes).
        frac_train: fraction of the p² ordered pairs used for training, in (0, 1).
        seed: seed of the split (independent of the global torch seed).

    Returns:
        A :class:`ModularAdditionData` whose ``test_unseen_swap_idx`` marks the test
        pairs that cannot be answered by memorising the commuted pair: a + b = b + a,
        so a model that has memorised (a, b) also answers (b, a) without
        generalising.

    >>> d = modular_addition_data(5, 0.5, seed=0)
    >>> d.inputs.shape, int(d.train_idx.numel())
    (torch.Size([25, 3]), 12)

    Taught in: grokking §1; grokking_network §1.
    """
    if isinstance(p, bool) or not isinstance(p, int) or p < 2:
        raise ValueError(f"modulus p must be an integer >= 2, got {p!r}")
    if not 0.0 < float(frac_train) < 1.0:
        raise ValueError(
            f"frac_train must lie strictly between 0 and 1, got {frac_train!r}; "
            "use e.g. 0.3 to train on 30% of the pairs"
        )
    n = p * p
    n_train = round(frac_train * n)
    if not 0 < n_train < n:
        raise ValueError(
            f"frac_train={frac_train} of {n} pairs leaves {n_train} training pairs; "
            "choose a fraction that keeps at least one pair on each side"
        )
    a, b = torch.arange(p).repeat_interleave(p), torch.arange(p).repeat(p)
    inputs = torch.stack([a, b, torch.full_like(a, p)], dim=1)  # (p*p, 3)
    labels = (a + b) % p
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=gen)
    train_idx, test_idx = perm[:n_train].sort().values, perm[n_train:].sort().values
    is_test = torch.zeros(n, dtype=torch.bool)
    is_test[test_idx] = True
    swap = b * p + a  # row index of (b, a)
    unseen = test_idx[is_test[swap[test_idx]]]
    return ModularAdditionData(
        p, float(frac_train), seed, inputs, labels, train_idx, test_idx, unseen
    )
