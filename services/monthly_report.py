"""The monthly report (月报): what it holds, assembled from the service figures of the month.

Every number comes from `services.figures.service_figures` for the month's days, so the report
always equals the figures page for the same period. This module decides what the report shows:
the headline figures with last month's beside them, and the tables (columns, rows and the 合计
row) for the towns of a city, or for the villages of one town, and for the assistants. A deployment
of several cities keeps one report per city: its figures, tables and title are that city's alone.
`runtime.reports` draws the same tables into the spreadsheet and the PDF, so both agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from models import Region, Staff
from models.enums import RegionLevel, RequestCategory, Urgency
from services import checkin_figures, figures
from services.figures import Figures, Row
from services.policy import months
from services.scope import EVERYWHERE, city_scope

# A town's report reads every town's figures narrowed to that town, with no member of staff behind
# it; a city's reads its own towns (`city_scope`). Whoever made a report, it reads the same.
WHOLE_CITY = EVERYWHERE

# How a column's values are written: whole numbers, hours (one decimal), shares (%), ratings (1-5).
TEXT, COUNT, HOURS, SHARE, RATING = "text", "count", "hours", "share", "rating"
URGENCY_NAMES = {Urgency.NORMAL.value: "一般", Urgency.URGENT.value: "紧急"}
CATEGORIES = [c.value for c in RequestCategory]
# A table longer than this is shown in the PDF as the rows that most need attention; the
# spreadsheet always holds every row.
PDF_MAX_ROWS = 40
PDF_ATTENTION_ROWS = 15


@dataclass(frozen=True)
class Column:
    """One column: its header, how its values are written, and the header spanning it, if any."""

    header: str
    kind: str = COUNT
    group: str | None = None


@dataclass
class Table:
    """One table of the report, as both files show it; `total` is the 合计 row."""

    key: str
    title: str
    columns: list[Column]
    rows: list[list]
    total: list | None = None
    note: str | None = None
    # The rows the PDF shows when the table is too long for paper (None: all of them).
    pdf_rows: list[list] | None = None
    pdf_note: str | None = None

    def header_rows(self) -> list[list[dict]]:
        """The header as one or two rows of cells (text, first column, colspan, rowspan): a column
        group spans its columns on the first row, and a column outside any group spans both rows."""
        if not any(c.group for c in self.columns):
            return [[{"text": c.header, "start": i, "colspan": 1, "rowspan": 1} for i, c in enumerate(self.columns)]]
        top, bottom, i = [], [], 0
        while i < len(self.columns):
            group = self.columns[i].group
            if group is None:
                top.append({"text": self.columns[i].header, "start": i, "colspan": 1, "rowspan": 2})
                i += 1
                continue
            j = i
            while j < len(self.columns) and self.columns[j].group == group:
                bottom.append({"text": self.columns[j].header, "start": j, "colspan": 1, "rowspan": 1})
                j += 1
            top.append({"text": group, "start": i, "colspan": j - i, "rowspan": 1})
            i = j
        return [top, bottom]


@dataclass(frozen=True)
class Headline:
    """A headline figure of the month with last month's; `better` says which way is good."""

    label: str
    kind: str
    value: float | None
    previous: float | None
    better: str | None = None  # "higher", "lower" or None (neither)
    unit: str = ""
    note: str | None = None

    @property
    def change(self) -> float | None:
        """How far it moved since last month."""
        return months.change(self.value, self.previous)

    @property
    def steady(self) -> bool:
        """Whether it moved by less than the report shows (4.26 against 4.24 is 4.3 both times)."""
        moved = self.change
        return moved is not None and float(shown(abs(moved), self.kind).rstrip("%")) == 0

    @property
    def trend(self) -> str | None:
        """"good", "bad" or "flat" against last month; None without both values or a direction."""
        moved = self.change
        if moved is None:
            return None
        if self.steady:
            return "flat"
        if self.better is None:
            return None
        return "good" if (moved > 0) == (self.better == "higher") else "bad"


