"""Plotting helpers shared by the chapters: training curves, phases, views over snapshots.

Functions draw with matplotlib and return the ``Figure``; a notebook cell that
ends with the call shows it once.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

STATIC_ENV = "TOYLAB_STATIC"  # set to 1 when executing for the static site (no widgets)
PHASE_COLOURS = ("tab:blue", "tab:orange", "tab:green")


def shade_phases(ax: Axes, phases: dict[str, tuple[float, float]], labels: bool = True) -> None:
    """Shade each named (start, end) span of steps on ``ax``."""
    for (name, (lo, hi)), colour in zip(phases.items(), PHASE_COLOURS):
        ax.axvspan(max(lo, 1), max(hi, 1), color=colour, alpha=0.12, lw=0, label=name if labels else None)


def plot_curves(
    steps: np.ndarray,
    curves: dict[str, np.ndarray],
    *,
    ylabel: str,
    logy: bool = False,
    phases: dict[str, tuple[float, float]] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Several curves against training steps on one axis (log-scaled steps)."""
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    for label, values in curves.items():
        ax.plot(np.maximum(steps, 1), values, label=label)
    if phases:
        shade_phases(ax, phases)
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return ax


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

        slider = widgets.SelectionSlider(options=steps, value=steps[-1], description="step",
                                         continuous_update=False, layout={"width": "90%"})
        return widgets.interactive(show, step=slider)
    return snapshot_animation(draw, steps, figsize=figsize, max_frames=max_frames)


def snapshot_animation(
    draw: Callable[[Figure, int], None],
    steps: Sequence[int],
    *,
    figsize: tuple[float, float] = (8, 3),
    max_frames: int = 30,
):
    """``draw(fig, step)`` over the steps as a self-contained HTML animation."""
    from IPython.display import HTML
    from matplotlib.animation import FuncAnimation

    steps = list(steps)
    idx = np.unique(np.round(np.linspace(0, len(steps) - 1, min(max_frames, len(steps)))).astype(int))
    frames = [steps[i] for i in idx]
    fig = plt.figure(figsize=figsize, dpi=72)

    def update(step: int):
        fig.clear()
        draw(fig, step)
        return []

    anim = FuncAnimation(fig, update, frames=frames, interval=400, blit=False)
    html = anim.to_jshtml(default_mode="once")
    plt.close(fig)
    return HTML(html)
