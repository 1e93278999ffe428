"""The `sanzhida` command line: database, development server, demo data, WeChat stand-in, scheduler, inbox."""

from __future__ import annotations

import logging
import sys

import click
from sqlalchemy.engine import make_url

from config.logging import setup_logging
from config.settings import ConfigError, Settings, load_settings, settings_variables

logger = logging.getLogger(__name__)


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    setup_logging(settings.log_level)
    return settings


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """三直达 Sanzhida: the civil-affairs service desk on WeChat."""


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target Alembic revision.")
def db_upgrade(revision: str) -> None:
    """Apply migrations to the configured database (SQLite or PostgreSQL)."""
    from models.migrate import upgrade

    settings = _settings()
    click.echo(f"Migrating {_safe_url(settings.database_url)} to {revision} …")
    upgrade(settings.database_url, revision)
    click.echo("Done.")


@db.command("current")
def db_current() -> None:
    """Show the database's migration revision and the newest one available."""
    from models.db import make_engine
    from models.migrate import current_revision, head_revision

    settings = _settings()
    engine = make_engine(settings.database_url)
    with engine.connect() as connection:
        current = current_revision(connection)
    engine.dispose()
    head = head_revision()
    click.echo(f"current: {current or 'none'}\nhead:    {head}")
    if current != head:
        click.echo("Run `sanzhida db upgrade` to bring the database to head.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--debug/--no-debug", default=False, help="Flask debugger and reloader (never in production).")
def serve(host: str, port: int, debug: bool) -> None:
    """Run the development server (production runs gunicorn)."""
    from bot.app import create_app

    settings = _settings()
    if settings.is_production and debug:
        raise click.ClickException("--debug is refused when SANZHIDA_ENV=production")
    app = create_app(settings)
    base = f"http://{host}:{port}"
    click.echo(
        f"三直达 is running ({settings.env}).\n"
        f"  Health:   {base}/healthz\n"
        f"  Ready:    {base}/readyz\n"
        f"  WeChat:   {base}/wechat   (set this URL and WECHAT_TOKEN in the WeChat console)\n"
        "Press Ctrl-C to stop."
    )
    app.run(host=host, port=port, debug=debug, use_reloader=debug)


@main.group("dev")
def dev_group() -> None:
    """Development tools."""


@dev_group.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the web service listens on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Web service port.")
@click.option("--standin-port", default=8900, show_default=True, type=click.IntRange(1, 65535),
              help="Port of the local WeChat API stand-in.")
@click.option("--seed", "seed_value", default=1, show_default=True, type=int, help="Demo seed when the database is empty.")
@click.pass_context
def dev_run(ctx: click.Context, host: str, port: int, standin_port: int, seed_value: int) -> None:
    """Migrate, seed the small demo if empty, then run web, scheduler and WeChat stand-in together."""
    from bot.devstack import run_stack

    settings = _settings()
    if settings.is_production:
        raise click.ClickException("dev run is for development; SANZHIDA_ENV is production")
    ctx.invoke(db_upgrade, revision="head")
    ctx.invoke(seed_demo, scale="small", seed_value=seed_value, if_empty=True)
    sys.exit(run_stack(host, port, standin_port, click.echo))


@main.command("fake-wechat")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8900, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
def fake_wechat(host: str, port: int) -> None:
    """Run the local stand-in for the WeChat API (point WECHAT_API_BASE_URL at it)."""
    from bot.fake_wechat import FakeWeChatServer

    server = FakeWeChatServer(host, port)
    click.echo(
        f"WeChat API stand-in on http://{host}:{server.port}\n"
        f"  WECHAT_API_BASE_URL={server.base_url}\n"
        f"  Recorded calls: http://{host}:{server.port}/_calls\n"
        "Press Ctrl-C to stop."
    )
    server.serve_forever()


@main.group()
def seed() -> None:
    """Load demonstration data."""


@seed.command("demo")
@click.option("--scale", type=click.Choice(["small", "city"]), default="small", show_default=True,
              help="small: one town, 60 beneficiaries, visits and cases; city: the reference city, 110,000 beneficiaries.")
