"""Plotting helpers the chapters share: the book's style, phases, snapshot and attention views.

Functions draw with matplotlib and return the ``Figure``; a notebook cell that
ends with the call shows it once.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

STATIC_ENV = "TOYLAB_STATIC"  # set to 1 when executing for the static site (no widgets)
PHASE_COLOURS = ("tab:blue", "tab:orange", "tab:green")
_VIEW_COUNT = itertools.count()


FIGURE_DPI = 120  # every figure and animation frame renders at least this sharp
MIN_FONT_PT = 9  # and no text on it is smaller (a unit test checks both, and the chapters)
BOOK_STYLE = {
    "figure.dpi": FIGURE_DPI,
    "savefig.dpi": FIGURE_DPI,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": MIN_FONT_PT,
    "xtick.labelsize": MIN_FONT_PT,
    "ytick.labelsize": MIN_FONT_PT,
    "figure.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def use_book_style() -> None:
    """The look of every figure in the book: 120 dpi, text of 9 pt or more, no top or right spines.

    Called once in each chapter's set-up cell.

    Taught in: grokking Set-up; used in every chapter.
    """
    plt.rcParams.update(BOOK_STYLE)


def shade_phases(ax: Axes, phases: dict[str, tuple[float, float]], labels: bool = True) -> None:
    """Shade each named (start, end) span of steps on ``ax``.

    Taught in: grokking_network §4.
    """
    for (name, (lo, hi)), colour in zip(phases.items(), PHASE_COLOURS):
        ax.axvspan(
            max(lo, 1), max(hi, 1), color=colour, alpha=0.12, lw=0, label=name if labels else None
        )


def snapshot_view(
    draw: Callable[[Figure, int], None],
    steps: Sequence[int],
    *,
    figsize: tuple[float, float] = (8, 3),
    max_frames: int = 30,
):
    """An interactive view of something over training snapshots.

    In Jupyter or Colab: an ipywidgets slider over ``steps`` that redraws
    ``draw(fig, step)``. When the notebook is executed for the static site
    (``TOYLAB_STATIC=1``) or ipywidgets is missing: a matplotlib animation
    rendered as self-contained HTML (``to_jshtml``), which needs no kernel, over
    at most ``max_frames`` evenly chosen steps.

    Taught in: grokking §7; used in every chapter.
    """
    steps = list(steps)
    if not steps:
        raise ValueError("snapshot_view needs at least one step")
    try:
        import ipywidgets as widgets
    except ImportError:
        widgets = None
    if widgets is not None and os.environ.get(STATIC_ENV, "0") in ("", "0"):

        def show(step: int) -> None:
            fig = plt.figure(figsize=figsize)
            draw(fig, step)
            plt.show()

        slider = widgets.SelectionSlider(
            options=steps,
            value=steps[-1],
            description="step",
            continuous_update=False,
            layout={"width": "90%"},
        )
        return widgets.interactive(show, step=slider)
    return snapshot_animation(draw, steps, figsize=figsize, max_frames=max_frames)


def snapshot_animation(
    draw: Callable[[Figure, int], None],
    steps: Sequence[int],
    *,
    figsize: tuple[float, float] = (8, 3),
    max_frames: int = 30,
):
    """``draw(fig, step)`` over the steps as a self-contained HTML animation.

    Taught in: grokking §7; used in every chapter, through ``snapshot_view``.
    """
    from IPython.display import HTML
    from matplotlib.animation import FuncAnimation

    steps = list(steps)
    idx = np.unique(
        np.round(np.linspace(0, len(steps) - 1, min(max_frames, len(steps)))).astype(int)
    )
    frames = [steps[i] for i in idx]
    fig = plt.figure(figsize=figsize, dpi=FIGURE_DPI)

    def update(step: int):
        fig.clear()
        draw(fig, step)
        return []

    anim = FuncAnimation(fig, update, frames=frames, interval=400, blit=False)
    html = offline_player(anim.to_jshtml(default_mode="once"))
    plt.close(fig)
    return HTML(html)


# matplotlib's player draws its buttons with Font Awesome 4 icons from a CDN; these glyphs
# need nothing from the network (the book is read offline too)
_PLAYER_ICONS = {
    "fa-play fa-flip-horizontal": "\u25c0",  # play backwards
    "fa-fast-backward": "\u23ee",
    "fa-step-backward": "\u25c1",
    "fa-pause": "\u275a\u275a",
    "fa-play": "\u25b6",
    "fa-step-forward": "\u25b7",
    "fa-fast-forward": "\u23ed",
    "fa-minus": "\u2212",
    "fa-plus": "+",
}


def offline_player(html: str) -> str:
    """matplotlib's ``to_jshtml`` player without its Font Awesome stylesheet from a CDN.

    Taught in: grokking §7, through ``snapshot_view``; used in every chapter.
    """
    html = re.sub(r'<link rel="stylesheet"\s+href="https?://[^"]*font-awesome[^"]*">', "", html)
    for icon, glyph in _PLAYER_ICONS.items():
        html = html.replace(f'<i class="fa {icon}"></i>', glyph)
    return html


class StaticCircuitsVis:
    """A CircuitsVis view for the static site: loads the bundle from the site's ``_static`` folder.

    The book's Sphinx extension ``book/_ext/circuitsvis_bundle.py`` puts the
    bundle at ``_static/circuitsvis.js``; the page's ``data-content_root``
    (set by Sphinx) gives the path to it from any page. Several views on a page
    share one copy of the script.

    Taught in: induction_heads §4; ode_circuits §3, through ``attention_heads_view``.
    """

    def __init__(self, element: str, props: dict):
        from circuitsvis.utils.convert_props import convert_props

        self.element, self.props = element, convert_props(props)
        digest = hashlib.sha1(f"{element}{self.props}".encode()).hexdigest()[:10]
        self.uid = f"circuits-vis-{digest}-{next(_VIEW_COUNT)}"  # deterministic, unique on a page

    def _repr_html_(self) -> str:
        return f"""<div id="{self.uid}" class="toylab-circuitsvis" style="margin: 15px 0;"></div>
