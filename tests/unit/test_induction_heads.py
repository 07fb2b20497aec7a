"""Head scores on hand-built attention patterns and weights whose right answer is known."""

import copy
import math

import pytest
import torch
from exercise_checks import assert_check_tells_right_from_wrong
from tiny import model, tokens

from toylab import bridge, exercises, hooks
from toylab import induction_heads as I
from toylab import induction_task as task
from toylab.heads import previous_token_scores

N_POS, PERIOD = 12, 5


def causal_pattern(rows):
    """A (1, 1, n, n) pattern from a dict query -> key with all attention on that key."""
    p = torch.zeros(1, 1, N_POS, N_POS)
    for q in range(N_POS):
        p[0, 0, q, rows(q)] = 1.0
    return p


def test_repeated_tokens_repeat():
    t = task.repeated_random_tokens(
        3, 25, 64, repeats=4, generator=torch.Generator().manual_seed(0), bos=64
    )
    assert t.shape == (3, 101) and (t[:, 0] == 64).all()
    assert torch.equal(t[:, 1:26], t[:, 26:51]) and torch.equal(t[:, 1:26], t[:, 76:101])


def test_perfect_previous_token_head():
    prev = causal_pattern(lambda q: max(q - 1, 0))
    assert previous_token_scores(prev).item() == pytest.approx(1.0)
    assert task.prefix_matching_scores(prev, PERIOD).item() == pytest.approx(0.0)


def test_perfect_induction_head_scores_one():
    # from the second copy on, attend to the token after the previous copy of the current token
    induction = causal_pattern(lambda q: q - PERIOD + 1 if q >= PERIOD else 0)
    assert task.prefix_matching_scores(induction, PERIOD).item() == pytest.approx(1.0)
    assert previous_token_scores(induction).item() < 0.2
    with_bos = causal_pattern(
        lambda q: q - PERIOD + 1 if q >= PERIOD + 1 else 0
    )  # tokens start at 1
    assert task.prefix_matching_scores(with_bos, PERIOD, offset=1).item() == pytest.approx(1.0)


def test_uniform_causal_attention_scores_chance():
    uniform = torch.tril(torch.ones(N_POS, N_POS))
    uniform = (uniform / uniform.sum(-1, keepdim=True))[None, None]
    # queries from the second copy on; those in the third copy have two earlier successors
    chance = torch.tensor([(1 + (q >= 2 * PERIOD)) / (q + 1) for q in range(PERIOD, N_POS)]).mean()
    assert task.prefix_matching_scores(uniform, PERIOD).item() == pytest.approx(chance.item())


def test_attention_split_over_all_earlier_copies_scores_one():
    pattern = torch.zeros(1, 1, N_POS, N_POS)
    for q in range(N_POS):
        keys = [k for k in range(1, q + 1) if (q - k + 1) % PERIOD == 0] or [q]
        pattern[0, 0, q, keys] = 1 / len(keys)
    assert task.prefix_matching_scores(pattern, PERIOD).item() == pytest.approx(1.0)
    assert task.prefix_matching_scores(
        I.induction_pattern(N_POS, PERIOD)[None, None], PERIOD
    ).item() == pytest.approx(1.0)


def test_scores_are_per_head():
    prev = causal_pattern(lambda q: max(q - 1, 0))
    induction = causal_pattern(lambda q: q - PERIOD + 1 if q >= PERIOD else 0)
    both = torch.cat([prev, induction], dim=1).repeat(4, 1, 1, 1)  # (4, 2, n, n)
    assert task.prefix_matching_scores(both, PERIOD).tolist() == pytest.approx([0.0, 1.0])


def test_bad_patterns_raise():
    with pytest.raises(ValueError, match="batch, head, query, key"):
        previous_token_scores(torch.zeros(3, 4, 5))
    with pytest.raises(ValueError, match="does not fit"):
        task.prefix_matching_scores(torch.zeros(1, 1, 4, 4), period=4)


def test_copying_score_signs():
    eye = torch.eye(8)
    assert I.ov_copying_score(eye, eye, eye) == pytest.approx(1.0)
    assert I.ov_copying_score(eye, -eye, eye) == pytest.approx(-1.0)
    rotation = torch.roll(
        eye, 1, dims=0
    )  # maps each token to another: eigenvalues on the unit circle
    assert abs(I.ov_copying_score(eye, rotation, eye)) < 1e-6


