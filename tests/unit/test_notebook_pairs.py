"""Each chapter's py:percent source and its committed .ipynb twin must agree; the twin holds no outputs."""

from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("*.py"))


def cells(nb):
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_there_are_chapters():
    assert SOURCES, f"no chapters found in {NOTEBOOKS}"


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.name)
def test_pair_in_sync_and_without_outputs(src):
    twin = src.with_suffix(".ipynb")
    assert twin.exists(), f"{twin.name} is missing: run `make sync`"
    py, ipynb = jupytext.read(src), jupytext.read(twin)
    assert cells(py) == cells(ipynb), f"{src.name} and {twin.name} differ: run `make sync`"
    with_outputs = [
        i
        for i, c in enumerate(ipynb.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert not with_outputs, (
        f"{twin.name} holds outputs in cells {with_outputs}: clear them before committing"
    )
