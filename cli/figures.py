"""`sanzhida figures rebuild`: recompute the daily 四查四帮 and 报平安 figures for a range of days,
the weekly request figures of the trends and, with several cities, the province's standard views.

The scheduler keeps the recent days up to date by itself; this is for the past, after an upgrade
or an import of old visits or check-ins.
"""

from __future__ import annotations

from datetime import date, timedelta

import click

from cli.common import app_services

CHUNK_DAYS = 31


def _day(_ctx, param, value: str | None) -> date | None:
    """A YYYY-MM-DD option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not a date (YYYY-MM-DD): {value!r}", param_hint=param.opts[0]) from None


@click.group("figures")
def figures_group() -> None:
    """The daily figures behind the figures page, the trends and the monthly report."""


@figures_group.command("rebuild")
@click.option("--from", "first", callback=_day, required=True, metavar="YYYY-MM-DD", help="First local day.")
@click.option("--to", "last", callback=_day, default=None, metavar="YYYY-MM-DD", help="Last local day (default: today).")
def rebuild_command(first: date, last: date | None) -> None:
    """Recompute the daily 四查四帮 and 报平安 figures of [--from, --to], a month at a time, each in
    its own transaction, then the trends' weekly request figures (and a province's standard views)."""
    from services import daily_checkin_figures, daily_figures, province_views, weekly_figures

    with app_services() as svc:
        tz = svc.settings.tz
        now = svc.clock()
        last = last or now.astimezone(tz).date()
        if last < first:
            raise click.BadParameter("--to is before --from", param_hint="--to")
        total, start = 0, first
        while start <= last:
            end = min(start + timedelta(days=CHUNK_DAYS - 1), last)
            with svc.session_factory() as session:
                rows = daily_figures.rebuild(session, start, end, tz, now)
                rows += daily_checkin_figures.rebuild(session, start, end, tz, now)
                session.commit()
            total += rows
            click.echo(f"  {start} – {end}: {rows} rows")
            start = end + timedelta(days=1)
        with svc.session_factory() as session:
            weeks = weekly_figures.rebuild(session, now.astimezone(tz).date(), tz, now)
            session.commit()
        click.echo(f"Rebuilt {(last - first).days + 1} days ({total} rows) and the trends' weeks ({weeks} rows).")
        with svc.session_factory() as session:
            # A province's kept views were made from the figures just replaced; stamped with the time
            # now (a long rebuild's start would make them stale at once).
            views = province_views.refresh(session, tz, svc.clock())
            session.commit()
        if views:
            click.echo(f"Recomputed the province's standard views ({views}).")
