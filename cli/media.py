"""`sanzhida media`: the media worker, and the dead letters of media that could not be fetched."""

from __future__ import annotations

import click

from cli.common import app_services, load_for_process, metrics_port_option


@click.group("media")
def media_group() -> None:
    """Voice, photos and video from beneficiaries: the fetch worker and its dead letters."""


@media_group.command("run")
@metrics_port_option
def media_run(metrics_port: int | None) -> None:
    """Run one media worker in the foreground until stopped (run several for more throughput)."""
    from workers.media import run_forever

    run_forever(load_for_process(metrics_port))


@media_group.command("fetch")
def media_fetch() -> None:
    """Fetch every due item once, showing what was done, then exit."""
    from runtime.media_jobs import fetch_due

    with app_services() as svc:
        total = 0
        while True:
            report = fetch_due(svc.media_env)
            total += report.claimed
            click.echo(f"stored {report.stored}, retry later {report.retried}, failed {report.dead}, "
                       f"transcribed {report.transcribed}")
            if report.claimed < 10:
                break
    click.echo(f"{total} item(s) handled.")


@media_group.command("list")
@click.option("--failed", "only_failed", is_flag=True, help="Only media that could not be fetched (dead letters).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
def media_list(only_failed: bool, limit: int) -> None:
    """List media items, newest first: id, case, kind, status, attempts and the last error."""
    from sqlalchemy import select

    from models import MediaItem
    from services import media

    with app_services(read_only=True) as svc, svc.session_factory() as session:
        rows = (media.failed(session, limit) if only_failed
                else session.scalars(select(MediaItem).order_by(MediaItem.id.desc()).limit(limit)).all())
        if not rows:
            click.echo("No media could not be fetched." if only_failed else "No media yet.")
            return
        for item in rows:
            click.echo(f"{item.id}\tcase {item.request_id or '-'}\t{item.kind}\t{item.status}\t"
                       f"attempts {item.attempts}\t{item.last_error or ''}")


@media_group.command("retry")
@click.argument("item_id", type=int)
def media_retry(item_id: int) -> None:
    """Queue a failed item (a dead letter) to be fetched again."""
    from services import media

    with app_services() as svc, svc.session_factory() as session:
        if not media.requeue(session, item_id, svc.clock()):
            raise click.ClickException(f"Media item {item_id} is not a failed item; see `sanzhida media list --failed`.")
        session.commit()
    click.echo(f"Media item {item_id} will be fetched again.")
