"""`sanzhida archive run`: move finished rows older than a month out of the hot tables, with progress.

The scheduler's daily `archive` job does the same with the month ARCHIVE_AFTER_MONTHS sets; this is
for a first run after upgrading, or to see first what would move (`--dry-run`).
"""

from __future__ import annotations

from datetime import date

import click

from cli.common import app_services


def _month(_ctx, param, value: str | None) -> date | None:
    """A YYYY-MM option, as the first day of that month."""
    if value is None:
        return None
    try:
        return date.fromisoformat(f"{value}-01")
    except ValueError:
        raise click.BadParameter(f"not a month (YYYY-MM): {value!r}", param_hint=param.opts[0]) from None


@click.group("archive")
def archive_group() -> None:
    """The archive tables: handled messages, finished pushes and closed cases' timelines, moved out of the hot tables."""


@archive_group.command("run")
@click.option("--before", "month", callback=_month, default=None, metavar="YYYY-MM",
              help="Move rows from before this month (local time); at most ARCHIVE_AFTER_MONTHS before "
                   "the current month, which is the default.")
@click.option("--dry-run", is_flag=True, help="Only count what would move; change nothing.")
def run_command(month: date | None, dry_run: bool) -> None:
    """Move handled messages, sent, dead or skipped pushes, and the timelines of cases closed before
    --before into the archive tables, in windows of ids, one transaction each. Safe to stop and run
    again: it carries on where it stopped."""
    from runtime.archive import archive_before
    from services import archive

    with app_services() as svc:
        tz, now = svc.settings.tz, svc.clock()
        latest = archive.cutoff_month(now.astimezone(tz).date(), svc.settings.archive_after_months)
        if month is None:
            month = latest
        elif month > latest:
            raise click.BadParameter(
                f"{month:%Y-%m} is too recent: ARCHIVE_AFTER_MONTHS={svc.settings.archive_after_months} keeps "
                f"everything from {latest:%Y-%m} on", param_hint="--before")
        cutoff = archive.cutoff_for(month, tz)

        def progress(table: str, last_id: int, top: int, rows: int) -> None:
            """One line per window on stderr: how far through the table, and rows so far."""
            click.echo(f"  {table}: ids up to {last_id} of {top}, {rows} rows", err=True)

        verb = "Would move" if dry_run else "Moving"
        click.echo(f"{verb} finished rows from before {month:%Y-%m} ({cutoff.isoformat()})", err=True)
        report = archive_before(svc.session_factory, cutoff, now, dry_run=dry_run, progress=progress)
    moved = ", ".join(f"{table} {rows}" for table, rows in report.moved.items())
    click.echo(f"{'Would move' if dry_run else 'Moved'} {report.total} rows ({moved}) in {report.windows} windows.")
