"""The run cache on its own: keys, digests, checksummed atomic entries, its location."""

import pytest
import torch

from toylab import cache


def test_truncated_and_foreign_files_are_rejected(tmp_path):
    path = tmp_path / "x.pt"
    cache.save_atomic(path, {"a": torch.arange(3)})
    assert torch.equal(cache.load_verified(path)["a"], torch.arange(3))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(cache.CorruptCacheEntry, match="checksum"):
        cache.load_verified(path)
    path.write_bytes(b"hello")
    with pytest.raises(cache.CorruptCacheEntry, match="header"):
        cache.load_verified(path)


def test_config_must_be_plain_data():
    assert cache.config_hash({"b": [1, 2.5], "a": None}) == cache.config_hash(
        {"a": None, "b": [1, 2.5]}
    )
    assert cache.config_hash({"a": 1}) != cache.config_hash({"a": 2})
    with pytest.raises(ValueError, match="plain data"):
        cache.config_hash({"fn": print})


def test_tensor_digest_sees_dtype_size_and_values_but_not_shape():
    x = torch.arange(6)
    digests = {cache.tensor_digest([t]) for t in (x, x.float(), x[:5], x + 1)}
    assert len(digests) == 4
    assert cache.tensor_digest([x]) == cache.tensor_digest([x.clone()])
    assert cache.tensor_digest([x]) == cache.tensor_digest([x.reshape(2, 3)]), (
        "documented: shape not hashed"
    )


def test_cache_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("TOYLAB_CACHE", str(tmp_path / "here"))
    assert cache.cache_dir() == tmp_path / "here"
    monkeypatch.delenv("TOYLAB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "toylab"


def test_memoize_computes_once_per_spec_and_recomputes_a_damaged_entry(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": torch.tensor([float(len(calls))])}

    path, spec = tmp_path / "e.pt", {"a": 1}
    first, hit = cache.memoize(path, spec, compute)
    assert not hit and calls == [1]
    again, hit = cache.memoize(path, spec, compute)
    assert hit and calls == [1] and torch.equal(again["x"], first["x"]) and "spec" not in again
    with pytest.warns(RuntimeWarning, match="different config"):
        _, hit = cache.memoize(path, {"a": 2}, compute)  # same file, another spec
    assert not hit and calls == [1, 1]
    path.write_bytes(path.read_bytes()[:-3])  # truncated
    with pytest.warns(RuntimeWarning, match="checksum"):
        _, hit = cache.memoize(path, {"a": 2}, compute)
    assert not hit and len(calls) == 3


def test_memoize_without_the_cache_neither_reads_nor_writes(tmp_path):
    path = tmp_path / "e.pt"
    cache.memoize(path, {"a": 1}, lambda: {"x": 1})
    out, hit = cache.memoize(path, {"a": 1}, lambda: {"x": 2}, use_cache=False)
    assert out == {"x": 2} and not hit
    assert cache.memoize(path, {"a": 1}, lambda: {"x": 3}) == ({"x": 1}, True)
    cache.memoize(tmp_path / "f.pt", {}, lambda: {"x": 1}, use_cache=False)
    assert not (tmp_path / "f.pt").exists()
