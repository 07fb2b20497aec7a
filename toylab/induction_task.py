"""The induction task that three chapters share: its data, its model, its training run, its scores.

The induction-heads chapter (``notebooks/induction_heads.py``) teaches all of it; the
learning-coefficient chapter measures the same runs again, so both call
:func:`train_model` here and get the same cache entry: a run trained by one chapter is
loaded by the other. Change anything a run depends on and bump ``VERSION``.

Training sequences are random tokens whose first S tokens repeat right after them
(S random per sequence); the test sequences are ``PERIOD`` random tokens repeated
four times. Attention patterns follow TransformerLens: ``pattern[batch, head, query,
key]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from toylab.heads import check_pattern, previous_token_scores
from toylab.train import Run, TrainConfig, snapshot_schedule, train

N_VOCAB, N_CTX, BATCH = 64, 32, 32  # vocabulary, context, sequences per step
N_HEADS, D_MODEL, D_HEAD = 4, 64, 16  # per layer; the main model has 2 layers
STEPS, LR = 1500, 3e-3  # Adam steps and learning rate
PERIOD = 8  # test sequences: 8 random tokens repeated 4 times
VERSION = 4  # part of every run's cache key (4: scores log the copy accuracy on COPY_TOKENS)


def repeated_random_tokens(
    batch: int,
    length: int,
    d_vocab: int,
    repeats: int = 2,
    generator: torch.Generator | None = None,
    bos: int | None = None,
) -> Tensor:
    """Random tokens of ``length`` repeated ``repeats`` times, after an optional BOS: (batch, [1 +] length·repeats).

    Olsson et al.'s prefix-matching test uses 25 tokens x 4 repeats after a BOS.

    Taught in: induction_heads §1; learning_coefficient §2, through ``scores``.
    """
    if min(batch, length, d_vocab, repeats) < 1:
        raise ValueError("batch, length, d_vocab and repeats must be positive")
    block = torch.randint(d_vocab, (batch, length), generator=generator)
    tokens = block.repeat(1, repeats)
    if bos is not None:
        tokens = torch.cat([torch.full((batch, 1), bos), tokens], dim=1)
    return tokens


def repeated_subsequence_tokens(
    batch: int, n_ctx: int, d_vocab: int, generator: torch.Generator | None = None, min_len: int = 4
) -> tuple[Tensor, Tensor]:
    """Training sequences: random tokens whose first S repeat right after them, S random per sequence.

    A random repeat length S (from ``min_len`` to ``n_ctx // 2``) keeps a model from
    finding the repeat by position alone. Returns ``tokens`` (batch, n_ctx) and
    ``predictable`` (batch, n_ctx − 1): True where the *next* token can be
    predicted by copying, i.e. the targets at positions S + 1 .. 2S − 1.

    Taught in: induction_heads §1; learning_coefficient §2, through ``scores``.
    """
    if not 1 <= min_len <= n_ctx // 2:
        raise ValueError(f"min_len must lie in [1, n_ctx // 2 = {n_ctx // 2}], got {min_len}")
    tokens = torch.randint(d_vocab, (batch, n_ctx), generator=generator)
    L = torch.randint(min_len, n_ctx // 2 + 1, (batch, 1), generator=generator)
    pos = torch.arange(n_ctx)
    in_repeat = (pos >= L) & (pos < 2 * L)  # (batch, n_ctx)
    tokens = tokens.gather(1, torch.where(in_repeat, pos - L, pos))
    target = pos[1:]
    predictable = (target >= L + 1) & (target < 2 * L)  # (batch, n_ctx - 1)
    return tokens, predictable


def per_token_loss(logits: Tensor, tokens: Tensor) -> Tensor:
    """Cross-entropy of predicting token t + 1 at position t: (batch, n_ctx − 1).

    Taught in: induction_heads §1; learning_coefficient §2, through ``scores``.
    """
    log_probs = logits[:, :-1].log_softmax(-1)
    return -log_probs.gather(-1, tokens[:, 1:, None].to(logits.device))[..., 0]


def icl_score(loss: Tensor, period: int) -> float:
    """In-context-learning score on sequences repeated with ``period``: first-copy loss minus later-copies loss.

    Olsson et al. take the loss late in the context minus early in the context;
    on repeated random tokens the late tokens are the later copies, so this is
    how much having seen the first copy helps (in nats; larger is more ICL).
    ``loss`` is :func:`per_token_loss`, (batch, n_ctx − 1). Targets 1 .. period − 1
    form the first copy; from target period + 1 on every token can be copied
    (target ``period``, the first token of the second copy, cannot).

    Taught in: induction_heads §1; learning_coefficient §2, through ``scores``.
    """
    if loss.shape[-1] < period + 1:
        raise ValueError(f"{loss.shape[-1] + 1} tokens do not hold two copies of period {period}")
    first = loss[:, : period - 1]  # targets 1 .. period-1
    later = loss[:, period:]  # targets period+1 .. end
    return float(first.mean().detach() - later.mean().detach())


def copy_accuracy(logits: Tensor, tokens: Tensor, period: int, offset: int = 0) -> float:
    """Top-1 copy accuracy: the share of copyable targets whose most likely token is the right one.

    ``tokens`` (batch, n_ctx) repeat a block of ``period`` tokens from position
    ``offset`` on; the targets from ``offset + period + 1`` to the end can be found by
    copying (as for :func:`icl_score`, with ``offset`` 0). Compare it with
    :func:`bag_of_tokens_null` and :func:`toylab.induction_heads.recency_null`.

    Taught in: induction_heads §1 and §2; learning_coefficient prints it.
    """
    start = offset + period
    if tokens.shape[-1] < start + 2:
        raise ValueError(f"{tokens.shape[-1]} tokens hold no copyable target for period {period}")
    guess = logits[:, start:-1].argmax(-1).cpu()  # predicts targets start+1 .. end
    return float((guess == tokens[:, start + 1 :].cpu()).float().mean())


def _check_blocks(tokens: Tensor, start: int) -> None:
    if tokens.ndim != 2 or tokens.shape[-1] < start + 2:
        raise ValueError(
            f"expected (batch, n_ctx >= {start + 2}) tokens, got {tuple(tokens.shape)}"
        )


def bag_of_tokens_null(
    tokens: Tensor, period: int, d_vocab: int, offset: int = 0
) -> dict[str, float]:
    """ICL score and copy accuracy of a predictor that copies without an induction head.

    It knows which tokens it has seen but not their order: on the first copy it
    predicts uniformly over the vocabulary (loss ln ``d_vocab``), on the later copies
    uniformly over the distinct tokens seen so far (the current one included), so
    its loss there is ln(number seen) and its top-1 accuracy 1 / (number seen). Any
    attention head that spreads over the past and copies can do this; an ICL
    score or a copy accuracy is evidence of induction only above it. Returns
    ``{"icl": nats, "copy": accuracy}`` on ``tokens`` (batch, n_ctx), a block of
    ``period`` repeated from position ``offset`` on (as for :func:`copy_accuracy`).

    Taught in: induction_heads §1.
    """
    start = offset + period
    _check_blocks(tokens, start)
    seen = torch.nn.functional.one_hot(tokens, d_vocab).cummax(dim=1).values  # (b, n_ctx, vocab)
    n_seen = seen.sum(-1)[:, start:-1].double()  # seen when predicting targets start+1 ..
    later = n_seen.log().mean()
    return {"icl": math.log(d_vocab) - float(later), "copy": float((1 / n_seen).mean())}


def prefix_matching_scores(pattern: Tensor, period: int, offset: int = 0) -> Tensor:
    """Mean attention to the tokens right after earlier copies of the current token, per head.

    For sequences that repeat with ``period`` starting at position ``offset``
    (1 after a BOS), the query at position i (from the second copy on) should
    attend to the keys i − m·period + 1 (m = 1, 2, ...): the successors of the
    current token's earlier occurrences. The attention on all of them is summed
    (with two copies there is one), then averaged over queries. Returns (n_heads,).

    Taught in: induction_heads §1; learning_coefficient §2, through ``scores``.
    """
    check_pattern(pattern)
    n_pos = pattern.shape[-1]
    if not 1 <= period < n_pos - offset:
        raise ValueError(f"period {period} does not fit {n_pos} positions after offset {offset}")
    q, k = torch.arange(n_pos)[:, None], torch.arange(n_pos)[None, :]
    lag = q - k + 1  # key k = q - m * period + 1  <=>  lag = m * period
    targets = (lag > 0) & (lag % period == 0) & (k > offset)  # (query, key)
    on_target = (pattern * targets.to(pattern)).sum(-1)  # (batch, head, query)
    return on_target[..., offset + period :].mean(dim=(0, -1))


def model_config(n_layers: int) -> dict:
    """The chapter's attention-only transformer: ``n_layers`` layers of 4 heads, no MLP, no LayerNorm.

    Pass it to :func:`toylab.models.build_transformer`.

    Taught in: induction_heads §1.
    """
    return dict(
        n_layers=n_layers,
        d_model=D_MODEL,
        d_head=D_HEAD,
        n_heads=N_HEADS,
        d_vocab=N_VOCAB,
        n_ctx=N_CTX,
        attn_only=True,
        normalization_type=None,
    )


def sample(gen: torch.Generator) -> tuple[Tensor]:
    """A fresh training batch, (BATCH, N_CTX), from the training loop's seeded generator.

    Taught in: induction_heads §1.
    """
    tokens, _ = repeated_subsequence_tokens(BATCH, N_CTX, N_VOCAB, generator=gen)
    return (tokens,)


def lm_loss(model: nn.Module, tokens: Tensor) -> Tensor:
    """Next-token cross-entropy, averaged over the batch and positions.

    Taught in: induction_heads §1.
    """
    return model(tokens, return_type="loss")


# (64, N_CTX): the fixed test sequences every score but the copy accuracy is measured on
TEST_TOKENS = repeated_random_tokens(
    64, PERIOD, N_VOCAB, repeats=N_CTX // PERIOD, generator=torch.Generator().manual_seed(3)
)
# (64, N_CTX): the copy accuracy's: COPY_OFFSET filler tokens, then a block of PERIOD tokens
# repeated; the 16 are distinct within a sequence, so the token seen least recently is
# filler, never the one to copy (toylab.induction_heads.recency_null scores 0)
COPY_OFFSET = PERIOD
_distinct = torch.stack(
    [torch.randperm(N_VOCAB, generator=torch.Generator().manual_seed(4 + i)) for i in range(64)]
)[:, : 2 * PERIOD]
COPY_TOKENS = torch.cat(
    [_distinct[:, :PERIOD], _distinct[:, PERIOD:].repeat(1, (N_CTX - COPY_OFFSET) // PERIOD)], dim=1
)


def scores(model: nn.Module, fwd_hooks: Sequence[tuple[str, Callable]] = ()) -> dict[str, float]:
    """ICL score and head scores on ``TEST_TOKENS``; copy accuracy on ``COPY_TOKENS``.

    Keys: ``"icl"``, ``"copy"``, ``"prev L{layer}H{head}"``, ``"prefix L{layer}H{head}"``. The hooks
    apply while scoring (a clamped run is scored with its clamp).

    Taught in: induction_heads §1.
    """
    with model.hooks(fwd_hooks=list(fwd_hooks)):
        logits, cache = model.run_with_cache(
            TEST_TOKENS, names_filter=lambda n: n.endswith("hook_pattern")
        )
        copy_logits = model(COPY_TOKENS)
    out = {
        "icl": icl_score(per_token_loss(logits, TEST_TOKENS), PERIOD),
        "copy": copy_accuracy(copy_logits, COPY_TOKENS, PERIOD, COPY_OFFSET),
    }
    for layer in range(model.cfg.n_layers):
        pattern = cache[f"blocks.{layer}.attn.hook_pattern"]  # (batch, head, q, k)
        prev = previous_token_scores(pattern)
        prefix = prefix_matching_scores(pattern, PERIOD)
        for h in range(model.cfg.n_heads):
            out[f"prev L{layer}H{h}"] = float(prev[h])
            out[f"prefix L{layer}H{h}"] = float(prefix[h])
    return out


def train_model(
    name: str,
    model: nn.Module,
    *,
    seed: int,
    loss: Callable[..., Tensor] = lm_loss,
    fwd_hooks: Sequence[tuple[str, Callable]] = (),
    steps: int = STEPS,
) -> Run:
    """Train on the induction task with the chapter's settings, or load the run from the cache.

    Adam at ``LR``, scores (:func:`scores`, with ``fwd_hooks``) every 25 steps, 40
    snapshots. The hooks also apply when scoring; ``loss`` may add them to training.

    Taught in: induction_heads §2; learning_coefficient §2 loads the same runs.
    """
    return train(
        model,
        sample,
        loss,
        TrainConfig(
            steps=steps,
            lr=LR,
            seed=seed,
            log_every=25,
            snapshot_steps=snapshot_schedule(steps, n_log=10, n_linear=30),
        ),
        evaluate=lambda m: scores(m, fwd_hooks),
        name=name,
        config={
            "task": "repeated-subsequences",
            "n_ctx": N_CTX,
            "batch": BATCH,
            "model": model.cfg.n_layers,
            "hooks": [h[0] for h in fwd_hooks],
            "v": VERSION,
        },
    )
