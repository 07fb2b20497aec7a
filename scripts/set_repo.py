"""Point the book at another GitHub repository: ``make set-repo URL=https://github.com/OWNER/NAME``.

The repository is written in several places: the Colab set-up cell of every chapter (pip installs
``toylab`` from it), the Colab link in the README, the book's repository button (``_config.yml``)
and the package's homepage (``pyproject.toml``). This rewrites every one of them, then the
chapters' ``.ipynb`` twins are re-synced by the Makefile. ``tests/unit/test_repo_url.py`` fails
if they disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# every file that names the repository, and the pattern that finds it there
FILES = [
    "README.md",
    "_config.yml",
    "pyproject.toml",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.py")),
]
# github.com/OWNER/NAME, or Colab's colab.research.google.com/github/OWNER/NAME (not the
# TransformerLens repository, which the bibliography cites, nor the README's OWNER/NAME placeholder)
REPO = re.compile(
    r"(github\.com/|google\.com/github/)(?!TransformerLensOrg/|OWNER/)([\w.-]+/[\w.-]+?)(?=[/\"'\s)`]|$)",
    re.M,
)


def occurrences(root: Path = ROOT) -> dict[str, set[str]]:
    """``{file: {"owner/name", ...}}`` for every file that should name the repository."""
    return {f: {m.group(2) for m in REPO.finditer((root / f).read_text())} for f in FILES}


def set_repo(url: str, root: Path = ROOT) -> int:
    """Rewrite every occurrence to ``url``'s owner/name; returns how many were replaced."""
    m = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)(\.git)?/?", url.strip())
    if not m:
        raise ValueError(f"expected https://github.com/OWNER/NAME, got {url!r}")
    new, count = m.group(1), 0
    for f in FILES:
        path = root / f
        text, n = REPO.subn(lambda m: m.group(1) + new, path.read_text())
        path.write_text(text)
        count += n
    return count


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/set_repo.py https://github.com/OWNER/NAME")
    try:
        print(f"{set_repo(sys.argv[1])} occurrences set to {sys.argv[1]}")
    except ValueError as err:
        sys.exit(str(err))