def test_composition_scores_and_rotation_null():
    d_model, d_head = 32, 4
    writes = torch.zeros(d_model, d_model)
    writes[:d_head, :d_head] = torch.eye(d_head)  # writes into the first 4 dimensions
    reads_same, reads_other = writes.clone(), torch.zeros(d_model, d_model)
    reads_other[-d_head:, -d_head:] = torch.eye(d_head)
    assert I.k_composition(writes, reads_same) == pytest.approx(1 / d_head**0.5)  # rank-4 identity
    assert (
        I.q_composition(writes, reads_other) == 0.0 and I.v_composition(writes, reads_other) == 0.0
    )
    # the null keeps spectra: its mean square is 1/d_model for any pair, and a pair
    # that reads exactly what is written scores above it
    gen = torch.Generator().manual_seed(0)
    R = I.haar_rotation(d_model, gen)
    assert torch.allclose(R @ R.T, torch.eye(d_model, dtype=R.dtype), atol=1e-10)
    null, spread = I.rotation_null(writes, reads_same.T, n_samples=400)
    assert 0 < null < I.k_composition(writes, reads_same) and spread > 0
    A, B = (
        torch.randn(d_model, d_model, generator=gen),
        torch.randn(d_model, d_model, generator=gen),
    )
    squares = [
        I.composition_score(A @ I.haar_rotation(d_model, gen).float(), B) ** 2 for _ in range(400)
    ]
    assert sum(squares) / 400 == pytest.approx(1 / d_model, rel=0.1)
    # rank 1 on both sides: the mean |cosine| of random directions, sqrt(2 / (pi d)) for
    # large d (0.141 at d = 32), below 1/sqrt(d) = 0.177; 400 draws: standard error ~0.005
    u = torch.randn(d_model, 1, generator=gen)
    mean, _ = I.rotation_null(u @ u.T, u @ u.T, n_samples=400)
    assert abs(mean - (2 / (math.pi * d_model)) ** 0.5) < 0.02


def test_full_circuit_accuracy_finds_a_matching_circuit():
    gen = torch.Generator().manual_seed(0)
    W_E = torch.linalg.qr(torch.randn(16, 16, generator=gen))[0][:10]  # 10 orthonormal tokens
    eye = torch.eye(16)
    assert I.full_circuit_accuracy(W_E, eye, eye) == 1.0  # key token b scored against a: a·b
    shift = torch.roll(torch.eye(10), 1, dims=1)  # maps token a to a + 1
    permuted = torch.linalg.pinv(W_E) @ shift @ W_E  # the early head writes the next token
    assert I.full_circuit_accuracy(W_E, eye, permuted) == 0.0


def test_bag_of_tokens_null_and_copy_accuracy():
    # period 3 over 8 tokens: 0 1 2 0 1 2 0 1; targets from position 3 on are copies
    t = torch.tensor([[0, 1, 2, 0, 1, 2, 0, 1]])
    null = task.bag_of_tokens_null(t, period=3, d_vocab=5)
    # predicting targets 4..7 from positions 3..6: 3 distinct tokens seen every time
    assert null["icl"] == pytest.approx(math.log(5) - math.log(3))
    assert null["copy"] == pytest.approx(1 / 3)
    t2 = torch.tensor([[0, 0, 2, 0, 0, 2, 0, 0]])  # two distinct tokens seen
    both = task.bag_of_tokens_null(torch.cat([t, t2]), 3, 5)
    assert both["copy"] == pytest.approx((1 / 3 + 1 / 2) / 2)  # averaged per token
    assert both["icl"] == pytest.approx(math.log(5) - (math.log(3) + math.log(2)) / 2)
    perfect = torch.nn.functional.one_hot(t.roll(-1, dims=1), 5).float()  # predicts the next token
    assert task.copy_accuracy(perfect, t, 3) == 1.0
    assert task.copy_accuracy(perfect.roll(1, dims=-1), t, 3) == 0.0
    with pytest.raises(ValueError):
        task.bag_of_tokens_null(t[:, :4], period=3, d_vocab=5)


