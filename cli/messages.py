"""`sanzhida outbox`, `inbound` and `inbox`: the pushes to WeChat and the messages from it."""

from __future__ import annotations

import click

from cli.common import app_services, load, load_for_process, metrics_port_option


@click.group("outbox")
def outbox_group() -> None:
    """The queue of pushes to WeChat."""


@outbox_group.command("dispatch")
@click.option("--batch", default=50, show_default=True, type=click.IntRange(1, 1000), help="Rows per claim.")
@click.option("--loop", is_flag=True, help="Keep dispatching every --interval seconds until Ctrl-C.")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(0.1, 3600), help="Seconds between runs.")
def outbox_dispatch(batch: int, loop: bool, interval: float) -> None:
    """Send every due push once (or keep going with --loop)."""
    from runtime.dispatch import dispatch_outbox

    with app_services() as svc:
        try:
            _dispatch(svc, dispatch_outbox, batch, loop, interval)
        except KeyboardInterrupt:
            pass


def _dispatch(svc, dispatch_outbox, batch: int, loop: bool, interval: float) -> None:
    """Dispatch until a batch comes back short; with `loop`, again every `interval` seconds."""
    import time

    while True:
        while True:
            report = dispatch_outbox(svc.session_factory, svc.wechat, svc.clock, batch=batch, store=svc.media_store)
            if report.claimed:
                click.echo(f"sent {report.sent}, retry later {report.retried}, dead {report.dead}")
            if report.claimed < batch:
                break
        if not loop:
            break
        time.sleep(interval)


@outbox_group.command("run")
@metrics_port_option
@click.option("--fallback-seconds", default=3.0, show_default=True, type=click.FloatRange(0.1, 3600),
              help="Seconds between looks for due pushes while PostgreSQL's notifications wake the dispatcher "
                   "(on SQLite, or while they cannot, it looks every second).")
def outbox_run(metrics_port: int | None, fallback_seconds: float) -> None:
    """Run one outbox dispatcher in the foreground until stopped: it sends each push as soon as it is
    queued (woken by PostgreSQL's notifications) and polls as a fallback; several may run at once."""
    from workers.outbox import run_forever

    run_forever(load_for_process(metrics_port), fallback_seconds=fallback_seconds)


@outbox_group.command("list")
@click.option("--status", type=click.Choice(["pending", "sending", "sent", "dead", "skipped"]), default="dead",
              show_default=True)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
def outbox_list(status: str, limit: int) -> None:
    """List pushes by status (dead letters by default), newest first; contents are not shown."""
    from sqlalchemy import select

    from models import OutboxMessage

    with app_services(read_only=True) as svc, svc.session_factory() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == status).order_by(OutboxMessage.id.desc()).limit(limit)
        ).all()
        for row in rows:
            # The kind tells an SMS (`sms`) from a WeChat push; its phone and parameters are never shown.
            click.echo(f"{row.id}\t{row.idempotency_key}\t{row.kind}\tattempts={row.attempts}\t{row.last_error or ''}")
        click.echo(f"{len(rows)} {status} row(s).")


@outbox_group.command("retry")
@click.argument("row_id", type=int)
def outbox_retry(row_id: int) -> None:
    """Put a dead letter back in the queue once its cause is fixed."""
    from services import outbox

    with app_services() as svc, svc.session_factory() as session:
        if not outbox.requeue(session, row_id, svc.clock()):
            raise click.ClickException(f"Outbox row {row_id} is not a dead letter "
                                       "(or its contents were purged after MESSAGE_RETENTION_DAYS).")
        session.commit()
    click.echo(f"Row {row_id} queued again.")


@click.group("inbound")
def inbound_group() -> None:
    """Messages received from WeChat."""


@inbound_group.command("failed")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
def inbound_failed(limit: int) -> None:
    """Messages whose handling failed (kept, answered with an apology): follow them up by hand."""
    from sqlalchemy import select

    from models import InboundMessage

    with app_services(read_only=True) as svc, svc.session_factory() as session:
        rows = session.scalars(
            select(InboundMessage)
            .where(InboundMessage.handling_error.is_not(None))
            .order_by(InboundMessage.received_at.desc())
            .limit(limit)
        ).all()
        for row in rows:
            local = row.received_at.astimezone(svc.settings.tz).strftime("%Y-%m-%d %H:%M")
            click.echo(f"{row.id}\t{local}\t{row.openid}\t{row.msg_type}\t{row.handling_error}")
        click.echo(f"{len(rows)} failed message(s).")


@inbound_group.command("waiting")
def inbound_waiting() -> None:
    """How many stored messages wait for the inbox worker (queued mode)."""
    from handlers.inbox import count_waiting

    with app_services(read_only=True) as svc, svc.session_factory() as session:
        click.echo(f"{count_waiting(session)} message(s) waiting.")


@click.group("inbox")
def inbox_group() -> None:
    """The inbox worker: handles stored messages and answers them (WECHAT_REPLY_MODE=queued)."""


@inbox_group.command("run")
@metrics_port_option
@click.option("--fallback-seconds", default=3.0, show_default=True, type=click.FloatRange(0.1, 3600),
              help="Seconds between looks for waiting messages while PostgreSQL's notifications wake the worker "
                   "(on SQLite, or while they cannot, it looks every 0.2 s).")
@click.option("--threads", default=2, show_default=True, type=click.IntRange(1, 16),
              help="Groups of messages handled at once, each on its own database connection.")
def inbox_run(metrics_port: int | None, fallback_seconds: float, threads: int) -> None:
    """Run one inbox worker in the foreground until stopped (run several for more throughput)."""
    from workers.inbox import run_forever

    run_forever(load_for_process(metrics_port), fallback_seconds=fallback_seconds, threads=threads)


@inbox_group.command("drain")
def inbox_drain() -> None:
    """Handle every waiting message once, showing progress, then exit."""
    from handlers.inbox import count_waiting
    from runtime.container import build_services
    from workers.inbox import InboxWorker

    step = 50
    worker = InboxWorker(build_services(load()))
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
