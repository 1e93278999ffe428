"""The monthly report's charts, drawn with matplotlib as SVG.

Text is drawn as outlines (`svg.fonttype: path`) with a CJK font found on this machine, so a chart
never depends on the fonts of whatever renders it. matplotlib is imported on first use: the web
workers load it only when someone makes a report.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

from services.figures import Figures, Row
from services.monthly_report import MonthlyData

# Debian's fonts-wqy-zenhei (`make report-tools`, the Dockerfile); Noto or Source Han where installed.
FONT_FILES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
FONT_FAMILIES = ("WenQuanYi Zen Hei", "Noto Sans CJK SC", "Source Han Sans SC")
# A calm office palette: the month in blue, last month in grey, warnings in amber and red.
BLUE, LIGHT_BLUE, GREY, GREEN, AMBER, RED, INK = ("#1f4e79", "#8fb3d9", "#c4c9d0", "#3a8f5c", "#d99a21",
                                                  "#c0392b", "#333d47")
WIDTH_INCHES = 6.9
_lock = threading.Lock()
_drawing = threading.Lock()
_family: str | None = None


class ChartFontMissing(RuntimeError):
    """No CJK font is installed, so the charts' Chinese cannot be drawn."""


def _font_family() -> str:
    """The CJK font family to draw with, registering the known font files once."""
    global _family
    with _lock:
        if _family is None:
            from matplotlib import font_manager

            for path in FONT_FILES:
                if path.exists():
                    font_manager.fontManager.addfont(str(path))
            known = {f.name for f in font_manager.fontManager.ttflist}
            found = next((name for name in FONT_FAMILIES if name in known), None)
            if found is None:
                raise ChartFontMissing("no CJK font found: install fonts-wqy-zenhei (make report-tools)")
            _family = found
        return _family


def _style() -> dict:
    """matplotlib settings for every chart: the CJK font, text as outlines, a light grid."""
    return {
        "font.family": _font_family(), "font.size": 8.5, "font.weight": "medium", "axes.titleweight": "medium",
        "axes.labelweight": "medium", "svg.fonttype": "path", "axes.edgecolor": "#9aa3ad", "axes.labelcolor": INK,
        "xtick.color": INK, "ytick.color": INK, "axes.spines.top": False, "axes.spines.right": False,
        "axes.grid": True, "axes.grid.axis": "x", "grid.color": "#e3e7ec", "grid.linewidth": 0.6,
        "axes.axisbelow": True, "legend.frameon": False, "legend.fontsize": 8, "axes.unicode_minus": False,
        # Names come from the roster: a `$` in one is a dollar sign, never the start of a formula.
        "text.parse_math": False,
    }


def _svg(draw, height: float, columns: int = 1) -> str:
    """Run `draw(axes…)` on a new figure and return it as SVG text (no date, so the same data draws the same)."""
    import matplotlib
    from matplotlib.figure import Figure

    style = _style()
    # rc_context changes matplotlib's global settings: one chart at a time per process (the
    # development server and the tests serve requests in threads).
    with _drawing, matplotlib.rc_context(style):
        figure = Figure(figsize=(WIDTH_INCHES, height), layout="constrained")
        axes = figure.subplots(1, columns, squeeze=False)[0]
        draw(*axes)
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def _height(rows: int, *, most: float = 3.8) -> float:
    """Inches for a bar per row: enough to read each name, and room for the section's table on the page."""
    return min(max(1.1 + 0.2 * rows, 1.9), most)


def _rows(f: Figures) -> list[Row]:
    """The rows to draw, first at the top."""
    # Top to bottom in the order of the tables: barh draws the first row at the bottom.
    return list(reversed(f.rows))


def _legend(ax) -> None:
    """The legend above the plot, on the right, across: it never hides a bar."""
    ax.legend(loc="lower right", bbox_to_anchor=(1, 1), ncols=4, borderaxespad=0.2, handlelength=1.4,
              columnspacing=1.0)