def test_copy_nulls_after_filler_and_the_recency_rule():
    # least recently seen: in a block repeated from the start it is always the next token
    t = torch.tensor([[0, 1, 2, 0, 1, 2, 0, 1]])
    assert I.recency_null(t, period=3) == 1.0
    # after filler the block does not share, the least recent token is filler: never right
    f = torch.tensor([[5, 6, 0, 1, 2, 0, 1, 2, 0, 1]])
    assert I.recency_null(f, period=3, offset=2) == 0.0
    bag = task.bag_of_tokens_null(f, period=3, d_vocab=7, offset=2)
    assert bag["copy"] == pytest.approx(1 / 5)  # 5 distinct tokens seen
    perfect = torch.nn.functional.one_hot(f.roll(-1, dims=1), 7).float()
    assert task.copy_accuracy(perfect, f, 3, offset=2) == 1.0
    assert task.COPY_TOKENS.shape == task.TEST_TOKENS.shape
    assert I.recency_null(task.COPY_TOKENS, task.PERIOD, task.COPY_OFFSET) == 0.0
    assert (task.COPY_TOKENS[:, task.COPY_OFFSET :].unique(dim=1).shape[1]) == task.PERIOD


def test_score_decomposition_adds_up_to_the_heads_preference():
    m = model()
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():  # biases start at 0: give them values, so that they count
        for name, p in m.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=gen))
    t = torch.randint(11, (3, 4), generator=torch.Generator().manual_seed(2)).repeat(
        1, 2
    )  # period 4
    names, terms = I.induction_score_decomposition(m, t, period=4, layer=1, head=2)
    assert names == ["embed", "pos", "L0H0", "L0H1", "L0H2", "biases"] and terms.shape == (6, 6)
    # the preference computed directly from the model's own queries and keys
    _, cache = m.run_with_cache(t)
    q, k = cache["blocks.1.attn.hook_q"][:, :, 2], cache["blocks.1.attn.hook_k"][:, :, 2]
    scores = (q @ k.transpose(-1, -2)).double() / 2  # sqrt(d_head = 4)
    want = []
    for i in range(4, 8):
        target = [j for j in range(i + 1) if (i - j + 1) % 4 == 0]
        other = [j for j in range(i + 1) if j not in target]
        want.append(scores[:, i, target].mean(-1) - scores[:, i, other].mean(-1))
    assert terms.sum().item() == pytest.approx(torch.stack(want).mean().item(), abs=1e-5)
    with pytest.raises(ValueError, match="attention-only"):
        I.residual_components(model(normalization_type="LN"), t, 1)


def test_prefix_matching_check_accepts_the_diagonal_and_refuses_the_previous_token_stripe():
    def solution(pattern, period):
        return pattern.diagonal(offset=-(period - 1), dim1=-2, dim2=-1)[..., 1:].mean(dim=(0, -1))

    def previous_token(pattern, period):
        return pattern.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(0, -1))

    cases = I.exercise_cases()
    assert exercises.passes(solution, task.prefix_matching_scores, cases)[0]
    assert not exercises.passes(previous_token, task.prefix_matching_scores, cases)[0]
    ok, message = exercises.passes(
        lambda pattern, period: solution(pattern, period)[None], task.prefix_matching_scores, cases
    )
    assert not ok and "shape" in message
    with pytest.raises(ValueError, match="no exercise named"):
        I.exercise_cases("nope")


