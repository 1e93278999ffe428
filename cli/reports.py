"""`sanzhida report`: the monthly report (月报) as a spreadsheet and a PDF, written to a folder and kept
for the dashboard's 月报 page."""

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
@click.option("--town", metavar="CODE",
              help="Only this town (乡镇/街道), by region code, with its villages and assistants.")
@click.option("--out", "out_dir", default=".", show_default=True, metavar="DIR",
              type=click.Path(file_okay=False, writable=True),
              help="Folder to write monthly-report-YYYY-MM[-CODE].xlsx and .pdf to (created if missing).")
def report_monthly(month: str, town: str | None, out_dir: str) -> None:
    """Make the monthly report of the city (or one town): an .xlsx with a sheet per table and an A4 PDF
    with the headline figures, the tables and charts. Both are also kept for the dashboard's 月报 page,
    replacing that month's earlier report. Exits 2 on a bad month or an unknown town."""
    import time

    from models.enums import RegionLevel
    from runtime import reports
    from services import listing
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
        region = None
        if town is not None:
            region = listing.region_by_code(session, town)
            if region is None or region.level != RegionLevel.TOWN.value:
                raise click.BadParameter(f"no town with code {town!r}", param_hint="--town")
        made = reports.make_report(session, month=first, town=region, tz=svc.settings.tz, now=now, actor="cli",
                                   progress=progress)
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"monthly-report-{first:%Y-%m}" + (f"-{region.code}" if region else "")
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
