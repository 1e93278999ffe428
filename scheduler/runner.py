"""The scheduler process: one APScheduler BlockingScheduler in the deployment's time zone."""

from __future__ import annotations

import logging

from apscheduler.schedulers.blocking import BlockingScheduler

from config.settings import Settings

logger = logging.getLogger(__name__)

# Every job: one run at a time, late runs merged into one, a short grace for late starts.
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}


def build_scheduler(settings: Settings) -> BlockingScheduler:
    """The scheduler with its time zone and job defaults; jobs are added by `register_jobs`."""
    scheduler = BlockingScheduler(timezone=settings.tz, job_defaults=JOB_DEFAULTS)
    register_jobs(scheduler, settings)
    return scheduler


def register_jobs(scheduler: BlockingScheduler, settings: Settings) -> None:
    """Add every periodic job, each under a stable id (none are defined yet)."""


def run_forever(settings: Settings) -> None:
    """Run the scheduler in the foreground until interrupted."""
    scheduler = build_scheduler(settings)
    logger.info("scheduler=starting tz=%s jobs=%s", settings.tz_name, len(scheduler.get_jobs()))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        logger.info("scheduler=stopped")