<script>
(function () {{
  function draw() {{ CircuitsVis.render("{self.uid}", CircuitsVis.{self.element}, {self.props}); }}
  if (window.CircuitsVis) {{ draw(); return; }}
  var s = document.querySelector("script[data-circuitsvis]");
  if (!s) {{
    s = document.createElement("script");
    s.src = (document.documentElement.dataset.content_root || "") + "_static/circuitsvis.js";
    s.setAttribute("data-circuitsvis", "");
    document.head.appendChild(s);
  }}
  s.addEventListener("load", draw);
}})();
</script>"""


def attention_heads_view(attention, tokens: Sequence[str], head_names: Sequence[str] | None = None):
    """CircuitsVis's interactive attention-heads view: one small pattern per head, click to enlarge.

    Args:
        attention: (head, query, key) attention patterns.
        tokens: the sequence's tokens as strings, one per position.
        head_names: a label per head, e.g. ``"L1H2"``.

    In Jupyter or Colab this is CircuitsVis's own view (its code comes from
    the CDN when online, inline when offline); on the static site
    (``TOYLAB_STATIC=1``) it loads the bundle from the site itself.

    Taught in: induction_heads §4; ode_circuits §3.
    """
    attention = np.asarray(attention, dtype=np.float32)
    if attention.ndim != 3 or attention.shape[1:] != (len(tokens), len(tokens)):
        raise ValueError(
            f"attention must be (head, {len(tokens)}, {len(tokens)}) for {len(tokens)} tokens, "
            f"got {attention.shape}"
        )
    if head_names is not None and len(head_names) != attention.shape[0]:
        raise ValueError(f"{len(head_names)} head names for {attention.shape[0]} heads")
    props = {
        "attention": attention.round(3).tolist(),
        "tokens": list(tokens),
        "attentionHeadNames": list(head_names) if head_names is not None else None,
        "maskUpperTri": True,
    }
    if os.environ.get(STATIC_ENV, "0") not in ("", "0"):
        return StaticCircuitsVis("AttentionHeads", props)
    import circuitsvis.attention

    return circuitsvis.attention.attention_heads(
        attention=props["attention"],
        tokens=props["tokens"],
        attention_head_names=props["attentionHeadNames"],
        mask_upper_tri=True,
    )
