import dataclasses
import math

import pytest
import torch
from torch import nn

from toylab import cache
from toylab.train import TrainConfig, snapshot_schedule, train


def tiny_problem(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    gen = torch.Generator().manual_seed(123)
    X = torch.randn(64, 4, generator=gen)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0).long()
    return model, (X, y)


def loss_fn(model, X, y):
    return nn.functional.cross_entropy(model(X), y)


def accuracy(data):
    X, y = data
    return lambda model: {"acc": (model(X).argmax(-1) == y).float().mean().item()}


CFG = TrainConfig(
    steps=60,
    lr=1e-2,
    weight_decay=0.1,
    warmup_steps=5,
    batch_size=16,
    log_every=10,
    snapshot_steps=(0, 7, 30, 60),
    checkpoint_every=20,
)


def run(cfg=CFG, seed=0, loss=loss_fn, **kw):
    model, data = tiny_problem(seed)
    return train(
        model, data, loss, cfg, evaluate=accuracy(data), name="tiny", config={"v": 1}, **kw
    )


def params(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_same_run(a, b):
    assert a.history == b.history
    assert a.snapshot_steps == b.snapshot_steps
    for step in a.snapshot_steps:
        for k, v in a.state_at(step).items():
            assert torch.equal(v, b.state_at(step)[k])
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k])


def test_training_learns_and_logs():
    r = run()
    assert r.history["step"] == [0, 10, 20, 30, 40, 50, 60]
    assert r.metric("acc")[-1] > r.metric("acc")[0]
    assert r.snapshot_steps == [0, 7, 30, 60]
    assert not r.from_cache


def test_same_seed_same_numbers_and_cache_round_trip():
    first = run()
    again = run(use_cache=False)
    assert_same_run(first, again)
    cached = run()
    assert cached.from_cache
    assert_same_run(first, cached)
    other = run(seed=1, use_cache=False)  # another initialisation: another run
    assert other.history["loss"] != first.history["loss"]


def test_transformer_training_is_bitwise_reproducible():
    """The grokking model's embedding backward accumulates across threads: it must not vary."""
    from toylab import grokking
    from toylab.data import modular_addition_data
    from toylab.grokking import grokking_transformer

    data = modular_addition_data(59, 0.4, seed=0)
    cfg = TrainConfig(steps=15, lr=3e-3, weight_decay=1.0, log_every=5)
    runs = [
        train(grokking_transformer(59, seed=0), data.train, grokking.loss_fn, cfg, use_cache=False)
        for _ in range(2)
    ]
    assert_same_run(*runs)


def test_changed_config_is_a_different_run():
    run()
    other = run(cfg=TrainConfig(**{**CFG.__dict__, "lr": 5e-3}))
    assert not other.from_cache
    other_init = run(seed=1)
    assert not other_init.from_cache


class Interrupt(Exception):
    pass


def dies_after(n_steps):
    """A loss function that raises on its (n_steps + 1)-th call, like a killed kernel."""
    calls = {"n": 0}

    def loss(model, X, y):
        calls["n"] += 1
        if calls["n"] > n_steps:
            raise Interrupt("interrupted")
        return loss_fn(model, X, y)

    return loss


def test_interrupted_run_resumes_to_identical_result(capsys):
    reference = run(use_cache=False)
    assert not any(cache.cache_dir().rglob("*")), "use_cache=False writes nothing"
    with pytest.raises(Interrupt, match="interrupted"):
        run(loss=dies_after(45))
    (folder,) = cache.cache_dir().iterdir()
    assert [p.name for p in folder.iterdir()] == ["checkpoint.pt"]  # no finished entry yet
    resumed = run()
    assert "resuming from step 40" in capsys.readouterr().out
    assert_same_run(reference, resumed)
    assert [p.name for p in folder.iterdir()] == ["run.pt"]  # saved, then the checkpoint goes


