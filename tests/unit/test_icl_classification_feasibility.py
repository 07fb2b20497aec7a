"""The Reddy feasibility script's data and network (benchmarks/icl_classification_feasibility.py)."""

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "feas", ROOT / "benchmarks" / "icl_classification_feasibility.py"
)
feas = importlib.util.module_from_spec(spec)
sys.modules["feas"] = feas  # dataclasses look their module up
spec.loader.exec_module(feas)


def draw(cfg, **kw):
    means, labels = feas.world(cfg, 0)
    return (
        means,
        labels,
        feas.sample(cfg, means, labels, torch.Generator().manual_seed(1), 64, **kw),
    )


def content(tokens, cfg):
    return tokens[..., -cfg.D :]


def test_a_bursty_sequence_holds_n_over_b_classes_b_times_with_their_labels():
    for B in (1, 2, 4):
        cfg = replace(feas.Config(), B=B, p_C=0.0)
        means, labels, (tokens, y, ctx_lab, cls, query) = draw(cfg)
        for s in range(64):
            counts = torch.bincount(cls[s]).tolist()
            assert sorted(c for c in counts if c) == [B] * (cfg.N // B)
            assert query[s] in cls[s] and y[s] == query[s] % cfg.L
            assert len(set((cls[s] % cfg.L).tolist())) == cfg.N // B  # distinct labels
        c = content(tokens, cfg)
        assert torch.equal(c[:, 1:-1:2], labels[ctx_lab]) and torch.equal(ctx_lab, cls % cfg.L)
        # items are their class mean plus a little noise, scaled by 1/sqrt(1 + eps^2)
        e = 1 / (1 + cfg.eps**2) ** 0.5
        assert (c[:, 0:-1:2] - e * means[cls]).norm(dim=-1).max() < 3 * cfg.eps
        assert (c[:, -1] - e * means[query]).norm(dim=-1).max() < 3 * cfg.eps


def test_novel_rows_use_fresh_means_and_ic2_shifts_every_label():
    cfg = feas.Config()
    means, labels, (tokens, *_, cls, query) = draw(cfg, p_C=1.0)
    items = content(tokens, cfg)[:, 0:-1:2]  # (S, N, D)
    nearest = torch.cdist(items.reshape(-1, cfg.D), means).min(-1).values
    assert nearest.min() > 0.5  # far from every known class mean (a known item is within ~0.1)
    _, labels, (tokens, y, ctx_lab, cls, query) = draw(cfg, p_C=0.0, flip=True)
    assert torch.equal(ctx_lab, (cls + 1) % cfg.L) and torch.equal(y, (query + 1) % cfg.L)
    assert torch.equal(content(tokens, cfg)[:, 1:-1:2], labels[ctx_lab])


def test_iw_sequences_are_iid_and_positions_are_consecutive_slots():
    cfg = replace(feas.Config(), slots=65)
    _, _, (tokens, y, ctx_lab, cls, query) = draw(cfg, bursty=False, p_C=0.0)
    inside = (cls == query[:, None]).any(1).float().mean()
    assert inside < 0.2  # a bursty query is always in its context; an iid one rarely (8/512)
    slot = tokens[..., :65].argmax(-1)  # (S, T)
    assert torch.equal(slot - slot[:, :1], torch.arange(17).expand(64, 17))
    assert slot[:, 0].unique().numel() > 10  # a random offset per sequence
    assert torch.equal(tokens[..., :65].sum(-1), torch.ones(64, 17))


def test_the_network_is_causal_and_reads_the_last_token():
    cfg = feas.Config()
    net = feas.Net(17 + cfg.D, cfg.L)
    _, _, (tokens, *_) = draw(cfg)
    pats = []
    out = net(tokens, pats)
    assert out.shape == (64, cfg.L) and len(pats) == 2
    a1, a2 = pats  # layer 1 everywhere, layer 2 at the query (the last position)
    assert torch.allclose(a1.sum(-1), torch.ones(64, 17)) and (a1.triu(1) == 0).all()
    assert a2.shape == (64, 17) and torch.allclose(a2.sum(-1), torch.ones(64))
    changed = tokens.clone()
    changed[:, 3] += 1.0
    assert not torch.allclose(net(changed), out)  # the query reads the context


def test_the_network_computes_two_plain_attention_layers():
    """Three projections of every token in both layers, by hand: the same logits."""
    cfg = feas.Config()
    net = feas.Net(17 + cfg.D, cfg.L)
    _, _, (x, *_) = draw(cfg)
    causal = torch.ones(17, 17, dtype=torch.bool).tril()
    h = x
    for Q, K, V in net.qkv:
        s = (h @ Q.T) @ (h @ K.T).transpose(-1, -2)
        h = h + s.masked_fill(~causal, float("-inf")).softmax(-1) @ (h @ V.T)
    assert torch.allclose(net(x), net.mlp(h[:, -1]), atol=1e-5)
