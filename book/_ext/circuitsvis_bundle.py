"""Sphinx extension: serve CircuitsVis's JavaScript bundle from the book's own static files.

CircuitsVis views normally load their code from a CDN (unpkg) or inline the
1.3 MB bundle into every view. For the built site the chapters emit views that
load ``_static/circuitsvis.js`` once (see ``toylab.plotting.attention_heads_view``),
so the site needs no network at build or read time. This copies the bundle
that ships with the installed ``circuitsvis`` package there.
"""

import shutil
from pathlib import Path


def _copy_bundle(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    import circuitsvis

    bundle = Path(circuitsvis.__file__).parent / "dist" / "cdn" / "iife.js"
    target = Path(app.outdir) / "_static" / "circuitsvis.js"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(bundle, target)


def setup(app):
    app.connect("build-finished", _copy_bundle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
