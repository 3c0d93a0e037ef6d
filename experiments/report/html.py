"""The report as one self-contained page, `report.html`: what MLflow's artifact viewer shows,
and one file to send.

Everything is inside the file: the figures as `data:` URIs, the tables (the Markdown of
`summary.md` rendered as HTML), the verdict and the budget, and the sweep's resolved
config. No script, no stylesheet or font from elsewhere.
"""

import base64
import html

import markdown

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.5em; } h2 { font-size: 1.25em; margin-top: 2em; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f3f3; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #666; font-size: 0.85em; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.85em; }
.verdict { background: #f4f8ff; border-left: 4px solid #3b6fd8; padding: 0.2em 1em; }
"""


def markdown_to_html(text):
    """Markdown (with tables) as an HTML fragment."""
    return markdown.markdown(text, extensions=["tables"])


def report_html(title, description, sections, figures, config_text, source=""):
    """The page, as text.

    Args:
        title: the report's title.
        description: Markdown: the verdict, the result table and the budget (the parent
            run's description in MLflow).
        sections: Markdown: the report's tables (`summary.md`).
        figures: name -> PNG bytes, in order.
        config_text: the sweep's resolved config (YAML), shown as is.
        source: one line saying where the report comes from (the MLflow run).

    Returns:
        The HTML document.
    """
    images = "\n".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode("ascii")}"><figcaption>{html.escape(name)}.png'
        "</figcaption></figure>"
        for name, png in figures.items()
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<div class="verdict">{markdown_to_html(description)}</div>',
        "<h2>Figures</h2>",
        images,
        "<h2>Tables</h2>",
        markdown_to_html(sections),
        "<h2>Resolved config</h2>",
        f"<pre>{html.escape(config_text)}</pre>",
    ]
    if source:
        parts.append(f"<p><small>{html.escape(source)}</small></p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
