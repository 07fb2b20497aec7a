"""The run cache: trained runs on disk, keyed by a hash of everything that made them.

A chapter that is run twice should not train twice, and a run that was
interrupted should resume. Entries are written atomically (temporary file, then
rename) behind a header holding the SHA-256 of the payload, so a truncated or
corrupted file is detected on load instead of being used.

The location is ``$TOYLAB_CACHE`` if set, else ``$XDG_CACHE_HOME/toylab``,
else ``~/.cache/toylab``. :func:`memoize` is the one lookup: :func:`toylab.train.train`
and :func:`toylab.learning_coefficient.estimate_llc` both go through it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

CACHE_ENV = "TOYLAB_CACHE"
MAGIC = b"toylab-cache v1\n"  # first line of every entry; bump to invalidate all


class CorruptCacheEntry(Exception):
    """A cache file exists but cannot be trusted (bad header, checksum, or pickle).

    Taught in: grokking §3; used in every chapter, through ``train.train``.
    """


def cache_dir() -> Path:
    """Where runs are cached: ``$TOYLAB_CACHE``, else the user's cache folder.

    Taught in: grokking §3; used in every chapter, through ``train.train``.
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "toylab"


def config_hash(spec: Any) -> str:
    """Stable short hash of plain data (dicts, lists, numbers, strings).

    Taught in: grokking §3; used in every chapter, through ``train.train``.
    """
    try:
        text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    except TypeError as err:
        raise ValueError(
            f"a run's config must be plain data (dict/list/str/number/bool/None): {err}"
        ) from None
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def tensor_digest(tensors: Iterable[Tensor]) -> str:
    """SHA-256 over the dtypes, element counts and bytes of some tensors.

    A tensor's shape is not hashed, only its number of elements (``t.reshape(-1)``
    comes first): changing that now would change every run's cache key.

    Taught in: grokking §3; used in every chapter, through ``train.train``.
    """
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous().reshape(-1)
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def save_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` with ``torch.save`` behind a checksum header, atomically.

    Taught in: grokking §3; used in every chapter, through ``train.train``.
    """
    buf = io.BytesIO()
    torch.save(obj, buf)
    payload = buf.getvalue()
    header = MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(header + payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_verified(path: Path) -> Any:
    """Load what :func:`save_atomic` wrote; raise :class:`CorruptCacheEntry` if it is damaged.

    Raises ``FileNotFoundError`` if there is no file.

    Taught in: grokking §3; used in every chapter, through ``train.train``.
    """
    raw = Path(path).read_bytes()
    if not raw.startswith(MAGIC):
        raise CorruptCacheEntry(f"{path}: not a toylab cache file (bad header)")
    digest, sep, payload = raw[len(MAGIC) :].partition(b"\n")
    if not sep or hashlib.sha256(payload).hexdigest().encode() != digest:
        raise CorruptCacheEntry(f"{path}: checksum mismatch (truncated or corrupted)")
    try:
        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as err:  # a valid checksum over an unreadable pickle
        raise CorruptCacheEntry(f"{path}: cannot be unpickled: {err}") from None


def load_entry(path: Path, spec: dict, stacklevel: int = 2) -> dict | None:
    """The entry at ``path`` if it was made from ``spec``; None if it is missing.

    A damaged entry, or one made from another spec, is deleted with a warning (it
    would be recomputed under the same name), and None returned; ``stacklevel`` says
    whose line the warning names (2: the caller's).

    Taught in: grokking §3; used in every chapter, through ``train.train``.
    """
    try:
        entry = load_verified(path)
    except FileNotFoundError:
        return None
    except CorruptCacheEntry as err:
        reason = str(err)
    else:
        if isinstance(entry, dict) and entry.get("spec") == spec:
            return entry
        reason = "it was made from a different config"
    warnings.warn(
        f"ignoring cache entry {path}: {reason}; computing it again",
        RuntimeWarning,
        stacklevel=stacklevel,
    )
    path.unlink(missing_ok=True)
    return None


def memoize(
    path: Path, spec: dict, compute: Callable[[], dict], use_cache: bool = True
) -> tuple[dict, bool]:
    """``(result, from_cache)``: the result cached at ``path`` for ``spec``, or ``compute()``'s.

    ``compute()`` returns a dict of what to keep (tensors and plain data: entries load
    with ``weights_only``); it is saved as ``{"spec": spec, **result}`` so a later call
    with the same spec loads it. ``use_cache=False`` computes without reading or writing.

    Taught in: grokking §3; used in every chapter, through ``train.train``.
    """
    # stacklevel 4: the warning names the line that called train or estimate_llc
    if use_cache and (entry := load_entry(path, spec, stacklevel=4)) is not None:
        return {k: v for k, v in entry.items() if k != "spec"}, True
    result = compute()
    if "spec" in result:
        raise ValueError("a cached result cannot hold a key named 'spec'")
    if use_cache:
        save_atomic(path, {"spec": spec, **result})
    return result, False
