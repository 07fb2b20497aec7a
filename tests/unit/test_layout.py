"""The package follows its one rule for where code lives (README, "Layout")."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.py"))
MODULES = sorted(p for p in (ROOT / "toylab").glob("*.py") if p.stem != "__init__")


def test_every_chapter_has_its_module():
    missing = [c for c in CHAPTERS if not (ROOT / "toylab" / f"{c}.py").exists()]
    assert not missing, f"chapters without a toylab module of the same name: {missing}"


@pytest.mark.parametrize("path", [p for p in MODULES if p.stem in CHAPTERS], ids=lambda p: p.stem)
def test_no_chapter_module_imports_another(path):
    tree = ast.parse(path.read_text())
    imported = {
        n.module.split(".")[1]
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("toylab.")
    }
    imported |= {
        a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module == "toylab"
        for a in n.names
    }
    assert not imported & (set(CHAPTERS) - {path.stem}), f"{path.stem} imports {imported}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_every_public_helper_names_where_it_is_taught(path):
    tree = ast.parse(path.read_text())
    silent = [
        n.name
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.ClassDef))
        and not n.name.startswith("_")
        and "Taught in:" not in (ast.get_docstring(n) or "")
    ]
    assert not silent, f"{path.stem}: no 'Taught in:' line in the docstrings of {silent}"
