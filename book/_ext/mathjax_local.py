"""Sphinx extension: serve MathJax from the book's own static files, so formulas render offline.

Sphinx loads MathJax from a CDN by default: read without a network, the site shows raw
``\\(a + b \\bmod p\\)``. This copies the MathJax 2.7 that the ``jupyter-server-mathjax``
package ships (installed from PyPI with the book's requirements) into ``_static/mathjax``;
``_config.yml`` points ``mathjax_path`` at it. MathJax loads its output code and fonts from the
same folder, so nothing is fetched from elsewhere.
"""

import shutil
from pathlib import Path


def _copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    import jupyter_server_mathjax

    source = Path(jupyter_server_mathjax.__file__).parent / "static"
    shutil.copytree(source, Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def setup(app):
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
