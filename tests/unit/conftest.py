"""Shared test set-up: every unit test gets its own empty run cache and no progress bar."""

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TOYLAB_CACHE", str(tmp_path / "toylab-cache"))
    monkeypatch.setenv("TOYLAB_PROGRESS", "off")