def _label_bars(ax, bars, values, fmt) -> None:
    """Write each bar's value at its end (无数据 where there is none)."""
    for bar, value in zip(bars, values):
        if value is None:
            ax.text(0, bar.get_y() + bar.get_height() / 2, " 无数据", va="center", ha="left", fontsize=7, color="#8a939c")
        else:
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {fmt(value)}", va="center", ha="left",
                    fontsize=7.5, color=INK)


def overview(data: MonthlyData) -> str:
    """The cover's chart: requests per town (or village) this month and last, and visit coverage."""
    rows = _rows(data.figures)
    if not rows:
        return ""
    before = {r.key: r.raised for r in data.previous.rows}

    def draw(left, right):
        names = [r.name for r in rows]
        y = list(range(len(rows)))
        normal = [r.by_urgency.get("normal", 0) for r in rows]
        urgent = [r.by_urgency.get("urgent", 0) for r in rows]
        left.barh([v + 0.2 for v in y], [before.get(r.key, 0) for r in rows], height=0.35, color=GREY, label="上月")
        left.barh([v - 0.2 for v in y], normal, height=0.35, color=BLUE, label="本月·一般")
        left.barh([v - 0.2 for v in y], urgent, left=normal, height=0.35, color=RED, label="本月·紧急")
        left.set_yticks(y, names, fontsize=8.5 if len(rows) <= 12 else 7)
        left.set_title("求助件数", loc="left", fontsize=9.5, color=INK)
        _legend(left)
        left.xaxis.get_major_locator().set_params(integer=True)
        left.set_xlim(0, max([r.raised for r in rows] + list(before.values()) + [1]) * 1.1)
        _coverage_axes(right, rows, data.figures.total, names_shown=False)

    # It shares the first page with the headline figures.
    return _svg(draw, _height(len(rows), most=3.7), columns=2)


def _coverage_colour(value: float | None) -> str:
    """Green from 90 % coverage, amber from 70 %, red below, grey without visits due."""
    if value is None:
        return GREY
    return GREEN if value >= 0.9 else AMBER if value >= 0.7 else RED


def _coverage_axes(ax, rows: list[Row], total: Row, *, names_shown: bool = True) -> None:
    """Coverage bars per row with the total as a dashed line."""
    values = [r.coverage for r in rows]
    y = list(range(len(rows)))
    bars = ax.barh(y, [v or 0 for v in values], height=0.55, color=[_coverage_colour(v) for v in values])
    ax.set_yticks(y, [r.name for r in rows] if names_shown else [""] * len(rows))
    ax.set_xlim(0, 1.18)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0", "25%", "50%", "75%", "100%"])
    if total.coverage is not None:
        ax.axvline(total.coverage, color=INK, linestyle="--", linewidth=0.9, label=f"合计 {total.coverage:.0%}")
        _legend(ax)
    _label_bars(ax, bars, values, lambda v: f"{v:.0%}")
    ax.set_title("走访覆盖率", loc="left", fontsize=9.5, color=INK)


def coverage(data: MonthlyData) -> str:
    """Visit coverage per town (or village), coloured by how far it is from complete (green from 90%,
    amber from 70%, red below)."""
    rows = _rows(data.figures)
    if not data.figures.total.visits_due:
        return ""
    return _svg(lambda ax: _coverage_axes(ax, rows, data.figures.total), _height(len(rows)))


def response_times(data: MonthlyData) -> str:
    """Time to accept in service hours per town (or village): the median as a bar, the 90th percentile as a dot."""
    from config import policy

    rows = _rows(data.figures)
    if not data.figures.total.accept.count:
        return ""
    limit = next((s.after.total_seconds() / 3600 for s in policy.ESCALATION_LADDER["normal"]
                  if s.condition == "not_accepted" and s.clock == "service"), None)

    def draw(ax):
        y = list(range(len(rows)))
        medians = [r.accept.p50_service for r in rows]
        bars = ax.barh(y, [v or 0 for v in medians], height=0.55, color=LIGHT_BLUE, label="中位数")
        p90 = [(i, r.accept.p90_service) for i, r in enumerate(rows) if r.accept.p90_service is not None]
        if p90:
            ax.scatter([v for _, v in p90], [i for i, _ in p90], color=BLUE, s=18, zorder=3, label="90%分位")
        if limit is not None:
            ax.axvline(limit, color=AMBER, linestyle="--", linewidth=1, label=f"一般求助时限 {limit:g} 小时")
        ax.set_yticks(y, [r.name for r in rows])
        ax.set_xlabel("小时")
        ax.set_xlim(0, max([limit or 0] + [v for _, v in p90] + [v or 0 for v in medians]) * 1.25 + 0.5)
        _label_bars(ax, bars, medians, lambda v: f"{v:.1f}")
        ax.set_title("接单用时（服务时段）", loc="left", fontsize=9.5, color=INK)
        _legend(ax)

    return _svg(draw, _height(len(rows)))