@click.option("--seed", "seed_value", default=1, show_default=True, type=int, help="Random seed; same seed, same data.")
@click.option("--if-empty", is_flag=True, help="Do nothing (and succeed) when the database already has data.")
def seed_demo(scale: str, seed_value: int, if_empty: bool) -> None:
    """Create a generated demo: a small town with some history, or a city of the reference city's size."""
    import time

    from bot.app import request_env
    from bot.clock import system_clock
    from handlers.services import demo, demo_city
    from handlers.services.pii import PiiCipher
    from models.db import make_engine, make_session_factory

    settings = _settings()
    pii = PiiCipher(settings.pii_key)
    started = time.monotonic()

    def progress(phase: str, rows: int) -> None:
        # The city takes a while: say what is being written, on stderr so stdout stays the summary.
        click.echo(f"[{time.monotonic() - started:6.1f}s] {phase}: {rows}", err=True)

    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            try:
                if scale == "city":
                    summary = demo_city.seed_city(
                        session, pii, system_clock(), tz=settings.tz, seed=seed_value, progress=progress
                    )
                else:
                    summary = demo.seed_small(session, pii, system_clock(), seed=seed_value,
                                              env=request_env(settings), password=demo.DEMO_PASSWORD)
            except demo.AlreadySeeded:
                if if_empty:
                    click.echo("The database already has data; demo not loaded.")
                    return
                raise click.ClickException("The database already has regions; use an empty database for the demo.")
            session.commit()
            if scale == "city":
                click.echo(f"[{time.monotonic() - started:6.1f}s] committed", err=True)
    finally:
        engine.dispose()
    click.echo(
        f"Demo loaded ({scale}): {summary.regions} regions, {summary.staff} staff, "
        f"{summary.beneficiaries} beneficiaries, {summary.visits} visits, {summary.requests} requests."
    )
    if scale == "small":
        click.echo(f"Dashboard sign-in: staff numbers S0001 (admin), S0002 (city supervisor), T0003 (town officer), "
                   f"A0005 (assistant); password {demo.DEMO_PASSWORD}")


@main.group("config")
def config_group() -> None:
    """Settings commands."""


@config_group.command("check")
def config_check() -> None:
    """Validate the settings and show them, secrets hidden."""
    settings = _settings()
    click.echo(f"SANZHIDA_ENV={settings.env}")
    click.echo(f"DATABASE_URL={_safe_url(settings.database_url)}")
    click.echo(f"REDIS_URL={_safe_url(settings.redis_url) if settings.redis_url else '(embedded stand-in)'}")
    click.echo(f"WECHAT_API_BASE_URL={settings.wechat_api_base_url}")
    click.echo(f"WeChat message mode: {'safe/compatible (AES)' if settings.safe_mode else 'plaintext'}")
    click.echo(f"SANZHIDA_TZ={settings.tz_name}")
    click.echo("Variables read: " + ", ".join(settings_variables()))
    click.echo("Settings are valid.")


def _wechat(settings: Settings):
    from bot.wechat import make_wechat_client
    from handlers.services.kv import make_redis

    redis = make_redis(settings.redis_url, allow_embedded=not settings.is_production)
    return make_wechat_client(settings, redis)


@main.group("wechat")
def wechat_group() -> None:
    """Commands that talk to the WeChat API."""


@wechat_group.group("menu")
def menu_group() -> None:
    """The official account's custom menu."""


@menu_group.command("push")
@click.option("--dry-run", is_flag=True, help="Print the menu instead of installing it.")
def menu_push(dry_run: bool) -> None:
    """Install the custom menu (找协理员 / 工作台 / 使用帮助) on the official account."""
    import json

    from wechatpy.exceptions import WeChatClientException

    from handlers.menu import MENU

    settings = _settings()
    if dry_run:
        click.echo(json.dumps(MENU, ensure_ascii=False, indent=2))
        return
    try:
        _wechat(settings).menu.create(MENU)
    except WeChatClientException as exc:
        raise click.ClickException(f"WeChat refused the menu: {exc.errcode} {exc.errmsg}") from None
    click.echo(f"Menu installed ({len(MENU['button'])} buttons).")


@main.group("outbox")
def outbox_group() -> None:
    """The queue of pushes to WeChat."""


@outbox_group.command("dispatch")
@click.option("--batch", default=50, show_default=True, type=click.IntRange(1, 1000), help="Rows per claim.")
@click.option("--loop", is_flag=True, help="Keep dispatching every --interval seconds until Ctrl-C.")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(0.1, 3600), help="Seconds between runs.")
def outbox_dispatch(batch: int, loop: bool, interval: float) -> None:
    """Send every due push once (or keep going with --loop)."""
    import time

    from bot.clock import system_clock
    from models.db import make_engine, make_session_factory
    from scheduler.jobs import dispatch_outbox

    settings = _settings()
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    client = _wechat(settings)
    try:
        while True:
            while True:
                report = dispatch_outbox(factory, client, system_clock, batch=batch)
                if report.claimed:
                    click.echo(f"sent {report.sent}, retry later {report.retried}, dead {report.dead}")
                if report.claimed < batch:
                    break
            if not loop:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()


