"""The media worker: fetches voice, photos and video from WeChat, keeps them, makes voice playable and
asks the speech recogniser what it says (`runtime.media_jobs.fetch_due`).

Run with `sanzhida media run`. Several workers may run against one database: each item is claimed
with `FOR UPDATE SKIP LOCKED` on PostgreSQL. An idle worker looks for due items once a second.
"""

from __future__ import annotations

import logging
import signal
import time

from sqlalchemy.exc import InterfaceError, OperationalError

from config.logging import log_ids, new_id
from config.settings import Settings
from runtime import metrics
from runtime.container import build_services
from runtime.media_jobs import MediaEnv, MediaReport, fetch_due

logger = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1.0
FAILURE_BACKOFF_SECONDS = 5.0
BATCH = 10


class MediaWorker:
    """One worker: fetch what is due, again until stopped."""

    def __init__(self, env: MediaEnv):
        self.env = env
        self.stopping = False
        self.total = MediaReport()

    def step(self) -> int:
        """One batch; how many items it claimed, or -1 after a database failure."""
        try:
            # One id per batch, on each line of its items.
            with log_ids(run_id=new_id()):
                report = fetch_due(self.env, batch=BATCH)
        except (OperationalError, InterfaceError):
            logger.warning("media=database_failed; retrying", exc_info=True)
            return -1
        self.total.stored += report.stored
        self.total.dead += report.dead
        self.total.transcribed += report.transcribed
        return report.claimed

    def run(self) -> None:
        """Fetch while there is work; otherwise look again shortly."""
        while not self.stopping:
            claimed = self.step()
            if claimed == BATCH:
                continue
            if not self.stopping:
                time.sleep(FAILURE_BACKOFF_SECONDS if claimed < 0 else IDLE_POLL_SECONDS)


def run_forever(settings: Settings) -> None:
    """Run one media worker in the foreground until SIGTERM or Ctrl-C."""
    svc = build_services(settings)
    worker = MediaWorker(svc.media_env)

    def stop(signum, _frame):
        logger.info("media=stopping signal=%s", signum)
        worker.stopping = True

    signal.signal(signal.SIGTERM, stop)
    metrics.serve(settings.metrics_port, settings.metrics_bind)
    logger.info("media=starting store=%s asr=%s", svc.media_store, "on" if svc.recognizer else "off")
    try:
        worker.run()
    except KeyboardInterrupt:
        pass
    finally:
        svc.engine.dispose()
        logger.info("media=stopped stored=%d transcribed=%d dead=%d", worker.total.stored, worker.total.transcribed,
                    worker.total.dead)