def test_weight_decay_stops_at_weight_decay_until():
    # zero gradients: AdamW's only change is the decoupled decay w <- w (1 - lr wd)
    model = nn.Linear(1, 1, bias=False)
    w0 = float(model.weight.detach())
    cfg = TrainConfig(
        steps=10, lr=0.1, weight_decay=0.5, weight_decay_until=4, snapshot_steps=(4, 10)
    )
    r = train(model, (torch.ones(2, 1),), lambda m, X: 0 * m(X).sum(), cfg, use_cache=False)
    for step in (4, 10):
        assert float(r.state_at(step)["weight"]) == pytest.approx(w0 * 0.95**4, rel=1e-6)


def test_run_that_stops_its_weight_decay_resumes_to_identical_result():
    cfg = dataclasses.replace(CFG, weight_decay_until=25)
    reference = run(cfg, use_cache=False)
    with pytest.raises(Interrupt, match="interrupted"):
        run(cfg, loss=dies_after(45))
    assert_same_run(reference, run(cfg))
    assert not torch.equal(
        run(CFG, use_cache=False).model.state_dict()["0.weight"],
        reference.model.state_dict()["0.weight"],
    ), "stopping the decay changes the run"


def test_corrupt_entry_is_detected_and_retrained():
    first = run()
    path = first.path / "run.pt"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.warns(RuntimeWarning, match="checksum mismatch"):
        again = run()
    assert not again.from_cache
    assert_same_run(first, again)
    assert run().from_cache  # the retrained entry was written back


def test_entry_for_another_config_is_not_used():
    first = run()
    entry = cache.load_verified(first.path / "run.pt")
    entry["spec"] = {**entry["spec"], "config": {"v": 999}}
    cache.save_atomic(first.path / "run.pt", entry)
    with pytest.warns(RuntimeWarning, match="different config"):
        assert not run().from_cache


def test_missing_snapshot_is_a_clear_key_error():
    r = run()
    with pytest.raises(KeyError, match=r"step 8 was not snapshotted.*\[0, 7, 30, 60\]"):
        r.model_at(8)
    with pytest.raises(KeyError, match="no metric"):
        r.metric("nope")


@pytest.mark.parametrize(
    "bad",
    [
        dict(steps=0),
        dict(steps=10, lr=0),
        dict(steps=10, batch_size=0),
        dict(steps=10, snapshot_steps=(11,)),
        dict(steps=10, betas=(0.9, 1.0)),
        dict(steps=10, lr_decay="linear"),
        dict(steps=10, weight_decay_until=-1),
        dict(steps=10, weight_decay=(0.1, 0.2), weight_decay_until=5),
    ],
)
def test_bad_train_config(bad):
    with pytest.raises(ValueError, match="bad TrainConfig"):
        TrainConfig(**bad)


def test_learning_rate_schedule():
    from toylab.train import lr_factor

    warm = TrainConfig(steps=100, warmup_steps=4)
    assert [lr_factor(warm, s) for s in (0, 1, 3, 50, 99)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    cos = TrainConfig(steps=100, lr_decay="cosine")
    assert lr_factor(cos, 0) == 1.0 and lr_factor(cos, 50) == pytest.approx(0.5)
    assert lr_factor(cos, 99) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.99)))


def test_sampler_data_draws_fresh_batches_and_resumes():
    """data may be a sampler: a fresh batch per step from the loop's seeded generator."""

    def sample(gen):
        X = torch.randn(32, 4, generator=gen)
        return X, (X[:, 0] > 0).long()

    model, _ = tiny_problem()
    reference = train(model, sample, loss_fn, CFG, name="sampled", config={"v": 1}, use_cache=False)
    with pytest.raises(Interrupt, match="interrupted"):
        train(tiny_problem()[0], sample, dies_after(45), CFG, name="sampled", config={"v": 1})
    resumed = train(tiny_problem()[0], sample, loss_fn, CFG, name="sampled", config={"v": 1})
    assert_same_run(reference, resumed)