@dataclass
class MonthlyData:
    """Everything one month's report shows, for a city or one of its towns."""

    month: date
    start: date
    end: date
    complete: bool
    area: str
    city: str
    city_id: int | None
    town_id: int | None
    level: str
    figures: Figures
    previous: Figures
    assistants: Figures
    villages: Figures | None
    made_at: datetime
    tz: ZoneInfo
    headlines: list[Headline] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)

    @property
    def title(self) -> str:
        """The report's title: 示范市民政服务月报."""
        return f"{self.area}民政服务月报"

    @property
    def month_label(self) -> str:
        """2026年11月."""
        return f"{self.month.year}年{self.month.month}月"

    @property
    def period_label(self) -> str:
        """The days covered, and whether the month was still running."""
        days = f"{self.start.year}年{self.start.month}月{self.start.day}日至{self.end.month}月{self.end.day}日"
        return days if self.complete else f"{days}（本月尚未结束，数字截至当日）"

    @property
    def level_name(self) -> str:
        """乡镇 or 村（社区）: what the main tables' rows are."""
        return figures.LEVELS[self.level]

    def table(self, key: str) -> Table:
        """One table by its key."""
        return next(t for t in self.tables if t.key == key)


def assemble(session: Session, month: date, tz: ZoneInfo, now: datetime, town: Region | None = None,
             city: Region | None = None) -> MonthlyData:
    """The report of `month` (its first day) for `city`, or for `town` with its villages; with neither,
    for the deployment's only city (several cities: one must be named)."""
    today = now.astimezone(tz).date()
    start, end, complete = months.covered_days(month, today)
    level = "village" if town else "town"
    town_id = town.id if town else None
    city = report_city(session, town, city)
    scope = WHOLE_CITY if town is not None or city is None else city_scope(city.id)

    def figures_of(first: date, last: date, by: str) -> Figures:
        # As the figures page asks for them, today included, so the report equals the page.
        return figures.service_figures(session, scope, first, last, tz, level=by, town_id=town_id, today=today)

    main = figures_of(start, end, level)
    before = months.previous_month(month)
    name = city.name if city is not None else "全市"
    data = MonthlyData(
        month=month, start=start, end=end, complete=complete, area=town.name if town else name,
        city=name, city_id=city.id if city is not None else None, town_id=town_id, level=level, figures=main,
        previous=figures_of(before, months.month_end(before), level),
        assistants=figures_of(start, end, "assistant"), villages=None if town else figures_of(start, end, "village"),
        made_at=now, tz=tz,
    )
    data.headlines = headlines(main.total, data.previous.total)
    data.tables = _main_tables(data)
    if data.villages is not None:
        data.tables.append(_places_table(session, data.villages))
    data.tables.append(_assistants_table(session, data.assistants, with_town=town is None))
    return data


def cities(session: Session) -> list[Region]:
    """The deployment's cities, by code."""
    return list(session.scalars(select(Region).where(Region.level == RegionLevel.CITY.value).order_by(Region.code)))


def report_city(session: Session, town: Region | None, city: Region | None) -> Region | None:
    """The city a report covers: the town's city, the one named, or the deployment's only city."""
    if town is not None:
        return session.get(Region, town.parent_id) if town.parent_id is not None else None
    if city is not None:
        return city
    found = cities(session)
    if len(found) > 1:
        raise ValueError("several cities: a monthly report is made for one of them")
    return found[0] if found else None


