"""The in-context classification chapter's data, network, measures and minimal models."""

import math

import numpy as np
import pytest
import torch
from exercise_checks import assert_check_tells_right_from_wrong

from toylab import icl_classification as ic
from toylab.ensemble import Ensemble
from toylab.icl_classification import Member, Task

TASK = Task()


def draw(task=TASK, S=64, **kw):
    world = ic.make_world(task, 0)
    return world, ic.sample(task, world, torch.Generator().manual_seed(1), S, **kw)


def content(seqs, task=TASK):
    return seqs.tokens[..., task.T :]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(K=500),
        dict(B=3),
        dict(B=0),
        dict(N=8, B=1, L=4),
        dict(L=48, K=96),
        dict(K=0),
        dict(eps=-1),
        dict(p_C=1.5),
    ],
)
def test_bad_task(kwargs):
    with pytest.raises(ValueError, match="bad Task"):
        Task(**kwargs)


@pytest.mark.parametrize("B", [1, 2, 4])
def test_a_bursty_sequence_holds_n_over_b_classes_b_times_with_distinct_labels(B):
    task = Task(B=B, p_C=0.0)
    world, s = draw(task)
    for row in range(64):
        counts = torch.bincount(s.ctx_classes[row]).tolist()
        assert sorted(c for c in counts if c) == [B] * (task.N // B)
        assert s.query_class[row] in s.ctx_classes[row]
        assert len(set(s.ctx_labels[row].tolist())) == task.N // B
    assert torch.equal(s.y, s.query_class % task.L)
    assert torch.equal(s.ctx_labels, s.ctx_classes % task.L)
    c = content(s, task)
    assert torch.equal(c[:, 1:-1:2], world.labels[s.ctx_labels])
    scale = 1 / math.sqrt(1 + task.eps**2)  # an item is its mean plus a little noise, scaled
    assert (c[:, 0:-1:2] - scale * world.means[s.ctx_classes]).norm(dim=-1).max() < 3 * task.eps
    assert (c[:, -1] - scale * world.means[s.query_class]).norm(dim=-1).max() < 3 * task.eps
    assert torch.equal(s.tokens[..., : task.T], torch.eye(task.T).expand(64, -1, -1))


def test_novel_rows_are_far_from_every_known_mean_and_shifted_labels_move_by_one():
    world, s = draw(p_C=1.0)
    items = content(s)[:, 0:-1:2].reshape(-1, TASK.D)
    assert torch.cdist(items, world.means).min() > 0.5  # a known item is within ~0.1 of its mean
    world, s = draw(p_C=0.0, shift_labels=True)
    assert torch.equal(s.ctx_labels, (s.ctx_classes + 1) % TASK.L)
    assert torch.equal(s.y, (s.query_class + 1) % TASK.L)
    assert torch.equal(content(s)[:, 1:-1:2], world.labels[s.ctx_labels])


def test_iid_queries_are_rarely_in_context_and_test_sets_are_fixed():
    _, s = draw(bursty=False, p_C=0.0, S=500)
    assert (s.ctx_classes == s.query_class[:, None]).any(1).float().mean() < 0.1
    world = ic.make_world(TASK, 0)
    a, b = ic.test_sets(TASK, world, n=50), ic.test_sets(TASK, world, n=50)
    assert set(a) == set(ic.TESTS)
    assert all(torch.equal(a[k].tokens, b[k].tokens) for k in a)


def test_oracles_score_what_each_rule_can_know():
    world = ic.make_world(TASK, 0)
    sets = ic.test_sets(TASK, world)
    acc = {
        (k, r): ic.oracle_accuracy(TASK, world, s, r)
        for k, s in sets.items()
        for r in ("chance", "context label", "copy", "memory")
    }
    assert acc["IC", "chance"] == 1 / TASK.L
    assert acc["IC", "context label"] == pytest.approx(1 / TASK.N)
    assert acc["IC", "copy"] == acc["IC2", "copy"] == 1.0
    assert acc["IC2", "memory"] == 0.0 and acc["IW", "memory"] == 1.0
    assert acc["IC", "memory"] < 0.1 and acc["IW", "copy"] < 0.15
    with pytest.raises(ValueError, match="unknown rule"):
        ic.oracle_accuracy(TASK, world, sets["IC"], "oracle")


def test_the_classifier_is_two_plain_attention_layers_and_an_mlp_on_the_query():
    """Rebuilt by hand: every token projected to q, k, v in both layers, causal softmax."""
    net = ic.Classifier(TASK, seed=3)
    _, s = draw(S=16)
    x = s.tokens
    T = x.shape[1]
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    for Q, K, V in net.qkv:
        a = ((x @ Q.T) @ (x @ K.T).transpose(-1, -2)).masked_fill(~mask, -math.inf).softmax(-1)
        x = x + a @ (x @ V.T)
    want = net.mlp(x[:, -1])
    pats = []
    got = net(s.tokens, pats)
    assert torch.allclose(got, want, atol=1e-5)
    a1, a2 = pats
    assert (a1.triu(1) == 0).all() and torch.allclose(a1.sum(-1), torch.ones(16, T))
    assert a2.shape == (16, T) and torch.allclose(a2.sum(-1), torch.ones(16))
    torch.rand(1)  # the global generator moves on: the seed alone sets the weights
    same = ic.Classifier(TASK, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), same.parameters()))
    state = torch.random.get_rng_state()
    ic.Classifier(TASK, seed=4)
    assert torch.equal(state, torch.random.get_rng_state())  # the global generator untouched


