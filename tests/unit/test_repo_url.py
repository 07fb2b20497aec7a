"""The repository URL is written in several files; they must agree, and one command sets them all."""

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import set_repo  # noqa: E402


def test_every_file_names_the_same_repository():
    found = set_repo.occurrences()
    silent = [f for f, repos in found.items() if not repos]
    assert not silent, f"these files should name the repository: {silent}"
    repos = set().union(*found.values())
    assert len(repos) == 1, f"the files disagree on the repository: {found}"


def test_set_repo_rewrites_every_occurrence(tmp_path):
    for f in set_repo.FILES:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / f, tmp_path / f)
    before = sum(len(v) for v in set_repo.occurrences(tmp_path).values())
    n = set_repo.set_repo("https://github.com/someone/their-fork.git", tmp_path)
    assert n >= before
    assert set_repo.occurrences(tmp_path) == {f: {"someone/their-fork"} for f in set_repo.FILES}
    text = tmp_path / "README.md"
    assert "colab.research.google.com/github/someone/their-fork/blob/main" in text.read_text()
    with pytest.raises(ValueError, match="expected https://github.com/OWNER/NAME"):
        set_repo.set_repo("git@github.com:someone/fork", tmp_path)