def test_smeared_keys_mix_each_key_with_the_previous_one():
    plain = model(n_layers=1)
    smeared = I.add_smeared_keys(copy.deepcopy(plain))
    assert "smeared_keys_0.alpha" in smeared.state_dict(), "saved, snapshotted, cached"
    assert any(q is bridge.attached(smeared, "smeared_keys_0").alpha for q in smeared.parameters())
    t = tokens()
    _, raw = plain.run_with_cache(t)
    k = raw["blocks.0.attn.hook_k"]
    with torch.no_grad():
        bridge.attached(smeared, "smeared_keys_0").alpha.copy_(torch.tensor([30.0, -30.0, 0.0]))
    assert torch.allclose(I.smear_gates(smeared), torch.tensor([1.0, 0.0, 0.5]), atol=1e-6)
    _, got = smeared.run_with_cache(t)
    ks = got["blocks.0.attn.hook_k"]
    assert torch.allclose(ks[:, :, 0], k[:, :, 0], atol=1e-5)  # sigma(30) = 1: own key
    assert torch.allclose(ks[:, 1:, 1], k[:, :-1, 1], atol=1e-5)  # sigma(-30) = 0: previous key
    assert torch.allclose(ks[:, 1:, 2], (k[:, 1:, 2] + k[:, :-1, 2]) / 2, atol=1e-5)
    assert torch.allclose(ks[:, 0], k[:, 0], atol=1e-5)  # position 0 has no previous key
    # the smearing travels with copies and state dicts, and survives reset_hooks
    twin = copy.deepcopy(smeared)
    twin.reset_hooks(including_permanent=True)
    assert torch.allclose(twin(t), smeared(t))
    fresh = I.add_smeared_keys(model(n_layers=1))
    fresh.load_state_dict(smeared.state_dict())
    assert torch.allclose(fresh(t), smeared(t))
    with pytest.raises(ValueError, match="already"):
        I.add_smeared_keys(smeared)


def test_training_data_repeats_a_random_length_prefix():
    t, predictable = task.repeated_subsequence_tokens(
        64, 32, 50, generator=torch.Generator().manual_seed(0)
    )
    assert t.shape == (64, 32) and predictable.shape == (64, 31)
    L = predictable.sum(1) + 1
    assert L.min() >= 4 and L.max() <= 16 and len(L.unique()) > 5
    for row, n in zip(t, L.tolist()):
        assert torch.equal(row[n : 2 * n], row[:n])
    for row, mask in zip(t, predictable):
        # a predictable target equals the token right after the earlier copy of the current token
        pos = mask.nonzero()[:, 0]
        n = len(pos) + 1
        assert torch.equal(row[pos + 1], row[pos + 1 - n])
    with pytest.raises(ValueError, match="min_len must lie in"):
        task.repeated_subsequence_tokens(2, 8, 5, min_len=5)


def test_per_token_loss_and_icl_score():
    logits = torch.randn(3, 9, 7)
    t = torch.randint(7, (3, 9))
    want = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, 7), t[:, 1:].reshape(-1), reduction="none"
    )
    assert torch.allclose(task.per_token_loss(logits, t), want.reshape(3, 8), atol=1e-6)
    # period 4, three copies: targets 1-3 first copy, target 4 unpredictable, targets 5-11 copyable
    loss = torch.cat(
        [torch.full((2, 3), 4.0), torch.full((2, 1), 9.0), torch.full((2, 7), 1.0)], dim=1
    )
    assert task.icl_score(loss.detach(), period=4) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="do not hold two copies"):
        task.icl_score(loss, period=11)


def ov_solution(W_E, W_OV, W_U):
    eig = torch.linalg.eigvals((W_E @ W_OV @ W_U).double())
    return float(eig.sum().real / eig.abs().sum())


def k_comp_solution(W_OV, W_QK, transpose=True):
    both = W_OV @ (W_QK.T if transpose else W_QK)
    return float(both.norm() / (W_OV.norm() * W_QK.norm()))


@pytest.mark.parametrize(
    "name, reference, right, wrong",
    [
        (
            "ov_copying",
            I.ov_copying_score,
            ov_solution,
            lambda W_E, W_OV, W_U: ov_solution(torch.eye(8), W_OV, torch.eye(8)),  # OV alone
        ),
        (
            "k_composition",
            I.k_composition,
            k_comp_solution,
            lambda W_OV, W_QK: k_comp_solution(W_OV, W_QK, transpose=False),  # Q-composition
        ),
    ],
)
def test_each_exercise_check_accepts_a_right_answer_and_refuses_a_wrong_one(
    name, reference, right, wrong
):
    assert_check_tells_right_from_wrong(reference, right, wrong, I.exercise_cases(name))


def test_ablating_last_layer_heads_removes_exactly_their_direct_output():
    m, t = model(), tokens()
    logits, cache = m.run_with_cache(t)
    ablated = I.pattern_preserving_ablation(m, t, layer=1, heads=[0, 2])
    z = cache["blocks.1.attn.hook_z"]  # (batch, pos, head, d_head)
    direct = torch.einsum("bphd,hdm,mv->bpv", z[:, :, [0, 2]], m.W_O[1, [0, 2]], m.W_U)
    assert torch.allclose(ablated, logits - direct, atol=1e-4)


