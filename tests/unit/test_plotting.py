"""The snapshot view: a slider in a live kernel, a self-contained animation on the static site."""

import matplotlib

matplotlib.use("Agg")

import re
from pathlib import Path

import numpy as np
import pytest

from toylab import plotting

STEPS = [0, 10, 100, 1000]


def draw(fig, step):
    ax = fig.subplots()
    ax.plot(np.arange(10), np.arange(10) * step)
    ax.set_title(f"step {step}")


def test_live_view_is_a_slider_over_the_steps(monkeypatch):
    monkeypatch.delenv(plotting.STATIC_ENV, raising=False)
    view = plotting.snapshot_view(draw, STEPS)
    slider = view.children[0]
    assert list(slider.options) == STEPS and slider.value == STEPS[-1]


def test_static_view_is_an_html_animation_with_a_frame_per_step(monkeypatch):
    monkeypatch.setenv(plotting.STATIC_ENV, "1")
    html = plotting.snapshot_view(draw, STEPS).data
    assert "<img" in html and "Animation" in html
    assert html.count("data:image/png;base64") == len(STEPS)


def test_animation_is_capped_in_frames():
    html = plotting.snapshot_animation(draw, list(range(100)), max_frames=5).data
    assert html.count("data:image/png;base64") == 5


def test_empty_steps_are_refused():
    with pytest.raises(ValueError, match="at least one step"):
        plotting.snapshot_view(draw, [])


def test_attention_view_live_and_static(monkeypatch):
    pattern = np.tril(np.ones((2, 3, 3))) / np.arange(1, 4)[:, None]
    monkeypatch.setenv(plotting.STATIC_ENV, "0")
    live = plotting.attention_heads_view(pattern, ["a", "b", "c"], ["L0H0", "L0H1"])
    assert "AttentionHeads" in live.local_src  # (its _repr_html_ would probe the network)
    monkeypatch.setenv(plotting.STATIC_ENV, "1")
    views = [plotting.attention_heads_view(pattern, ["a", "b", "c"]) for _ in range(2)]
    html = views[0]._repr_html_()
    assert (
        "_static/circuitsvis.js" in html
        and "CircuitsVis.AttentionHeads" in html
        and "unpkg" not in html
    )
    assert views[0].uid != views[1].uid
    with pytest.raises(ValueError, match=r"attention must be \(head, 2, 2\)"):
        plotting.attention_heads_view(pattern, ["a", "b"])
    with pytest.raises(ValueError, match="1 head names for"):
        plotting.attention_heads_view(pattern, ["a", "b", "c"], ["only one"])


def test_book_style_renders_sharp_and_readable():
    import matplotlib.pyplot as plt
    from matplotlib.font_manager import FontProperties

    assert plotting.FIGURE_DPI >= 120 and plotting.MIN_FONT_PT >= 9  # issue 15's figure rules
    with plt.rc_context():
        plotting.use_book_style()
        assert plt.rcParams["figure.dpi"] >= 120 and plt.rcParams["savefig.dpi"] >= 120
        assert not plt.rcParams["axes.spines.top"]
        for key in ["font.size", "axes.titlesize", "axes.labelsize", "legend.fontsize",
                    "xtick.labelsize", "ytick.labelsize"]:  # fmt: skip
            size = FontProperties(size=plt.rcParams[key]).get_size_in_points()
            assert size >= plotting.MIN_FONT_PT, (key, size)


ROOT = Path(__file__).resolve().parents[2]
SMALL_TEXT = re.compile(
    r"(?<!\w)(fontsize|labelsize|size)\s*=\s*([0-8](\.\d*)?\b|[\"'](xx?-)?small[\"'])"
)


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "notebooks").glob("*.py")) + sorted((ROOT / "toylab").glob("*.py")),
    ids=lambda p: p.name,
)
def test_no_figure_text_below_the_minimum(path):
    small = [
        f"{path.name}:{i}: {line.strip()}"
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if SMALL_TEXT.search(line)
    ]
    assert not small, f"text below {plotting.MIN_FONT_PT} pt: {small}"


def test_animation_frames_render_at_the_book_dpi(monkeypatch):
    captured = {}
    original = plotting.plt.figure

    def figure(*args, **kwargs):
        captured["dpi"] = kwargs.get("dpi")
        return original(*args, **kwargs)

    monkeypatch.setattr(plotting.plt, "figure", figure)
    plotting.snapshot_animation(draw, STEPS[:2])
    assert captured["dpi"] >= plotting.FIGURE_DPI


def test_the_animation_player_needs_no_network():
    import matplotlib.pyplot as plt

    view = plotting.snapshot_animation(lambda fig, step: fig.add_subplot().plot([0, step]), [1, 2])
    html = view.data
    assert "font-awesome" not in html and "http" not in html.split("<script")[0], "a CDN stylesheet"
    assert 'class="fa ' not in html, "icons that need Font Awesome"
    assert "\u25b6" in html, "the play button"
    plt.close("all")
