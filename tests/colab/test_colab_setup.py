"""The chapters' Colab set-up cell, run as on Colab: it installs toylab and leaves Colab's torch alone.

Colab comes with its own torch (often a different version from the lock's); reinstalling it
would take minutes and could break the runtime's CUDA build. The cell must install ``toylab``
around it. This test builds that situation on a CPU machine:

1. a fresh virtual environment with torch preinstalled and its version rewritten to a
   stand-in for Colab's (``2.6.0+colab``: an old version inside ``pyproject.toml``'s range);
2. ``google.colab`` present in ``sys.modules``;
3. the chapters' set-up cell, with the GitHub URL replaced by this checkout.

It then checks that torch's version is unchanged and that the chapters' imports work. It
installs toylab's dependencies into the new environment, so it takes a few minutes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COLAB_TORCH = "2.6.0+colab"


def setup_cells() -> dict[str, str]:
    """Each chapter's set-up cell: the one that checks for google.colab."""
    cells = {}
    for path in sorted((ROOT / "notebooks").glob("*.py")):
        for cell in path.read_text().split("# %%"):
            if "google.colab" in cell and "sys.modules" in cell:
                cells[path.stem] = cell.strip()
    return cells


def test_every_chapter_has_the_same_short_setup_cell():
    cells = setup_cells()
    assert len(cells) == len(list((ROOT / "notebooks").glob("*.py")))
    assert len(set(cells.values())) == 1, "the chapters' set-up cells differ"
    cell = next(iter(cells.values()))
    assert len(cell.splitlines()) <= 6, f"the set-up cell should stay short:\n{cell}"
    assert "torch" not in cell, "the set-up cell must not touch Colab's torch"


def run(python: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), *args], check=True, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def colab(tmp_path_factory) -> Path:
    """A fresh environment holding only a torch that pretends to be Colab's."""
    env_dir = tmp_path_factory.mktemp("colab") / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / ("Scripts" if os.name == "nt" else "bin") / "python"
    torch_pin = next(
        line.split()[0]
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.startswith("torch==")
    )
    run(python, "-m", "pip", "install", "-q", torch_pin)
    # rewrite the installed version: pip and importlib.metadata read it from METADATA
    site = Path(
        run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        ).stdout.strip()
    )
    metadata = next(site.glob("torch-*.dist-info")) / "METADATA"
    text = re.sub(
        r"^Version: .*$", f"Version: {COLAB_TORCH}", metadata.read_text(), count=1, flags=re.M
    )
    metadata.write_text(text)
    return python


def torch_version(python: Path) -> str:
    return run(
        python, "-c", "import importlib.metadata as m; print(m.version('torch'))"
    ).stdout.strip()


def test_the_setup_cell_installs_toylab_and_keeps_colabs_torch(colab, tmp_path):
    assert torch_version(colab) == COLAB_TORCH
    # a copy of the package's sources, so that building it leaves nothing in the checkout
    source = tmp_path / "toylab-src"
    shutil.copytree(
        ROOT / "toylab", source / "toylab", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    cell = next(iter(setup_cells().values()))
    local = re.sub(r'url = ".*"', f'url = "toylab @ {source.as_uri()}"', cell)
    assert local != cell, "the set-up cell should name the package URL in one `url = ...` line"
    script = (
        "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n"
        + local
    )
    run(colab, "-c", script, timeout=1500)
    assert torch_version(colab) == COLAB_TORCH, "the set-up cell reinstalled torch"
    imports = "import toylab.grokking, toylab.induction_heads, toylab.ode_circuits, toylab.train; print('ok')"
    assert run(colab, "-c", imports).stdout.strip() == "ok"


def installs_attempted(cell: str, cwd: Path, on_colab: bool) -> int:
    """Run the set-up cell with ``subprocess.run`` recorded instead of run; return how many calls."""
    fake_colab = (
        "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n"
    )
    record = "import subprocess\ncalls = []\nsubprocess.run = lambda *a, **k: calls.append(a)\n"
    script = (fake_colab if on_colab else "") + record + cell + "\nprint(len(calls))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    return int(out.stdout.strip())


def test_outside_colab_the_cell_does_nothing(tmp_path):
    cell = next(iter(setup_cells().values()))
    assert installs_attempted(cell, tmp_path, on_colab=False) == 0
    # the control: the same harness sees the install the cell makes on Colab
    assert installs_attempted(cell, tmp_path, on_colab=True) == 1