def escalation(data: MonthlyData) -> str:
    """The share of requests that reached each rung of the ladder, for the whole report."""
    total, rungs = data.figures.total, data.figures.rungs
    if not total.raised:
        return ""

    def draw(ax):
        shares = [total.escalated_share(n) or 0 for n in rungs]
        bars = ax.bar([f"第{n}级" for n in rungs], shares, color=[BLUE if n == 1 else LIGHT_BLUE for n in rungs],
                      width=0.6)
        for bar, share, n in zip(bars, shares, rungs):
            still = total.open_past.get(n, 0)
            label = f"{share:.0%}" + (f"\n{still}件未办结" if still else "")
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), label, ha="center", va="bottom", fontsize=7.5,
                    color=RED if still else INK)
        ax.set_ylim(0, max(shares + [0.1]) * 1.35)
        ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
        ax.grid(axis="y")
        ax.grid(axis="x", visible=False)
        ax.set_title("升到各级督办的求助比例", loc="left", fontsize=9.5, color=INK)

    return _svg(draw, 2.2)


def satisfaction(data: MonthlyData) -> str:
    """Mean rating per town (or village): green from 4, amber from 3, red below."""
    rows = _rows(data.figures)
    if not data.figures.total.rated:
        return ""

    def draw(ax):
        y = list(range(len(rows)))
        ratings = [r.mean_rating for r in rows]
        colours = [GREY if v is None else GREEN if v >= 4 else AMBER if v >= 3 else RED for v in ratings]
        bars = ax.barh(y, [v or 0 for v in ratings], height=0.55, color=colours)
        ax.set_xlim(0, 5.6)
        ax.set_xticks([0, 1, 2, 3, 4, 5])
        ax.set_yticks(y, [r.name for r in rows])
        _label_bars(ax, bars, ratings, lambda v: f"{v:.1f}分")
        ax.set_title("平均评分（满分5分）", loc="left", fontsize=9.5, color=INK)

    return _svg(draw, _height(len(rows)))


def findings(data: MonthlyData) -> str:
    """四查 problems found per check and 四帮 help given per kind, for the whole report."""
    total = data.figures.total
    if not sum(total.problems.values()) + sum(total.helps.values()):
        return ""

    def draw(left, right):
        for ax, counts, colour, title in ((left, total.problems, AMBER, "发现问题（四查）"),
                                          (right, total.helps, GREEN, "帮扶（四帮）")):
            names = list(counts)
            bars = ax.bar(names, [counts[n] for n in names], color=colour, width=0.55)
            for bar in bars:
                ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{int(bar.get_height())}", ha="center",
                        va="bottom", fontsize=7.5, color=INK)
            ax.set_ylim(0, max(list(counts.values()) + [1]) * 1.3)
            ax.yaxis.get_major_locator().set_params(integer=True)
            ax.grid(axis="y")
            ax.grid(axis="x", visible=False)
            ax.set_title(title, loc="left", fontsize=9.5, color=INK)

    return _svg(draw, 2.1, columns=2)


def all_charts(data: MonthlyData) -> dict[str, str]:
    """Every chart of the report by the place it goes, as SVG text ("" where the month has nothing to draw)."""
    return {"overview": overview(data), "times": response_times(data), "escalations": escalation(data),
            "satisfaction": satisfaction(data), "visits": coverage(data), "findings": findings(data)}
