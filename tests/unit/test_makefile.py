"""The Makefile's install step: which Python it takes, and its refusal of an old one.

Runs make against a stand-in ``.venv`` in a temporary folder, with only stand-in interpreters on
the ``PATH`` (the recipes need nothing else: the shell's builtins and ``/bin/sh``).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or os.name == "nt", reason="needs make and a POSIX sh"
)


def fake_python(bin_dir: Path, name: str, ok: bool) -> None:
    """A stand-in interpreter: the real one if ``ok``, else one that fails the version check."""
    path = bin_dir / name
    path.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n' if ok else "#!/bin/sh\nexit 1\n")
    path.chmod(0o755)


def make(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": str(tmp_path / "bin")}
    env.pop("PYTHON", None)
    return subprocess.run(
        [shutil.which("make"), "-C", str(ROOT), f"VENV={tmp_path / 'venv'}", *args],
        capture_output=True,
        text=True,
        env=env,
    )


@pytest.fixture
def bin_dir(tmp_path):
    (tmp_path / "bin").mkdir()
    return tmp_path / "bin"


def test_it_takes_the_newest_python_that_is_new_enough(tmp_path, bin_dir):
    stamp = f"{tmp_path / 'venv'}/.installed"
    fake_python(bin_dir, "python3.13", ok=False)  # too old, or a pyenv shim that does not run
    fake_python(bin_dir, "python3.12", ok=True)
    fake_python(bin_dir, "python3", ok=True)
    out = make(tmp_path, "-n", stamp)
    assert f"python3.12 -m venv {tmp_path / 'venv'}" in out.stdout, out.stdout + out.stderr
    fake_python(bin_dir, "python3.12", ok=False)
    out = make(tmp_path, "-n", stamp)
    assert f"python3 -m venv {tmp_path / 'venv'}" in out.stdout, out.stdout + out.stderr


def test_it_stops_with_a_message_when_no_python_is_new_enough(tmp_path, bin_dir):
    for name in ("python3.13", "python3.12", "python3.11", "python3", "python"):
        fake_python(bin_dir, name, ok=False)  # as on a Mac, whose python3 is 3.9
    out = make(tmp_path, f"{tmp_path / 'venv'}/.installed")
    assert out.returncode != 0
    assert "toylab needs Python 3.11 or newer" in out.stdout + out.stderr
    assert not (tmp_path / "venv").exists()