@outbox_group.command("list")
@click.option("--status", type=click.Choice(["pending", "sending", "sent", "dead"]), default="dead", show_default=True)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
def outbox_list(status: str, limit: int) -> None:
    """List pushes by status (dead letters by default), newest first; contents are not shown."""
    from sqlalchemy import select

    from models import OutboxMessage
    from models.db import make_engine, make_session_factory

    settings = _settings()
    engine = make_engine(settings.database_url)
    with make_session_factory(engine)() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == status).order_by(OutboxMessage.id.desc()).limit(limit)
        ).all()
        for row in rows:
            click.echo(f"{row.id}\t{row.idempotency_key}\tattempts={row.attempts}\t{row.last_error or ''}")
        click.echo(f"{len(rows)} {status} row(s).")
    engine.dispose()


@outbox_group.command("retry")
@click.argument("row_id", type=int)
def outbox_retry(row_id: int) -> None:
    """Put a dead letter back in the queue once its cause is fixed."""
    from bot.clock import system_clock
    from handlers.services import outbox
    from models.db import make_engine, make_session_factory

    settings = _settings()
    engine = make_engine(settings.database_url)
    with make_session_factory(engine)() as session:
        if not outbox.requeue(session, row_id, system_clock()):
            raise click.ClickException(f"Outbox row {row_id} is not a dead letter.")
        session.commit()
    engine.dispose()
    click.echo(f"Row {row_id} queued again.")


@main.group("inbound")
def inbound_group() -> None:
    """Messages received from WeChat."""


@inbound_group.command("failed")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
def inbound_failed(limit: int) -> None:
    """Messages whose handling failed (kept, answered with an apology): follow them up by hand."""
    from sqlalchemy import select

    from models import InboundMessage
    from models.db import make_engine, make_session_factory

    settings = _settings()
    engine = make_engine(settings.database_url, sqlite_immediate=False)
    with make_session_factory(engine)() as session:
        rows = session.scalars(
            select(InboundMessage)
            .where(InboundMessage.handling_error.is_not(None))
            .order_by(InboundMessage.received_at.desc())
            .limit(limit)
        ).all()
        for row in rows:
            local = row.received_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
            click.echo(f"{row.id}\t{local}\t{row.openid}\t{row.msg_type}\t{row.handling_error}")
        click.echo(f"{len(rows)} failed message(s).")
    engine.dispose()


@inbound_group.command("waiting")
def inbound_waiting() -> None:
    """How many stored messages wait for the inbox worker (queued mode)."""
    from handlers.inbox import count_waiting
    from models.db import make_engine, make_session_factory

    settings = _settings()
    engine = make_engine(settings.database_url, sqlite_immediate=False)
    with make_session_factory(engine)() as session:
        click.echo(f"{count_waiting(session)} message(s) waiting.")
    engine.dispose()


@main.group("inbox")
def inbox_group() -> None:
    """The inbox worker: handles stored messages and sends the replies (WECHAT_REPLY_MODE=queued)."""


@inbox_group.command("run")
def inbox_run() -> None:
    """Run one inbox worker in the foreground until stopped (run several for more throughput)."""
    from bot.inbox import run_forever

    run_forever(_settings())


@inbox_group.command("drain")
def inbox_drain() -> None:
    """Handle every waiting message once, showing progress, then exit."""
    from bot.app import build_services
    from bot.inbox import InboxWorker
    from handlers.inbox import count_waiting

    step = 50
    worker = InboxWorker(build_services(_settings()))
    with worker.services.session_factory() as session:
        total = count_waiting(session)
    try:
        with click.progressbar(length=total, label="Handling waiting messages") as bar:
            while True:
                handled = worker.drain(limit=step)
                bar.update(handled)
                if handled < step:
                    break
    finally:
        worker.close()
    click.echo(f"{worker.handled} message(s) handled.")


@main.group("import")
def import_group() -> None:
    """Import beneficiaries or staff from the office's .xlsx or .csv files."""


