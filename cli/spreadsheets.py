"""`sanzhida import` and `export`: beneficiaries, staff and the 包联 chain in, cases and visits out, as spreadsheets."""

from __future__ import annotations

import sys

import click

from cli.common import app_services


@click.group("import")
def import_group() -> None:
    """Import beneficiaries, staff, the duty rota, the village split or departments' liaisons (.xlsx or .csv)."""


def _run_import(kind: str, path: str, accept_good_rows: bool, report_path: str | None, dry_run: bool) -> None:
    """Read, check and (unless refused) write one import file, then print what happened."""
    import time
    from pathlib import Path

    from services import imports

    started = time.monotonic()

    def progress(phase: str, rows: int) -> None:
        # Large files take a while: a line per 1,000 rows on stderr, so stdout stays the summary.
        click.echo(f"[{time.monotonic() - started:6.1f}s] {phase}: {rows}", err=True)

    try:
        table = imports.read_table(Path(path).read_bytes(), Path(path).name)
    except imports.ImportFileError as exc:
        raise click.ClickException(exc.message) from None
    with app_services() as svc, svc.session_factory() as session:
        common = {"now": svc.clock(), "actor": "cli", "accept_good_rows": accept_good_rows, "progress": progress}
        tz = svc.settings.tz
        try:
            if kind == "beneficiaries":
                if dry_run:
                    report = imports.check_beneficiaries(session, svc.pii, table, progress=progress)
                else:
                    report = imports.import_beneficiaries(session, svc.pii, table, **common)
            elif kind == "duty":
                report = (imports.check_duty(session, table, tz=tz, progress=progress) if dry_run
                          else imports.import_duty(session, table, tz=tz, **common))
            elif kind == "village_officers":
                report = (imports.check_village_officers(session, table, progress=progress) if dry_run
                          else imports.import_village_officers(session, table, **common))
            elif kind == "departments":
                report = (imports.check_departments(session, table, progress=progress) if dry_run
                          else imports.import_departments(session, table, **common))
            elif dry_run:
                report = imports.check_staff(session, table, progress=progress)
            else:
                report = imports.import_staff(session, table, **common)
        except imports.ImportFileError as exc:
            raise click.ClickException(exc.message) from None
        if report.applied:
            session.commit()

    click.echo(
        f"共 {len(report.rows)} 行：正确 {report.ok}，有误 {report.errors}"
        + (f"，示例行跳过 {report.skipped}" if report.skipped else "")
        + f"；新增 {report.creates}，更新 {report.updates}，未变 {report.unchanged}。"
    )
    shown = 20
    for result in report.error_rows()[:shown]:
        click.echo(f"  第{result.row}行：{'；'.join(result.messages)}")
    if report.errors > shown:
        click.echo(f"  ……另有 {report.errors - shown} 行有误")
    if report_path and report.errors:
        Path(report_path).write_bytes(imports.error_report(report))
        click.echo(f"错误报告已保存：{report_path}")
    if report.applied:
        click.echo(f"已导入：写入 {report.written} 行。")
    elif dry_run:
        click.echo("仅检查，未写入。")
    else:
        click.echo("有错误，未导入任何数据。改正后重新导入，或加 --accept-good-rows 只导入正确的行。")
    if report.errors and not report.applied:
        sys.exit(1)


_IMPORT_OPTIONS = [
    click.argument("file", type=click.Path(exists=True, dir_okay=False)),
    click.option("--accept-good-rows", is_flag=True, help="Write the good rows even when other rows have errors."),
    click.option("--report", "report_path", type=click.Path(dir_okay=False),
                 help="Write the rows with errors to this .xlsx (ID numbers masked)."),
    click.option("--dry-run", is_flag=True, help="Check every row and print the summary; write nothing."),
]


def _import_options(func):
    for option in reversed(_IMPORT_OPTIONS):
        func = option(func)
    return func


@import_group.command("beneficiaries")
@_import_options
def import_beneficiaries(file: str, accept_good_rows: bool, report_path: str | None, dry_run: bool) -> None:
    """Upsert beneficiaries on their ID number (姓名, 身份证号, 对象类别, 所属村（社区）代码 …).

    Nothing is written when a row has an error, unless --accept-good-rows. Exits 1 when rows
    had errors and nothing was written.
    """
    _run_import("beneficiaries", file, accept_good_rows, report_path, dry_run)


