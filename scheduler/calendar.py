"""The job table, and the ledger that makes each calendar job run once per due instant.

Interval jobs (outbox, escalation scan) are idempotent by themselves and simply run. Calendar
jobs (08:00 reminders, digests) run through `run_calendar_job`: it finds the latest instant the
job was due, runs it once for that instant (the `job_runs` unique key decides, across
processes), catches up a missed run within the grace, and skips, with a log line, after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from config import policy
from models import JobRun
from models.db import insert_ignoring_conflicts
from runtime import metrics
from scheduler import jobs
from services import reminders
from services.requests import RequestEnv

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class IntervalJob:
    """A job that runs every `seconds`."""

    id: str
    seconds: int
    run: Callable[[jobs.JobContext, datetime], int]


@dataclass(frozen=True)
class CalendarJob:
    """A job due at fixed local times (a cron trigger in the deployment's time zone)."""

    id: str
    trigger: CronTrigger
    run: Callable[[Session, RequestEnv, datetime], int]
    # A job too long for one transaction (archiving, a province's reminders) takes the job context
    # and commits its own windows; it must be safe to run again, and its ledger row is written once
    # it has finished.
    windowed: bool = False
    # What the number a run returns counts, in its ledger row and log line.
    counts: str = "pushes"


# Sends what the other jobs queue: a tick runs it last.
OUTBOX_JOB = IntervalJob("outbox_dispatch", 5, jobs.outbox_job)
INTERVAL_JOBS = (
    OUTBOX_JOB,
    IntervalJob("escalation_scan", 60, jobs.escalation_job),
    IntervalJob("figures", int(jobs.FIGURES_EVERY.total_seconds()), jobs.figures_job),
    IntervalJob("media_retention", 3600, jobs.media_retention_job),
    IntervalJob("message_retention", 3600, jobs.message_retention_job),
)


def calendar_jobs(tz: ZoneInfo) -> tuple[CalendarJob, ...]:
    """The daily, weekly and monthly jobs, at local times."""
    return (
        CalendarJob("visit_reminders", CronTrigger(hour=8, minute=0, timezone=tz), jobs.visit_reminders_job,
                    windowed=True),
        CalendarJob("town_digest", CronTrigger(hour=8, minute=30, timezone=tz), reminders.town_digests),
        CalendarJob("city_summary", CronTrigger(day_of_week="mon", hour=9, minute=0, timezone=tz),
                    reminders.city_summaries),
        CalendarJob("monthly_report", CronTrigger(day=1, hour=9, minute=0, timezone=tz), jobs.monthly_report_job,
                    windowed=True),
        CalendarJob("checkin_reminders", _daily_at(policy.CHECKIN_REMIND_AT, tz), jobs.checkin_reminders_job,
                    windowed=True),
        CalendarJob("checkin_silences", _daily_at(policy.CHECKIN_RAISE_AT, tz), jobs.checkin_silences_job,
                    windowed=True, counts="cases"),
        CalendarJob("archive", _daily_at(policy.ARCHIVE_AT, tz), jobs.archive_job, windowed=True, counts="rows"),
    )


def _daily_at(at, tz: ZoneInfo) -> CronTrigger:
    """A trigger every day at the local time `at`."""
    return CronTrigger(hour=at.hour, minute=at.minute, timezone=tz)


def last_due(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The latest instant at or before `now` when the trigger fired (looking back 8 days)."""
    fire = trigger.get_next_fire_time(None, now - timedelta(days=8))
    last = None
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return last


def run_calendar_job(ctx: jobs.JobContext, job: CalendarJob, now: datetime, grace: timedelta) -> str:
    """Run `job` once for its latest due instant: "ran", "already", "skipped" or "not_due".

    The ledger row and the job's work commit in one transaction: a crash mid-job leaves no
    trace, so the next run or tick does it again; a finished job is never done twice.
    """
    due = last_due(job.trigger, now)
    if due is None:
        return "not_due"
    late = now - due
    skipped = late > grace
    if job.windowed and not skipped:
        return _run_windowed(ctx, job, due, now)
    with ctx.session_factory() as session:
        # On PostgreSQL a second process waits here until the first commits, then sees the row.
        claimed = session.execute(
            insert_ignoring_conflicts(session, JobRun)
            .values(job_id=job.id, due_at=due, started_at=now, status="skipped" if skipped else "running")
            .returning(JobRun.id)
        ).scalar_one_or_none()
        if claimed is None:
            return "already"
        detail = {"late_seconds": int(late.total_seconds())}
        if skipped:
            logger.warning(
                "scheduler=skipped job=%s due=%s late_minutes=%s grace_minutes=%s reason=missed_beyond_grace",
                job.id, due.isoformat(), int(late.total_seconds() // 60), int(grace.total_seconds() // 60),
            )
        else:
            detail["pushes"] = job.run(session, ctx.env, now)
        session.execute(
            update(JobRun).where(JobRun.id == claimed)
            .values(status="skipped" if skipped else "done", finished_at=now, detail=detail)
        )
        session.commit()
    metrics.job_run(job.id, "skipped" if skipped else "ok", now)
    if not skipped:
        logger.info("scheduler=ran job=%s due=%s pushes=%s late_seconds=%s",
                    job.id, due.isoformat(), detail["pushes"], detail["late_seconds"])
    return "skipped" if skipped else "ran"


def _run_windowed(ctx: jobs.JobContext, job: CalendarJob, due: datetime, now: datetime) -> str:
    """Run a windowed job once for `due`: "ran" or "already".

    Its windows commit as they go, so the ledger row cannot share their transaction: it is looked up
    first and written last. A run killed halfway leaves no row, and the next run or tick finishes the
    work; two processes racing only repeat work that is safe to repeat, and one ledger row wins.
    """
    with ctx.session_factory() as session:
        done = session.scalar(select(JobRun.id).where(JobRun.job_id == job.id, JobRun.due_at == due))
    if done is not None:
        return "already"
    done_count = job.run(ctx, now)
    detail = {job.counts: done_count, "late_seconds": int((now - due).total_seconds())}
    with ctx.session_factory() as session:
        session.execute(insert_ignoring_conflicts(session, JobRun).values(
            job_id=job.id, due_at=due, started_at=now, finished_at=now, status="done", detail=detail))
        session.commit()
    metrics.job_run(job.id, "ok", now)
    logger.info("scheduler=ran job=%s due=%s %s=%s late_seconds=%s", job.id, due.isoformat(), job.counts, done_count,
                detail["late_seconds"])
    return "ran"


def run_interval_job(ctx: jobs.JobContext, job: IntervalJob, now: datetime) -> int:
    """Run an interval job once for `now`, counting it for the metrics; what it returns."""
    result = job.run(ctx, now)
    metrics.job_run(job.id, "ok", now)
    return result


def last_done(ctx: jobs.JobContext) -> dict[str, datetime]:
    """When each calendar job last finished its work, from the ledger (for a starting scheduler's metrics)."""
    with ctx.session_factory() as session:
        rows = session.execute(select(JobRun.job_id, func.max(JobRun.finished_at))
                               .where(JobRun.status == "done").group_by(JobRun.job_id)).all()
    return {job_id: finished for job_id, finished in rows if finished is not None}


def tick(ctx: jobs.JobContext, tz: ZoneInfo, at: datetime, grace: timedelta) -> dict[str, object]:
    """Run every job due at `at` once: the interval jobs, and each calendar job for its last due time.

    The jobs that queue pushes run first and the outbox dispatch last, so what a tick queues goes
    out in that same tick rather than one tick later.
    """
    results: dict[str, object] = {}
    for job in INTERVAL_JOBS:
        if job is not OUTBOX_JOB:
            results[job.id] = run_interval_job(ctx, job, at)
    for job in calendar_jobs(tz):
        results[job.id] = run_calendar_job(ctx, job, at, grace)
    results[OUTBOX_JOB.id] = run_interval_job(ctx, OUTBOX_JOB, at)
    return results