def _run_import(kind: str, path: str, accept_good_rows: bool, report_path: str | None, dry_run: bool) -> None:
    """Read, check and (unless refused) write one import file, then print what happened."""
    import time
    from pathlib import Path

    from bot.clock import system_clock
    from handlers.services import imports
    from handlers.services.pii import PiiCipher
    from models.db import make_engine, make_session_factory

    settings = _settings()
    started = time.monotonic()

    def progress(phase: str, rows: int) -> None:
        # Large files take a while: a line per 1,000 rows on stderr, so stdout stays the summary.
        click.echo(f"[{time.monotonic() - started:6.1f}s] {phase}: {rows}", err=True)

    try:
        table = imports.read_table(Path(path).read_bytes(), Path(path).name)
    except imports.ImportFileError as exc:
        raise click.ClickException(exc.message) from None
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            try:
                if kind == "beneficiaries":
                    pii = PiiCipher(settings.pii_key)
                    if dry_run:
                        report = imports.check_beneficiaries(session, pii, table, progress=progress)
                    else:
                        report = imports.import_beneficiaries(
                            session, pii, table, now=system_clock(), actor="cli",
                            accept_good_rows=accept_good_rows, progress=progress,
                        )
                elif dry_run:
                    report = imports.check_staff(session, table, progress=progress)
                else:
                    report = imports.import_staff(
                        session, table, now=system_clock(), actor="cli",
                        accept_good_rows=accept_good_rows, progress=progress,
                    )
            except imports.ImportFileError as exc:
                raise click.ClickException(exc.message) from None
            if report.applied:
                session.commit()
    finally:
        engine.dispose()

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


@main.group("export")
def export_group() -> None:
    """Export cases or visits to .xlsx."""


def _run_export(kind: str, path: str, town: str | None, village: str | None, since, until) -> None:
    """Resolve the region codes, write the workbook, audit it and say how many rows it holds."""
    import time
    from pathlib import Path

    from bot.clock import system_clock
    from handlers.services import exports, listing
    from handlers.services.errors import DomainError
    from models.db import make_engine, make_session_factory

    settings = _settings()
    started = time.monotonic()

    def progress(phase: str, rows: int) -> None:
        click.echo(f"[{time.monotonic() - started:6.1f}s] {phase}: {rows}", err=True)

    engine = make_engine(settings.database_url, sqlite_immediate=False)
    try:
        with make_session_factory(engine)() as session:
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
                    session, now=system_clock(), tz=settings.tz, actor="cli",
                    since=since.date() if since else None, until=until.date() if until else None,
                    progress=progress, **scope,
                )
            except DomainError as exc:
                raise click.ClickException(exc.message) from None
            Path(path).write_bytes(result.content)
            # The audit entry is the only write: commit it once the file is safely on disk.
            session.commit()
    finally:
        engine.dispose()
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


@main.group("staff")
def staff_group() -> None:
    """Staff accounts."""


@staff_group.command("set-password")
@click.argument("staff_no")
@click.password_option("--password", prompt="New password", help="The new password (asked for when omitted).")
def staff_set_password(staff_no: str, password: str) -> None:
    """Set a staff member's dashboard password (and lift any lock-out)."""
    from sqlalchemy import select

    from bot.clock import system_clock
    from handlers.services import accounts, audit
    from handlers.services.errors import DomainError
    from models import Staff
    from models.db import make_engine, make_session_factory

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            staff = session.scalars(select(Staff).where(Staff.staff_no == staff_no.strip().upper())).one_or_none()
            if staff is None:
                raise click.ClickException(f"No staff member with staff number {staff_no}.")
            try:
                accounts.set_password(staff, password, system_clock())
            except DomainError as refused:
                raise click.ClickException(refused.message) from None
            audit.record(session, system_clock(), "staff.set_password", label="cli", target=("staff", staff.id))
            session.commit()
            click.echo(f"Password set for {staff.staff_no} ({staff.name}).")
    finally:
        engine.dispose()


@main.group("scheduler")
def scheduler_group() -> None:
    """The scheduler process (run exactly one per deployment)."""


@scheduler_group.command("tick")
@click.option("--at", "at_text", required=True, metavar="ISO-8601",
              help="The instant to run for, e.g. 2026-12-01T08:00:00+08:00 (no offset: SANZHIDA_TZ).")
def scheduler_tick(at_text: str) -> None:
    """Run every job due at that instant exactly once (for operators and tests)."""
    from datetime import datetime

    from scheduler import calendar
    from scheduler.runner import build_process

    settings = _settings()
    try:
        at = datetime.fromisoformat(at_text)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {at_text!r}", param_hint="--at") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=settings.tz)
    process = build_process(settings, clock=lambda: at)
    try:
        results = calendar.tick(process.context, settings.tz, at, process.grace)
    finally:
        process.engine.dispose()
    for job_id, result in results.items():
        click.echo(f"{job_id}: {result}")


@scheduler_group.command("run")
def scheduler_run() -> None:
    """Run the scheduler in the foreground until stopped."""
    from scheduler.runner import run_forever

    run_forever(_settings())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