def test_measures_on_a_network_that_attends_by_hand():
    """A stand-in network whose patterns and answers are set: every measure computed by hand."""
    _, s = draw(S=4)
    T = TASK.T

    class Fixed(torch.nn.Module):
        def forward(self, x, patterns):
            a1 = torch.zeros(4, T, T)
            a1[:, torch.arange(T), (torch.arange(T) - 1).clamp_min(0)] = 1.0  # previous token
            a2 = torch.zeros(4, T)
            a2[:, 1] = 1.0  # the query looks at the first label only
            patterns += [a1, a2]
            logits = torch.zeros(4, TASK.L)
            logits[torch.arange(4), s.ctx_labels[:, 0]] = 1.0  # answers the first context label
            return logits

    m = ic.measures(Fixed(), s)
    first_is_right = (s.ctx_classes[:, 0] == s.query_class).float()
    assert m["acc"] == pytest.approx(first_is_right.mean().item())
    assert m["cla"] == 1.0 and m["ila1"] == 1.0 and m["tla2"] == 1.0
    assert m["tila2"] == pytest.approx(first_is_right.mean().item())
    assert m["prev"] == pytest.approx(1.0)
    assert ic.uniform_label_item_attention(2) == pytest.approx((1 / 2 + 1 / 4) / 2)
    with pytest.raises(ValueError, match="T odd"):
        ic.label_item_attention(torch.zeros(2, 4, 4))


def test_one_ensemble_trains_each_member_on_its_own_world():
    members = [Member(Task(K=64, L=8), 0), Member(Task(K=128, L=8), 1)]
    sample = ic.sampler(members, batch=5)
    tokens, y = sample(torch.Generator().manual_seed(0))
    assert tokens.shape == (2, 5, 17, 80) and y.shape == (2, 5)
    # a member's batches do not depend on the other members of its sweep
    other = [members[1], Member(Task(K=64, L=8, B=2), 3), members[0]]
    tokens2, y2 = ic.sampler(other, batch=5)(torch.Generator().manual_seed(0))
    assert torch.equal(tokens2[2], tokens[0]) and torch.equal(y2[0], y[1])
    assert not torch.equal(tokens[0], tokens[1][:, :, :80])
    ens = Ensemble([ic.Classifier(m.task, seed=m.seed) for m in members])
    loss = ic.ensemble_loss(ens, tokens, y)
    alone = [
        torch.nn.functional.cross_entropy(ic.Classifier(m.task, seed=m.seed)(tokens[e]), y[e])
        for e, m in enumerate(members)
    ]
    assert torch.allclose(loss, sum(alone), atol=1e-5)
    with pytest.raises(ValueError, match="token width"):
        ic.train_sweep([Member(Task(), 0), Member(Task(N=4), 0)], steps=1)
    with pytest.raises(ValueError, match="token width and L"):
        ic.train_sweep([Member(Task(), 0), Member(Task(L=16), 0)], steps=1)
    with pytest.raises(ValueError, match="make_world"):
        ic.sample(Task(K=64), ic.make_world(TASK, 0), torch.Generator(), 2)
    with pytest.raises(ValueError, match="pred"):
        ic.context_label_accuracy(y[0], y)


def test_a_short_sweep_logs_every_measure_of_every_member(tmp_path, monkeypatch):
    monkeypatch.setenv("TOYLAB_CACHE", str(tmp_path))
    monkeypatch.setenv("TOYLAB_PROGRESS", "off")
    members = [Member(Task(K=64, L=8), 0), Member(Task(K=64, L=8), 1)]
    run = ic.train_sweep(members, steps=4, log_every=2)
    assert list(run.metric("step")) == [0, 2, 4]
    assert run.spec["config"]["v"] == ic.VERSION
    for e in range(2):
        for t in ic.TESTS:
            for m in ic.METRICS:
                assert len(ic.curve(run, t, m, e)) == 3
    with pytest.raises(ValueError, match="unknown"):
        ic.curve(run, "IC", "loss", 0)