def headlines(total: Row, previous: Row) -> list[Headline]:
    """The month's headline figures, each beside last month's."""
    return [
        Headline("求助件数", COUNT, total.raised, previous.raised, unit="件", note="本月提出的求助"),
        Headline("接单用时中位数", HOURS, total.accept.p50_service, previous.accept.p50_service, "lower", "小时",
                 f"按服务时段 {figures.SERVICE_HOURS_LABEL} 计"),
        Headline("办结用时中位数", HOURS, total.resolve.p50_wall, previous.resolve.p50_wall, "lower", "小时",
                 "自提出至办结"),
        Headline("督办比例", SHARE, total.escalated_share(1), previous.escalated_share(1), "lower",
                 note="升到第1级督办的求助"),
        Headline("平均评分", RATING, total.mean_rating, previous.mean_rating, "higher", "分", "满分5分"),
        Headline("评价率", SHARE, total.rated_share, previous.rated_share, "higher", note="已办结求助中已评价的"),
        Headline("走访覆盖率", SHARE, total.coverage, previous.coverage, "higher", note="按计划完成/应走访"),
        Headline("超期未走访", COUNT, total.overdue, previous.overdue, "lower", "人", "按统计末日计"),
    ]


def _main_tables(data: MonthlyData) -> list[Table]:
    """The six tables of the figures page, by town (city) or by village (one town), with the 合计 row."""
    f, name = data.figures, data.level_name
    previous = {row.key: row.raised for row in data.previous.rows}
    urgencies = list(URGENCY_NAMES)
    checks, helps = list(figures.CHECKS), list(figures.HELPS)

    def each(build) -> tuple[list[list], list]:
        return [build(row) for row in f.rows], build(f.total)

    rows, total = each(lambda r: [r.name, r.raised, *(r.by_category.get(c, 0) for c in CATEGORIES),
                                  *(r.by_urgency.get(u, 0) for u in urgencies),
                                  data.previous.total.raised if r is f.total else previous.get(r.key, 0)])
    raised = Table("raised", "求助件数", [
        Column(name, TEXT), Column("合计"), *(Column(c, group="按类别") for c in CATEGORIES),
        *(Column(URGENCY_NAMES[u], group="按紧急程度") for u in urgencies), Column("上月合计"),
    ], rows, total)

    def times(r: Row) -> list:
        return [r.name, *(v for t in (r.accept, r.resolve)
                          for v in (t.p50_wall, t.p90_wall, t.p50_service, t.p90_service))]

    heads = ("中位数", "90%分位", "中位数（服务时段）", "90%分位（服务时段）")
    rows, total = each(times)
    timing = Table("times", "响应时长（小时）", [
        Column(name, TEXT), *(Column(h, HOURS, "接单用时") for h in heads), *(Column(h, HOURS, "办结用时") for h in heads),
    ], rows, total, note=f"服务时段按每天 {figures.SERVICE_HOURS_LABEL} 计；无数据记“—”。")

    rows, total = each(lambda r: [r.name, *(r.escalated_share(n) for n in f.rungs),
                                  *(r.open_past.get(n, 0) for n in f.rungs)])
    escalation = Table("escalations", "督办", [
        Column(name, TEXT), *(Column(f"第{n}级", SHARE, "升到该级督办的比例") for n in f.rungs),
        *(Column(f"第{n}级", COUNT, "超过该级仍未办结（件）") for n in f.rungs),
    ], rows, total)

    rows, total = each(lambda r: [r.name, r.resolved, r.rated, r.rated_share, r.mean_rating])
    satisfaction = Table("satisfaction", "满意度", [
        Column(name, TEXT), Column("已办结"), Column("已评价"), Column("评价率", SHARE), Column("平均评分（1–5）", RATING),
    ], rows, total)

    rows, total = each(lambda r: [r.name, r.beneficiaries, r.visits_due, r.visits_covered, r.coverage, r.visits_made,
                                  r.overdue, *(r.problems.get(c, 0) for c in checks),
                                  *(r.helps.get(h, 0) for h in helps)])
    visits = Table("visits", "四查四帮走访", [
        Column(name, TEXT), Column("服务对象"), Column("应走访"), Column("按计划完成"), Column("覆盖率", SHARE),
        Column("实际走访"), Column("超期未走访"), *(Column(c, group="发现问题（四查）") for c in checks),
        *(Column(h, group="帮扶（四帮）") for h in helps),
    ], rows, total, note="应走访：统计期内已结束的走访周期数（每周、每半月或每月一次，按服务对象类别）；"
                         "周期内走访过即为按计划完成。超期未走访按统计末日计。")

    rows, total = each(lambda r: [r.name, r.checkins.on_plan, r.checkins.expected, r.checkins.received,
                                  r.checkins.rate, r.checkins.reminded, r.checkins.ended_by_reminder,
                                  r.checkins.raised, r.checkins.resolved, r.checkins.fast_share,
                                  r.checkins.median_hours, r.checkins.unresolved])
    fast = f"{checkin_figures.FIRST_RUNG.total_seconds() / 3600:g}小时内办结"
    checkins = Table("checkins", "报平安", [
        Column(name, TEXT), *(Column(h, group="报平安") for h in ("在计划人数", "应报", "已报")),
        Column("报平安率", SHARE, "报平安"), Column("提醒", group="提醒家属"), Column("提醒后报平安", group="提醒家属"),
        *(Column(h, group="未报平安转协理员（联系件）") for h in ("件数", "已办结")),
        Column(fast, SHARE, "未报平安转协理员（联系件）"), Column("办结用时中位数", HOURS, "未报平安转协理员（联系件）"),
        Column("仍未办结", group="未报平安转协理员（联系件）"),
    ], rows, total, note="应报：“每天”计划每人每天一次，“每周”计划每人每周一次；只计已过完的日子。"
                         "报平安率 = 已报 / 应报。办结用时从转协理员起算，按实际小时计。")
    return [raised, timing, escalation, satisfaction, visits, checkins]