def test_pattern_preserving_ablation_of_layer_0_by_hand():
    """Without layer 0's heads, layer 1 reads a residual of embeddings only, through its *clean* patterns."""
    m, t = model(), tokens()
    _, clean = m.run_with_cache(t)
    resid = (
        clean["blocks.0.hook_resid_pre"] + m.b_O[0]
    )  # (batch, pos, d_model): heads write nothing
    v = torch.einsum("bpm,hmd->bphd", resid, m.W_V[1]) + m.b_V[1]
    z = torch.einsum("bhqk,bkhd->bqhd", clean["blocks.1.attn.hook_pattern"], v)
    out = resid + torch.einsum("bqhd,hdm->bqm", z, m.W_O[1]) + m.b_O[1]
    want = out @ m.W_U + m.b_U
    got = I.pattern_preserving_ablation(m, t, layer=0, heads=[0, 1, 2])
    assert torch.allclose(got, want, atol=1e-4)
    plain = m.run_with_hooks(t, fwd_hooks=[hooks.zero_heads(0, [0, 1, 2])])
    assert not torch.allclose(plain, want, atol=1e-4), (
        "plain ablation also moves layer 1's patterns"
    )


def test_freeze_patterns_rejects_a_wrong_shape():
    m = model()
    _, cache = m.run_with_cache(tokens(batch=4))
    with pytest.raises(ValueError, match="recorded pattern"):
        m.run_with_hooks(
            tokens(batch=2),
            fwd_hooks=I.freeze_patterns(
                {"blocks.0.attn.hook_pattern": cache["blocks.0.attn.hook_pattern"]}
            ),
        )


def test_path_ablation_into_every_input_leaves_only_the_direct_path():
    """Removing layer 0's writes from all of layer 1's inputs: layer 1 acts as if layer 0 wrote nothing,
    and layer 0's heads still reach the logits directly (no LayerNorm, so it adds up)."""
    m, t = model(), tokens()
    _, clean = m.run_with_cache(t)
    z = clean["blocks.0.attn.hook_z"]  # (batch, pos, head, d_head)
    direct = torch.einsum("bphd,hdm,mv->bpv", z, m.W_O[0], m.W_U)
    no_layer0 = m.run_with_hooks(t, fwd_hooks=[hooks.zero_heads(0, [0, 1, 2])])
    got = I.path_ablation(m, t, layer=0, heads=[0, 1, 2], into="qkv")
    assert torch.allclose(got, no_layer0 + direct, atol=1e-4)
    assert not m.cfg.use_split_qkv_input, "the model is left as it was"


def test_path_ablation_into_keys_changes_only_layer_1_patterns():
    m, t = model(), tokens()
    _, clean = m.run_with_cache(t)
    got_k = I.path_ablation(m, t, layer=0, heads=[1], into="k")
    # the same logits as recomputing layer 1 with keys from the residual minus head 1's output
    written = torch.einsum("bpd,dm->bpm", clean["blocks.0.attn.hook_z"][:, :, 1], m.W_O[0, 1])
    resid = clean["blocks.1.hook_resid_pre"]  # (batch, pos, d_model)
    q = torch.einsum("bpm,hmd->bphd", resid, m.W_Q[1]) + m.b_Q[1]
    k = torch.einsum("bpm,hmd->bphd", resid - written, m.W_K[1]) + m.b_K[1]
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / m.cfg.d_head**0.5
    scores = scores.masked_fill(~torch.ones(8, 8, dtype=torch.bool).tril(), float("-inf"))
    v = torch.einsum("bpm,hmd->bphd", resid, m.W_V[1]) + m.b_V[1]
    z1 = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v)
    want = (resid + torch.einsum("bqhd,hdm->bqm", z1, m.W_O[1]) + m.b_O[1]) @ m.W_U + m.b_U
    assert torch.allclose(got_k, want, atol=1e-4)
    with pytest.raises(ValueError, match="into must name"):
        I.path_ablation(m, t, layer=0, heads=[1], into="x")
    with pytest.raises(ValueError, match="no next layer"):
        I.path_ablation(m, t, layer=1, heads=[1], into="k")