def test_a_sampler_that_takes_the_step_follows_its_schedule_and_resumes():
    """data(gen, step): a data schedule (here: labels flip from step 30 on), resumable."""
    seen = []

    def sample(gen, step):
        seen.append(step)
        X = torch.randn(32, 4, generator=gen)
        y = (X[:, 0] > 0).long()
        return X, (2 - y if step >= 30 else y)

    def fresh_run(loss=loss_fn, use_cache=True):
        return train(
            tiny_problem()[0],
            sample,
            loss,
            CFG,
            name="scheduled",
            config={"flip": 30},
            use_cache=use_cache,
        )

    reference = fresh_run(use_cache=False)
    assert seen[:2] == [0, 1] and seen[2:] == list(range(CFG.steps + 1))  # key probe, then the loop
    X = torch.randn(256, 4, generator=torch.Generator().manual_seed(5))
    flipped = (2 - (X[:, 0] > 0).long()) == reference.model(X).argmax(-1)
    assert flipped.float().mean() > 0.9  # it learned the labels of the schedule's second part
    with pytest.raises(Interrupt, match="interrupted"):
        fresh_run(loss=dies_after(45))
    seen.clear()
    resumed = fresh_run()
    assert seen[2] == 40  # resumed at its checkpoint, with the step the schedule needs
    assert_same_run(reference, resumed)


def test_snapshot_schedule():
    s = snapshot_schedule(1000, n_log=10, n_linear=4)
    assert s[0] == 0 and s[-1] == 1000 and list(s) == sorted(set(s))
    assert {1, 250, 500, 750}.issubset(s)


def test_a_minibatch_takes_the_same_rows_of_every_tensor():
    X = torch.arange(50.0)[:, None]
    seen = []

    def loss(model, X, y):
        seen.append(torch.equal(X[:, 0].long(), y))
        return model(X).pow(2).mean()

    model = nn.Linear(1, 1)
    train(model, [X, torch.arange(50)], loss, TrainConfig(steps=5, batch_size=8), use_cache=False)
    assert seen and all(seen)


def test_cold_and_cached_runs_leave_torch_in_the_same_state():
    torch.use_deterministic_algorithms(False)
    cold = run()
    after_cold = (torch.get_rng_state(), torch.are_deterministic_algorithms_enabled())
    torch.manual_seed(999)  # whatever the cells before did
    torch.use_deterministic_algorithms(False)
    warm = run()
    assert warm.from_cache and not cold.from_cache
    assert torch.equal(torch.get_rng_state(), after_cold[0])
    assert torch.are_deterministic_algorithms_enabled() and after_cold[1]


def test_the_device_is_chosen_by_the_caller_and_the_model_comes_back_on_the_cpu(monkeypatch):
    """Without a GPU the two ends of a move are told apart by device index: "cpu:0" is not "cpu"."""
    import toylab.train as T

    events, real_move, real_fit = [], T.move_quietly, T._fit

    def move(model, device):
        events.append(("move", torch.device(device)))
        real_move(model, device)

    def fit(*args, **kw):
        events.append(("fit",))
        return real_fit(*args, **kw)

    monkeypatch.setattr(T, "move_quietly", move)
    monkeypatch.setattr(T, "_fit", fit)
    r = run(device="cpu:0", use_cache=False)
    assert r.spec["device"] == "cpu"
    trained_at = torch.device("cpu", 0)
    assert events[0] == ("move", trained_at)  # the caller's device, not the default
    assert events[1] == ("fit",)  # trained there
    assert events[-1] == ("move", torch.device("cpu"))  # and handed back on the CPU, after
    assert {p.device for p in r.model.parameters()} == {torch.device("cpu")}
    with pytest.raises(RuntimeError, match="device"):
        run(device="no-such-device", use_cache=False)