# The compact columns of the village and assistant lists: the figures that show who needs help.
_COMPACT = [
    Column("求助件数"), Column("接单中位数（服务时段）", HOURS), Column("办结中位数", HOURS), Column("督办比例", SHARE),
    Column("平均评分", RATING), Column("服务对象"), Column("应走访"), Column("按计划完成"), Column("覆盖率", SHARE),
    Column("超期未走访"),
]


def _compact(row: Row) -> list:
    """A row's values in the compact columns."""
    return [row.raised, row.accept.p50_service, row.resolve.p50_wall, row.escalated_share(1), row.mean_rating,
            row.beneficiaries, row.visits_due, row.visits_covered, row.coverage, row.overdue]


def _attention(table: Table, rows: list[Row], labelled: list[list], what: str) -> None:
    """Keep the PDF to the rows that most need a look (most overdue visits, then lowest coverage)."""
    if len(rows) <= PDF_MAX_ROWS:
        return
    order = sorted(range(len(rows)), key=lambda i: (-rows[i].overdue, rows[i].coverage if rows[i].coverage
                                                    is not None else 2, rows[i].name))
    table.pdf_rows = [labelled[i] for i in order[:PDF_ATTENTION_ROWS]]
    table.pdf_note = (f"共 {len(rows)} 个{what}，此处列出超期未走访最多、覆盖率最低的 {PDF_ATTENTION_ROWS} 个；"
                      "完整名单见 Excel 表。")


def _places_table(session: Session, villages: Figures) -> Table:
    """Every village of the city with its town, in the compact columns."""
    towns = dict(session.execute(
        select(Region.id, Region.parent_id).where(Region.id.in_([r.key for r in villages.rows if r.key]))).all())
    town_names = _region_names(session, set(towns.values()))
    rows = [[town_names.get(towns.get(r.key), "—"), r.name, *_compact(r)] for r in villages.rows]
    rows_order = sorted(range(len(rows)), key=lambda i: (rows[i][0], rows[i][1]))
    ordered = [villages.rows[i] for i in rows_order]
    labelled = [rows[i] for i in rows_order]
    table = Table("villages", "各村（社区）概况", [Column("乡镇", TEXT), Column("村（社区）", TEXT), *_COMPACT],
                  labelled, ["合计", "", *_compact(villages.total)])
    _attention(table, ordered, labelled, "村（社区）")
    return table


