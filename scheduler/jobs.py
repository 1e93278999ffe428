"""Thin job wrappers: each opens its own sessions, calls services, and commits.

Every job takes the time it runs for (`now`) as an argument; none reads the wall clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from runtime import metrics, reports
from runtime.archive import archive_before
from runtime.dispatch import drain_outbox
from runtime.media_jobs import MediaEnv, purge_past_retention
from services import (
    archive,
    daily_figures,
    escalation,
    figures_refresh,
    province_views,
    reminders,
    retention,
    scope,
    silences,
)
from services.requests import RequestEnv

logger = logging.getLogger(__name__)

# The pre-aggregated figures are recomputed every 10 minutes; a run up to half a minute early still counts.
FIGURES_EVERY = timedelta(minutes=10)
FIGURES_SLACK = timedelta(seconds=30)


@dataclass(frozen=True)
class JobContext:
    """What jobs need: sessions, the WeChat client and the request settings."""

    session_factory: sessionmaker[Session]
    wechat: object
    env: RequestEnv
    # The media job's environment (store, recogniser …): for the outbox's voice and photo pushes and
    # for retention; None where no media are handled (benchmarks).
    media: MediaEnv | None = None
    media_retention_days: int = 365
    message_retention_days: int = 180
    archive_after_months: int = 13


def context_for(svc) -> JobContext:
    """The job context of a process's services (`runtime.container.AppServices`)."""
    return JobContext(session_factory=svc.session_factory, wechat=svc.wechat, env=svc.request_env,
                      media=svc.media_env, media_retention_days=svc.settings.media_retention_days,
                      message_retention_days=svc.settings.message_retention_days,
                      archive_after_months=svc.settings.archive_after_months)


def run_in_session(ctx: JobContext, work: Callable[[Session], int]) -> int:
    """Run `work` in one session and commit it (one session per job)."""
    with ctx.session_factory() as session:
        result = work(session)
        session.commit()
        return result


def outbox_job(ctx: JobContext, now: datetime) -> int:
    """Send what is due in the outbox (every few seconds)."""
    # Drain in batches so a backlog does not wait for the next run.
    return drain_outbox(ctx.session_factory, ctx.wechat, lambda: now,
                        store=ctx.media.store if ctx.media else None).sent


def media_retention_job(ctx: JobContext, now: datetime) -> int:
    """Delete media whose case closed longer ago than MEDIA_RETENTION_DAYS (hourly; a no-op mostly)."""
    if ctx.media is None:
        return 0
    return purge_past_retention(replace(ctx.media, clock=lambda: now), ctx.media_retention_days)


def message_retention_job(ctx: JobContext, now: datetime) -> int:
    """Stub out message payloads and push contents older than MESSAGE_RETENTION_DAYS (hourly), one
    short transaction per window of ids."""
    cutoff = retention.cutoff_for(now, ctx.message_retention_days)
    counts = {}
    for purge in retention.PURGES:
        with ctx.session_factory() as session:
            span = retention.id_span(session, purge, cutoff)
        counts[purge.name] = 0
        if span is None:
            continue
        for first in range(span[0], span[1] + 1, retention.WINDOW):
            last = min(first + retention.WINDOW - 1, span[1])
            counts[purge.name] += run_in_session(
                ctx, lambda s, p=purge, f=first, t=last: retention.purge_window(s, p, cutoff, f, t))
    total = sum(counts.values())
    if total:
        logger.info("retention=purged inbound=%s outbox=%s retention_days=%s",
                    counts["inbound"], counts["outbox"], ctx.message_retention_days)
    return total


def archive_job(ctx: JobContext, now: datetime) -> int:
    """Move finished rows older than ARCHIVE_AFTER_MONTHS whole months to the archive tables (daily,
    at a quiet hour), one short transaction per window of ids; how many rows moved."""
    tz = ctx.env.tz
    cutoff = archive.cutoff_for(archive.cutoff_month(now.astimezone(tz).date(), ctx.archive_after_months), tz)
    return archive_before(ctx.session_factory, cutoff, now).total


def city_by_city(work: Callable[..., int]) -> Callable[[JobContext, datetime], int]:
    """A calendar job's work (`work(session, env, now, city_id=…)`) run one city per transaction.

    A province then holds one city's rows in memory at a time, not thirty cities'. A run cut short
    is safe to run again: the pushes' keys and the unique rows the work writes stop a second push."""
    def run(ctx: JobContext, now: datetime) -> int:
        with ctx.session_factory() as session:
            cities = scope.city_ids(session)
        return sum(run_in_session(ctx, lambda s, c=city: work(s, ctx.env, now, city_id=c)) for city in cities)
    run.__name__ = run.__qualname__ = work.__name__
    run.__doc__ = f"{work.__name__}, one city per transaction."
    return run


visit_reminders_job = city_by_city(reminders.morning_visits)
checkin_reminders_job = city_by_city(silences.remind_families)
checkin_silences_job = city_by_city(silences.raise_silences)
# The 1st at 09:00: a complete report already kept is not made again, and each supervisor is told once.
monthly_report_job = city_by_city(reports.previous_month_report)


def escalation_job(ctx: JobContext, now: datetime) -> int:
    """Take every due rung of the escalation ladder (every minute)."""
    levels = run_in_session(ctx, lambda s: escalation.scan_by_level(s, ctx.env, now))
    metrics.escalations(levels)
    return sum(levels.values())


def figures_job(ctx: JobContext, now: datetime) -> int:
    """Recompute the pre-aggregated figures (every 10 minutes), in one transaction: the daily 四查四帮
    and 报平安 figures of the recent days and the weekly request figures of the trends' 26 weeks, all
    of them once an hour and what changed lately in between (services/figures_refresh.py); then, with
    several cities, the province's standard views (services/province_views.py).

    A tick runs every interval job; this one is skipped while today's rows are fresher than its
    period, so a day walked in five-minute ticks does not recompute the figures every tick."""
    tz = ctx.env.tz
    with ctx.session_factory() as session:
        if daily_figures.fresh(session, now, tz, FIGURES_EVERY - FIGURES_SLACK):
            return 0
    return (run_in_session(ctx, lambda s: figures_refresh.refresh(s, now, tz))
            # Then, in a transaction of its own, a province's standard views from the figures just made.
            + run_in_session(ctx, lambda s: province_views.refresh(s, tz, now)))


