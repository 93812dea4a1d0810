"""A run's report.md (or a probe's card.md) as HTML, with its tables as the report layer laid them out.

The report holds model text (prompts, demos, feedback), so raw HTML in it is escaped, never passed
through: markdown-it runs with `html` off and keeps its link check (no javascript: URLs). Two
things are put back: the `<br>` the report writes for line breaks inside a table cell, and images,
whose paths are relative to the run folder and are served from the run's files route.
"""

from __future__ import annotations

from markdown_it import MarkdownIt

ESCAPED_BREAK = "&lt;br&gt;"


def report_html(text: str, files_url: str) -> str:
    """Markdown → HTML; a relative image `plot.png` becomes `<files_url>/plot.png`."""
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    default_image = md.renderer.rules["image"]

    def image(self, tokens, index, options, env) -> str:
        token = tokens[index]
        src = str(token.attrGet("src") or "")
        if src and "://" not in src and not src.startswith("/"):
            token.attrSet("src", f"{files_url}/{src}")
        return default_image(tokens, index, options, env)

    md.add_render_rule("image", image)
    return md.render(text).replace(ESCAPED_BREAK, "<br>")
