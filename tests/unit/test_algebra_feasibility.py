"""The in-context algebra feasibility script's task generators (benchmarks/algebra_feasibility.py)."""

import importlib.util
import itertools
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("alg", ROOT / "benchmarks" / "algebra_feasibility.py")
alg = importlib.util.module_from_spec(spec)
spec.loader.exec_module(alg)


@pytest.mark.parametrize("name", ["C3", "C7", "D4", "D6", "D10"])
def test_tables_are_groups(name):
    (T,) = alg.tables(name)
    n = len(T)
    assert n == int(name[1:])
    rows = torch.arange(n)
    assert all(
        (T[i].sort().values == rows).all() and (T[:, i].sort().values == rows).all()
        for i in range(n)
    )
    assert (T[0] == rows).all() and (T[:, 0] == rows).all()  # element 0 is the identity
    for x, y, z in itertools.product(range(n), repeat=3):
        assert T[T[x, y], z] == T[x, T[y, z]]


def test_dihedral_of_order_six_or_more_does_not_commute_and_cyclic_does():
    (C,) = alg.tables("C6")
    assert (C == C.T).all()
    for name in ["D6", "D8"]:
        (D,) = alg.tables(name)
        assert not (D == D.T).all()
    (D4,) = alg.tables("D4")  # the Klein four-group: abelian
    assert (D4 == D4.T).all()


@pytest.mark.parametrize("spec", ["D7", "X4", "C1", "C17"])
def test_unknown_groups_are_refused(spec):
    with pytest.raises(ValueError, match="unknown group"):
        alg.tables(spec)


def test_group_batch_states_true_facts_and_splits_queries():
    k, groups = 30, alg.tables("C3,C5,D6")
    batch = alg.group_batch(torch.Generator().manual_seed(0), 64, k, groups)
    toks = batch["tokens"]
    assert toks.shape == (64, 1 + 5 * k) and (toks[:, 0] == alg.BOS).all()
    facts = toks[:, 1:].view(64, k, 5)
    assert (facts[..., 2] == alg.EQ).all() and (facts[..., 4] == alg.COMMA).all()
    assert (toks[:, alg.answer_positions(k)] == alg.EQ).all()
    for s in range(64):
        a, b, c = facts[s, :, 0].tolist(), facts[s, :, 1].tolist(), facts[s, :, 3].tolist()
        symbols = set(a) | set(b) | set(c)
        assert len(symbols) <= batch["order"][s]
        # some table of the right order and some injective map state exactly these facts
        T = next(t for t in groups if len(t) == batch["order"][s])
        table = dict(zip(zip(a, b), c))
        assert len(table) == len(set(zip(a, b)))  # one answer per (a, b)
        for j in range(k):
            earlier = set(zip(a[:j], b[:j]))
            assert batch["verbatim"][s, j] == ((a[j], b[j]) in earlier)
            assert batch["commutative"][s, j] == (
                (b[j], a[j]) in earlier and (a[j], b[j]) not in earlier
            )
        assert len(T) >= len(symbols)
        for j in range(1, k):  # the null "pick one of the answers seen so far"
            want = (c[j] in c[:j]) / len(set(c[:j]))
            assert batch["pick_seen"][s, j].item() == pytest.approx(want)
    kinds = batch["verbatim"].int() + batch["commutative"].int() + batch["novel"].int()
    assert (kinds == 1).all()


def test_group_batch_symbol_map_is_a_relabelled_cayley_table():
    (T,) = alg.tables("D8")
    batch = alg.group_batch(torch.Generator().manual_seed(1), 8, 200, [T])
    facts = batch["tokens"][:, 1:].view(8, 200, 5)
    for s in range(8):
        seen = {(x, y): z for x, y, z in facts[s, :, [0, 1, 3]].tolist()}
        # some symbol e acts as the identity: e*y = y for every y it meets
        assert any(all(z == y for (x2, y), z in seen.items() if x2 == x) for x, _ in seen)
        assert len(set(seen.values())) == 8  # 8 symbols used, as D_4 has 8 elements
        for x in set(k[0] for k in seen):  # each row of a Cayley table is a permutation
            row = [z for (x2, _), z in seen.items() if x2 == x]
            assert len(row) == len(set(row))


def test_random_batch_repeats_and_null_by_brute_force():
    k, n = 12, 4
    batch = alg.random_batch(torch.Generator().manual_seed(2), 16, k, n)
    facts = batch["tokens"][:, 1:].view(16, k, 5)
    for s in range(16):
        a, c = facts[s, :, 0].tolist(), facts[s, :, 3].tolist()
        assert len(set(a)) <= n
        assert len({(x, z) for x, z in zip(a, c)}) == len(set(a))  # a identifies the fact
        for j in range(k):
            assert batch["repeated"][s, j] == (a[j] in a[:j])
            if j:
                want = (c[j] in c[:j]) / len(set(c[:j]))  # pick one of the answers seen
                assert batch["null"][s, j].item() == pytest.approx(want)


def test_adjacent_layout_puts_the_operand_before_the_answer():
    a, b, c = (torch.tensor([[1, 2]]) * m for m in (1, 3, 5))
    toks = alg.facts_to_tokens(a, b, c, adjacent=True)
    assert toks.tolist() == [[alg.BOS, 3, alg.EQ, 1, 5, alg.COMMA, 6, alg.EQ, 2, 10, alg.COMMA]]
    pos = alg.answer_positions(2)
    assert (toks[0, pos] == a[0]).all() and (toks[0, pos + 1] == c[0]).all()


def test_random_facts_without_unique_operands_need_both_to_match():
    batch = alg.random_batch(torch.Generator().manual_seed(3), 256, 12, 4, unique_a=False)
    facts = batch["tokens"][:, 1:].view(256, 12, 5)
    shared = 0
    for s in range(256):
        a, b = facts[s, :, 0].tolist(), facts[s, :, 1].tolist()
        pairs = set(zip(a, b))
        shared += len(pairs) > len(set(a))  # two facts with the same left operand
        for j in range(12):
            assert batch["repeated"][s, j] == ((a[j], b[j]) in set(zip(a[:j], b[:j])))
    assert shared > 50  # P(some a shared among 4 of 16) = 1 - 16·15·14·13/16^4 = 0.33


def test_clamp_makes_a_head_attend_exactly_offset_back():
    pattern = torch.rand(2, 4, 6, 6).softmax(-1)
    out = alg.clamp_offsets((2, 3))(pattern, None)
    q = torch.arange(6)
    assert (out[:, 0].argmax(-1) == (q - 2).clamp(min=0)).all() and (out[:, 0].sum(-1) == 1).all()
    assert (out[:, 1].argmax(-1) == (q - 3).clamp(min=0)).all()
    assert torch.equal(out[:, 2:], pattern[:, 2:])  # the other heads are left alone
