"""`sanzhida report`: the monthly report (月报) as a spreadsheet and a PDF, written to a folder and kept
for the dashboard's 月报 page; one city's (or one town's) where the deployment serves several."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import app_services


@click.group("report")
def report_group() -> None:
    """Reports for the office: the monthly report (月报)."""


@report_group.command("monthly")
@click.option("--month", required=True, metavar="YYYY-MM",
              help="The month, e.g. 2026-11 (this month gives the month so far).")
@click.option("--city", metavar="CODE",
              help="The city (市), by region code. Required when the deployment serves several cities "
                   "and no --town is given; with one city it may be left out.")
@click.option("--town", metavar="CODE",
              help="Only this town (乡镇/街道), by region code, with its villages and assistants "
                   "(its city is the town's own).")
@click.option("--out", "out_dir", default=".", show_default=True, metavar="DIR",
              type=click.Path(file_okay=False, writable=True),
              help="Folder to write monthly-report-YYYY-MM[-CODE].xlsx and .pdf to (created if missing); "
                   "CODE is the town's, or the city's where there are several cities.")
def report_monthly(month: str, city: str | None, town: str | None, out_dir: str) -> None:
    """Make the monthly report of a city (or one town): an .xlsx with a sheet per table and an A4 PDF
    with the headline figures, the tables and charts, covering that city (or town) only. Both are also
    kept for the dashboard's 月报 page, replacing that month's earlier report of the same place. With
    several cities, name the city with --city (or a town with --town). Exits 2 on a bad month, an
    unknown city or town, a town outside --city, or no city named where there are several."""
    import time

    from models.enums import RegionLevel
    from runtime import reports
    from services import listing, monthly_report
    from services.policy import months

    first = months.parse_month(month)
    if first is None:
        raise click.BadParameter(f"{month!r} is not a month; write it as YYYY-MM, e.g. 2026-11", param_hint="--month")
    started = time.monotonic()

    def progress(step: str) -> None:
        # Progress on stderr, so stdout stays the summary.
        click.echo(f"[{time.monotonic() - started:6.1f}s] {step}", err=True)

    with app_services() as svc, svc.session_factory() as session:
        now = svc.clock()
        today = now.astimezone(svc.settings.tz).date()
        if first > months.month_start(today):
            raise click.BadParameter(f"{month} has not started yet", param_hint="--month")
        region = chosen = None
        if city is not None:
            chosen = listing.region_by_code(session, city)
            if chosen is None or chosen.level != RegionLevel.CITY.value:
                raise click.BadParameter(f"no city with code {city!r}", param_hint="--city")
        if town is not None:
            region = listing.region_by_code(session, town)
            if region is None or region.level != RegionLevel.TOWN.value:
                raise click.BadParameter(f"no town with code {town!r}", param_hint="--town")
            if chosen is not None and region.parent_id != chosen.id:
                raise click.BadParameter(f"town {town!r} is not in city {city!r}", param_hint="--town")
        cities = monthly_report.cities(session)
        if region is None and chosen is None and len(cities) > 1:
            codes = ", ".join(c.code for c in cities)
            raise click.BadParameter(f"this deployment serves several cities; name one ({codes})",
                                     param_hint="--city")
        made = reports.make_report(session, month=first, town=region, city=chosen, tz=svc.settings.tz, now=now,
                                   actor="cli", progress=progress)
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        # A city's code names a whole city's files only where there are several cities.
        place = region or (chosen if len(cities) > 1 else None)
        stem = f"monthly-report-{first:%Y-%m}" + (f"-{place.code}" if place else "")
        paths = [folder / f"{stem}.xlsx", folder / f"{stem}.pdf"]
        paths[0].write_bytes(made.xlsx)
        paths[1].write_bytes(made.pdf)
        # Kept only once both files are safely on disk.
        session.commit()
    state = "" if made.data.complete else "（本月尚未结束，数字截至今天）"
    click.echo(f"已生成 {made.data.title}（{made.data.month_label}）{state}")
    for path in paths:
        click.echo(f"  {path}")
    click.echo("已保存，可在工作台“月报”页下载。")