@import_group.command("staff")
@_import_options
def import_staff(file: str, accept_good_rows: bool, report_path: str | None, dry_run: bool) -> None:
    """Upsert staff on their 工号 (工号, 姓名, 联系电话, 角色, 所属区域代码).

    Nothing is written when a row has an error, unless --accept-good-rows. Exits 1 when rows
    had errors and nothing was written.
    """
    _run_import("staff", file, accept_good_rows, report_path, dry_run)


@import_group.command("duty")
@_import_options
def import_duty(file: str, accept_good_rows: bool, report_path: str | None, dry_run: bool) -> None:
    """Add duty shifts of city supervisors (工号, 开始时间, 结束时间 in local time, e.g. 2026-12-01 17:30).

    A shift already on the rota exactly is left alone; one overlapping another of the same person is
    an error. Nothing is written when a row has an error, unless --accept-good-rows.
    """
    _run_import("duty", file, accept_good_rows, report_path, dry_run)


@import_group.command("village-officers")
@_import_options
def import_village_officers(file: str, accept_good_rows: bool, report_path: str | None, dry_run: bool) -> None:
    """Name each village's responsible town officer and deputy (村（社区）代码, 责任人工号, 副责任人工号).

    默认 hands a place back to the default spread; a blank 副责任人工号 keeps what is stored.
    Nothing is written when a row has an error, unless --accept-good-rows.
    """
    _run_import("village_officers", file, accept_good_rows, report_path, dry_run)


@import_group.command("departments")
@_import_options
def import_departments(file: str, accept_good_rows: bool, report_path: str | None, dry_run: bool) -> None:
    """Name the city's departments' liaisons (部门代码, 部门名称, 负责联络员工号, 副联络员工号).

    A department of the policy the city lacks is added. With several cities, import on the dashboard.
    Nothing is written when a row has an error, unless --accept-good-rows.
    """
    _run_import("departments", file, accept_good_rows, report_path, dry_run)


@click.group("export")
def export_group() -> None:
    """Export cases or visits to .xlsx."""


def _run_export(kind: str, path: str, town: str | None, village: str | None, since, until) -> None:
    """Resolve the region codes, write the workbook, audit it and say how many rows it holds."""
    import time
    from pathlib import Path

    from services import exports, listing
    from services.errors import DomainError

    started = time.monotonic()

    def progress(phase: str, rows: int) -> None:
        click.echo(f"[{time.monotonic() - started:6.1f}s] {phase}: {rows}", err=True)

    with app_services(read_only=True) as svc, svc.session_factory() as session:
        scope = {}
        for option, code, level in (("--town", town, "town"), ("--village", village, "village")):
            if code is None:
                continue
            region = listing.region_by_code(session, code)
            if region is None or region.level != level:
                raise click.BadParameter(f"no {level} with code {code!r}", param_hint=option)
            scope[f"{level}_id"] = region.id
        run = exports.export_cases if kind == "cases" else exports.export_visits
        try:
            result = run(
                session, now=svc.clock(), tz=svc.settings.tz, actor="cli",
                since=since.date() if since else None, until=until.date() if until else None,
                progress=progress, **scope,
            )
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        Path(path).write_bytes(result.content)
        # The audit entry is the only write: commit it once the file is safely on disk.
        session.commit()
    click.echo(f"已导出 {result.rows} 行到 {path}")


_EXPORT_OPTIONS = [
    click.argument("file", type=click.Path(dir_okay=False, writable=True)),
    click.option("--town", metavar="CODE", help="Only this town (乡镇/街道), by region code."),
    click.option("--village", metavar="CODE", help="Only this village or community, by region code."),
    click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="From this local date (inclusive)."),
    click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Up to this local date (inclusive)."),
]


def _export_options(func):
    for option in reversed(_EXPORT_OPTIONS):
        func = option(func)
    return func


@export_group.command("cases")
@_export_options
def export_cases(file: str, town: str | None, village: str | None, since, until) -> None:
    """Write cases (求助) raised in the scope and date range to an .xlsx file."""
    _run_export("cases", file, town, village, since, until)


@export_group.command("visits")
@_export_options
def export_visits(file: str, town: str | None, village: str | None, since, until) -> None:
    """Write home visits (走访) in the scope and date range to an .xlsx file."""
    _run_export("visits", file, town, village, since, until)
