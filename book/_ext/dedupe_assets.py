"""Sphinx extension: drop duplicate <script> and <link> entries from every page.

Jupyter Book 1.0.4 with Sphinx 7.4 registers the inline configuration scripts of
sphinx-thebe and sphinx-togglebutton twice. The second ``const THEBE_JS_URL``
is a SyntaxError in the browser. Removing exact duplicates changes nothing else.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    for key in ("script_files", "css_files"):
        seen, unique = set(), []
        for asset in context.get(key, []):
            # the copies differ only in how "no file" is spelt (None or ""): compare what the page shows
            ident = (
                str(getattr(asset, "filename", asset) or ""),
                repr(sorted(getattr(asset, "attributes", {}).items())),
            )
            if ident not in seen:
                seen.add(ident)
                unique.append(asset)
        if key in context:
            context[key] = unique


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
