"""The lock installs on a reader's machine: it resolves from the public index alone.

``requirements.txt`` is resolved by ``uv pip compile`` for each platform and Python the README
names, with no configuration (so none of this machine's local wheels or mirrors): every pinned
version must exist there with a wheel (or source) for that platform. This needs the network;
it does not install anything.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.txt"
PLATFORMS = {  # uv's name -> the README's name
    "x86_64-manylinux_2_28": "Linux x86-64",
    "aarch64-manylinux_2_28": "Linux aarch64",
    "aarch64-apple-darwin": "macOS arm64 (14+)",
    "x86_64-pc-windows-msvc": "Windows x86-64",
}
PYTHONS = ["3.11", "3.12", "3.13"]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)", re.MULTILINE)


def uv() -> str:
    exe = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if exe is None:
        pytest.fail("uv is not installed (it is in requirements.txt)")
    return exe


def resolve(lock: Path, platform: str, python: str) -> subprocess.CompletedProcess:
    """``uv pip compile`` of ``lock`` for one platform and Python, from the public index only."""
    return subprocess.run(
        [
            uv(),
            "pip",
            "compile",
            str(lock),
            "--python-platform",
            platform,
            "--python-version",
            python,
            "--no-config",  # no uv.toml; uv reads no pip.conf, so no local find-links either
            "--no-python-downloads",
            "--index-url",
            "https://pypi.org/simple",
            "--no-header",
            "--no-annotate",
            "--quiet",
            "-o",
            os.devnull,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "MACOSX_DEPLOYMENT_TARGET": "14.0"},  # torch 2.13's oldest Mac wheel
        timeout=300,
    )


def test_the_lock_pins_no_local_build():
    local = [f"{n}=={v}" for n, v in PIN.findall(LOCK.read_text()) if "+" in v]
    assert not local, f"the public index has no build with a local label: {local}"


def test_the_lock_leaves_torchs_cuda_libraries_to_torch():
    cuda = [n for n, _ in PIN.findall(LOCK.read_text()) if re.match(r"nvidia-|cuda-|triton$", n)]
    assert not cuda, (
        f"these would install GBs beside a CPU torch; `make lock` leaves them out: {cuda}"
    )


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("platform", PLATFORMS, ids=PLATFORMS.get)
def test_the_lock_resolves_from_the_public_index(platform, python):
    proc = resolve(LOCK, platform, python)
    assert proc.returncode == 0, (
        f"requirements.txt does not resolve on {PLATFORMS[platform]}, Python {python} "
        f"(this test needs the public package index):\n{proc.stderr[-3000:]}"
    )


def test_a_local_build_does_not_resolve(tmp_path):
    """The check can fail: the lock as it was (torch's CPU build label) does not resolve."""
    torch = next(f"{n}=={v}" for n, v in PIN.findall(LOCK.read_text()) if n == "torch")
    planted = tmp_path / "requirements.txt"
    planted.write_text(f"{torch}+cpu\n")
    proc = resolve(planted, "x86_64-manylinux_2_28", "3.11")
    assert proc.returncode != 0 and "torch" in proc.stderr


def test_the_ranges_colab_installs_admit_the_locked_versions():
    """pyproject.toml's ranges (what Colab installs) contain the versions CI tests (the lock)."""
    import tomllib

    from packaging.requirements import Requirement

    pins = {n.lower().replace("_", "-"): v for n, v in PIN.findall(LOCK.read_text())}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = [Requirement(d) for d in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        deps += [Requirement(d) for d in extra]
    for req in deps:
        version = pins[req.name.lower().replace("_", "-")]
        assert req.specifier.contains(version, prereleases=True), (
            f"{req} excludes the lock's {version}"
        )
    tl = next(r for r in deps if r.name == "transformer-lens")
    # toylab.bridge patches 4.3's private internals: Colab must not take a 4.4 that CI never ran
    assert not tl.specifier.contains("4.4.0"), f"{tl} admits 4.4"
