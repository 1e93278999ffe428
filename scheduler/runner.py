"""The scheduler process: APScheduler's BlockingScheduler in the deployment's time zone.

It is wired by the composition root (`runtime.container`), as the web app and the inbox worker
are; the jobs themselves only call services.

Several processes may run for availability; only the leader (see leader.py) runs jobs. Each job
is idempotent anyway, so a moment with two leaders changes nothing.
"""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from config.logging import log_ids, new_id
from config.settings import Settings
from runtime import metrics
from runtime.container import build_services
from scheduler import calendar, jobs
from scheduler.leader import Leadership

logger = logging.getLogger(__name__)

# One run at a time per job; runs missed while busy merge into one.
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1}
# Interval jobs may start this late and still run; calendar jobs use the catch-up grace.
INTERVAL_GRACE_SECONDS = 30


@dataclass
class SchedulerProcess:
    """Everything one scheduler process holds."""

    settings: Settings
    context: jobs.JobContext
    clock: object
    leadership: Leadership
    engine: object

    @property
    def grace(self) -> timedelta:
        """How late a missed daily or weekly job may still run."""
        return timedelta(minutes=self.settings.scheduler_catchup_grace_minutes)

    def heartbeat(self) -> None:
        """Keep or take the leader lock; a new leader first catches up missed calendar jobs."""
        if self.leadership.heartbeat() == "acquired":
            self.catch_up()

    def catch_up(self) -> None:
        """Run each calendar job whose last due time passed while no leader ran (within the grace)."""
        now = self.clock()
        for job in calendar.calendar_jobs(self.settings.tz):
            self._guarded(job.id, lambda job=job: calendar.run_calendar_job(self.context, job, now, self.grace))

    def interval(self, job: calendar.IntervalJob) -> None:
        """An interval job's body, on the leader only."""
        if self.leadership.is_leader:
            self._guarded(job.id, lambda: calendar.run_interval_job(self.context, job, self.clock()))

    def scheduled(self, job: calendar.CalendarJob) -> None:
        """A calendar job's body, on the leader only; the ledger makes it once per due time."""
        if self.leadership.is_leader:
            self._guarded(job.id, lambda: calendar.run_calendar_job(self.context, job, self.clock(), self.grace))

    def _guarded(self, job_id: str, work) -> None:
        # One id per run: every line the run logs (pushes, retries, failures) can be found together.
        with log_ids(run_id=new_id()):
            try:
                work()
            except Exception:
                # One failed run must not stop the scheduler; the next run tries again.
                logger.exception("scheduler=job_failed job=%s", job_id)
                metrics.job_run(job_id, "failed")


def build_process(settings: Settings, clock=None) -> SchedulerProcess:
    """Connect to the database, Redis and WeChat through the composition root, as every process does."""
    svc = build_services(settings, clock=clock)
    context = jobs.context_for(svc)
    leadership = Leadership(svc.redis, svc.keys.scheduler_leader(), settings.scheduler_leader_ttl)
    return SchedulerProcess(settings, context, svc.clock, leadership, svc.engine)


def build_scheduler(process: SchedulerProcess) -> BlockingScheduler:
    """The APScheduler instance with the heartbeat and every job under a stable id."""
    settings = process.settings
    scheduler = BlockingScheduler(timezone=settings.tz, job_defaults=JOB_DEFAULTS)
    heartbeat_every = max(settings.scheduler_leader_ttl / 3, 0.5)
    scheduler.add_job(
        process.heartbeat, IntervalTrigger(seconds=heartbeat_every), id="leader_heartbeat",
        next_run_time=datetime.now(settings.tz), misfire_grace_time=INTERVAL_GRACE_SECONDS,
    )
    for job in calendar.INTERVAL_JOBS:
        scheduler.add_job(
            process.interval, IntervalTrigger(seconds=job.seconds), args=[job], id=job.id,
            misfire_grace_time=INTERVAL_GRACE_SECONDS,
        )
    for job in calendar.calendar_jobs(settings.tz):
        scheduler.add_job(
            process.scheduled, job.trigger, args=[job], id=job.id,
            misfire_grace_time=int(process.grace.total_seconds()),
        )
    return scheduler


def serve_metrics(process: SchedulerProcess):
    """Serve this process's metrics on METRICS_PORT (none when 0), with when each daily job last ran."""
    settings = process.settings
    if not settings.metrics_port:
        return None
    try:
        metrics.job_succeeded_before(calendar.last_done(process.context))
    except Exception:  # noqa: BLE001 - the database may still be starting; the jobs' own runs set them
        logger.warning("scheduler=metrics_without_history", exc_info=True)
    return metrics.serve(settings.metrics_port, settings.metrics_bind,
                         metrics.SchedulerCollector(lambda: process.leadership.is_leader))


def run_forever(settings: Settings) -> None:
    """Run the scheduler in the foreground until SIGTERM or Ctrl-C, then give up leadership."""
    process = build_process(settings)
    scheduler = build_scheduler(process)

    def stop(signum, _frame):
        logger.info("scheduler=stopping signal=%s", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    serve_metrics(process)
    logger.info("scheduler=starting identity=%s tz=%s jobs=%s", process.leadership.identity, settings.tz_name,
                len(scheduler.get_jobs()))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        process.leadership.release()
        process.engine.dispose()
        logger.info("scheduler=stopped identity=%s", process.leadership.identity)
