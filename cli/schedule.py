"""`sanzhida scheduler`: run the scheduler process, or every job due at one instant."""

from __future__ import annotations

import click

from cli.common import load, load_for_process, metrics_port_option


@click.group("scheduler")
def scheduler_group() -> None:
    """The scheduler process: run one or a few for availability; only the leader runs jobs."""


@scheduler_group.command("tick")
@click.option("--at", "at_text", required=True, metavar="ISO-8601",
              help="The instant to run for, e.g. 2026-12-01T08:00:00+08:00 (no offset: SANZHIDA_TZ).")
def scheduler_tick(at_text: str) -> None:
    """Run every job due at that instant exactly once (for operators and tests)."""
    from datetime import datetime

    from scheduler import calendar
    from scheduler.runner import build_process

    settings = load()
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
@metrics_port_option
def scheduler_run(metrics_port: int | None) -> None:
    """Run the scheduler in the foreground until stopped (several may run; one leads, the others stand by)."""
    from scheduler.runner import run_forever

    run_forever(load_for_process(metrics_port))