def test_first_step():
    steps = np.array([0, 50, 100, 150])
    assert ic.first_step(steps, np.array([0.1, 0.5, 0.95, 0.2]), 0.9) == 100
    assert ic.first_step(steps, np.array([0.1, 0.5, 0.9, 1.0]), 0.9) == 100
    assert math.isnan(ic.first_step(steps, np.array([0.1, 0.2, 0.3, 0.4]), 0.9))


def test_nested_logits_by_hand():
    t = torch.tensor
    for L in (8, 32):  # the origin: y = 1/N, every logit 0
        assert ic.nested_logits_loss(t(0.0), t(0.0), t(0.0), L, 8).item() == pytest.approx(
            math.log(L)
        )
    xi, alpha, beta1, L, N = 2.0, 3.0, 0.0, 16, 4
    e = math.exp(alpha * 0.5)
    y = e / (e + N - 1)
    right, other = xi * y, xi * (1 - y) / (N - 1)
    want = math.log(math.exp(right) + (N - 1) * math.exp(other) + (L - N)) - right
    got = ic.nested_logits_loss(t(xi), t(alpha), t(beta1), L, N).item()
    assert got == pytest.approx(want, rel=1e-6)


def test_the_origin_is_stationary_only_for_l_equal_n():
    for L, moves in ((8, False), (32, True)):
        p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(ic.nested_logits_loss(*p, L, 8), p)
        assert (g[0].abs() > 1e-3) == moves  # only xi has a gradient, only when L > N
        assert g[1] == 0 and g[2] == 0
    flow = ic.nested_flow(32, steps=400)
    assert flow.shape == (401, 5) and flow[-1, 3] < flow[0, 3]
    assert np.allclose(flow[:, 4], np.exp(-flow[:, 3]))
    t = int(np.argmax(flow[:, 3] <= 0.9 * math.log(32)))
    assert flow[t, 0] > flow[t, 1] > flow[t, 2] > 0  # xi, then alpha, then beta1
    assert np.allclose(ic.nested_flow(8, steps=50), [0, 0, 0, math.log(8), 1 / 8])
    with pytest.raises(ValueError, match="L >= N"):
        ic.nested_logits_loss(*torch.zeros(3), 4, 8)


def test_the_minimal_head_computes_the_nested_logits_on_ideal_data():
    """With orthonormal items and labels its loss is the nested-logits loss."""
    task = Task(K=32, L=32, N=8, D=64, eps=0.0)
    basis = torch.eye(64)
    labels = basis[:32]
    head = ic.MinimalHead(task, labels)
    with torch.no_grad():
        head.p.copy_(torch.tensor([1.5, 2.0, 0.3]))
    items, labs = basis[32:40], torch.arange(8)  # 8 items, label j for item j
    x = torch.zeros(1, task.T, task.d)
    x[0, 0:-1:2, task.T :], x[0, 1:-1:2, task.T :] = items, labels[labs]
    x[0, -1, task.T :] = items[3]
    x[0, :, : task.T] = torch.eye(task.T)
    loss = torch.nn.functional.cross_entropy(head(x), torch.tensor([3]))
    # the label tokens carry sigma(beta1) of their item; the query matches item 3 only
    want = ic.nested_logits_loss(*torch.tensor([1.5, 2.0, 0.3]), 32, 8)
    assert loss.item() == pytest.approx(want.item(), rel=1e-5)
    run = ic.train_minimal(Task(p_C=1.0), 0, steps=60, batch=64)
    assert run.shape == (61, 5) and run[-1, 3] < 0.9 * math.log(32) and run[-1, 4] > 0.5
    with pytest.raises(ValueError, match="B = 1"):
        ic.MinimalHead(Task(B=2), labels[:, :63])


@pytest.mark.parametrize(
    "name, reference, right, wrong",
    [
        (
            "cla",
            ic.context_label_accuracy,
            lambda p, c: (p[:, None] == c).any(1).float().mean().item(),
            lambda p, c: (p == c[:, 0]).float().mean().item(),  # only the first label
        ),
        (
            "ila1",
            ic.label_item_attention,
            lambda a: (
                a[:, 2 * torch.arange(a.shape[-1] // 2) + 1, 2 * torch.arange(a.shape[-1] // 2)]
                .mean()
                .item()
            ),
            lambda a: a.diagonal(offset=-1, dim1=-2, dim2=-1).mean().item(),  # every position
        ),
        (
            "nested",
            ic.nested_logits_loss,
            lambda xi, a, b, L, N: ic.nested_logits_loss(xi, a, b, L, N) + 0.0,
            lambda xi, a, b, L, N: ic.nested_logits_loss(xi, a, b, L, L),  # absent labels lost
        ),
    ],
)
def test_each_exercise_check_tells_right_from_wrong(name, reference, right, wrong):
    assert_check_tells_right_from_wrong(reference, right, wrong, ic.exercise_cases(name))
    with pytest.raises(ValueError, match="no exercise"):
        ic.exercise_cases("other")