def _assistants_table(session: Session, assistants: Figures, *, with_town: bool) -> Table:
    """Every assistant (and cases with nobody assigned) with their village, in the compact columns."""
    ids = [r.key for r in assistants.rows if r.key is not None]
    staff = {s.id: s for s in session.scalars(
        select(Staff).where(Staff.id.in_(ids)).options(joinedload(Staff.region).joinedload(Region.parent)))}

    def place(row: Row) -> list[str]:
        person = staff.get(row.key)
        region = person.region if person else None
        village = region.name if region and region.level == RegionLevel.VILLAGE.value else "—"
        town = (region.parent.name if region and region.parent and region.level == RegionLevel.VILLAGE.value
                else region.name if region else "—")
        return [town, village] if with_town else [village]

    labelled = [[*place(r), r.name, *_compact(r)] for r in assistants.rows]
    order = sorted(range(len(labelled)), key=lambda i: (assistants.rows[i].key is None, labelled[i][:-len(_COMPACT)]))
    labelled = [labelled[i] for i in order]
    rows = [assistants.rows[i] for i in order]
    places = [Column("乡镇", TEXT), Column("村（社区）", TEXT)] if with_town else [Column("村（社区）", TEXT)]
    # 合计 under the first place column; the other place columns and the name stay blank.
    total = ["合计", *[""] * len(places), *_compact(assistants.total)]
    table = Table("assistants", "服务专员工作量", [*places, Column("服务专员", TEXT), *_COMPACT], labelled, total,
                  note="“未指派”：没有负责服务专员的求助和服务对象。")
    _attention(table, rows, labelled, "服务专员")
    return table


def _region_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    """The names of these regions, by id."""
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return dict(session.execute(select(Region.id, Region.name).where(Region.id.in_(wanted))).all())


def shown(value, kind: str) -> str:
    """A value as the report writes it: 5, 7.5, 63%, 4.2; "—" when there is none."""
    if value is None or value == "":
        return "—" if value is None else ""
    if kind == TEXT:
        return str(value)
    if kind == SHARE:
        return f"{value * 100:.0f}%"
    if kind in (HOURS, RATING):
        return f"{value:.1f}"
    return str(value)


def summary_lines(data: MonthlyData) -> list[str]:
    """The month in a few plain sentences, for the report's first page."""
    t, before = data.figures.total, data.previous.total
    urgent = t.by_urgency.get(Urgency.URGENT.value, 0)
    lines = [f"本月提出求助 {t.raised} 件（上月 {before.raised} 件），其中紧急 {urgent} 件。"]
    if t.accept.count:
        lines.append(f"接单用时中位数 {shown(t.accept.p50_service, HOURS)} 小时（服务时段），"
                     f"九成求助在 {shown(t.accept.p90_service, HOURS)} 小时内接单。")
    escalated, still = t.escalated.get(1, 0), t.open_past.get(1, 0)
    if not escalated:
        lines.append("没有求助升到督办。")
    else:
        lines.append(f"{escalated} 件升到督办，" + (f"其中 {still} 件至今未办结。" if still else "现均已办结。"))
    if t.resolved:
        rating = f"，平均 {shown(t.mean_rating, RATING)} 分" if t.rated else ""
        lines.append(f"办结 {t.resolved} 件，其中 {t.rated} 件得到评价{rating}。")
    problems = "、".join(f"{name} {n}" for name, n in t.problems.items() if n)
    lines.append(f"应走访 {t.visits_due} 次，按计划完成 {t.visits_covered} 次，覆盖率 {shown(t.coverage, SHARE)}；"
                 f"统计末日 {t.overdue} 人超期未走访。")
    lines.append(f"走访发现问题 {sum(t.problems.values())} 处" + (f"（{problems}）" if problems else "")
                 + f"，帮扶 {sum(t.helps.values())} 次。")
    return lines
