"""The monthly report as a PDF: an HTML page from a Jinja2 template, laid out on A4 by WeasyPrint.

The text is set in a CJK font through fontconfig (fonts-wqy-zenhei, which WeasyPrint embeds as a
subset) and the charts are SVG from `runtime.report_charts`, their text already drawn as outlines.
WeasyPrint needs Pango from the system (`make report-tools`, the Dockerfile); it is imported on
first use so that a process that never makes a report never loads it.
"""

from __future__ import annotations

import base64

from jinja2 import Environment, PackageLoader, select_autoescape

from runtime import report_charts
from services import monthly_report as content
from services.monthly_report import MonthlyData

_templates = Environment(loader=PackageLoader("runtime", "templates"), autoescape=select_autoescape(["html"]),
                         trim_blocks=True, lstrip_blocks=True)
_templates.filters["shown"] = content.shown
_templates.globals["zip"] = zip
# The font stack: what `make report-tools` and the Dockerfile install first, then common CJK fonts.
FONTS = '"WenQuanYi Zen Hei", "Noto Sans CJK SC", "Source Han Sans SC", "DejaVu Sans", sans-serif'


def _data_uri(svg: str) -> str:
    """An SVG as an image address the HTML can hold."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def render_html(data: MonthlyData, charts: dict[str, str] | None = None) -> str:
    """The report's HTML, charts included as SVG images."""
    charts = report_charts.all_charts(data) if charts is None else charts
    return _templates.get_template("reports/monthly.html").render(
        d=data, fonts=FONTS, summary=content.summary_lines(data),
        charts={key: _data_uri(svg) for key, svg in charts.items() if svg},
        made=data.made_at.astimezone(data.tz).strftime("%Y-%m-%d %H:%M"),
    )


def write_pdf(data: MonthlyData, charts: dict[str, str] | None = None) -> bytes:
    """The report as PDF bytes (A4)."""
    from weasyprint import HTML, URLFetcher

    # Everything the report shows is in the page itself (charts as data: URIs): nothing is fetched,
    # not a file of this machine nor an address a name in the roster might spell.
    fetcher = URLFetcher(allowed_protocols=("data",))
    return HTML(string=render_html(data, charts), url_fetcher=fetcher).write_pdf()
