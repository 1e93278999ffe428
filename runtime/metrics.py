"""Prometheus metrics: every metric's definition, the scrape-time collectors, and the workers' metrics port.

The web app serves these at `/metrics` (behind METRICS_TOKEN); the inbox worker, the media worker and
the scheduler each serve them on their own METRICS_PORT. Under gunicorn, prometheus_client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by config/gunicorn.py) adds up every web worker.

Labels stay few and bounded (outcomes, reasons, channels, errcodes, levels, job ids) and never carry
an openid, a name or anything a person wrote. Every metric defined here has labels, so importing this
module records nothing: a web process under multiprocess mode never shows a worker's metrics as zeros.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from services import queues

logger = logging.getLogger(__name__)

# --- the web: the WeChat webhook ------------------------------------------------------------------

# Why the webhook refused a request; anything else is counted as "other".
REFUSAL_REASONS = frozenset({
    "bad_signature", "bad_timestamp", "stale_timestamp", "nonce_reused", "dtd", "too_large",
    "encrypted_without_key", "bad_msg_signature", "bad_ciphertext", "plaintext_in_safe_mode",
    "malformed_xml", "not_wechat",
})
ERROR_REASONS = frozenset({"redis_unavailable", "exception"})

WEBHOOK_REQUESTS = Counter(
    "sanzhida_webhook_requests", "Requests to /wechat by outcome (stored, duplicate, verified, refused, error).",
    ["outcome", "reason"],
)
WEBHOOK_SECONDS = Histogram(
    "sanzhida_webhook_request_duration_seconds", "Time to answer a request to /wechat (WeChat waits 5 s).",
    ["outcome"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# --- the inbox worker -----------------------------------------------------------------------------

INBOX_MESSAGES = Counter(
    "sanzhida_inbox_messages", "Stored messages the inbox worker finished: handled, or failed (kept with an apology).",
    ["outcome"],
)

# --- the outbox dispatcher (the scheduler's job and the inbox worker's replies) ------------------

OUTBOX_SENT = Counter("sanzhida_outbox_sent", "Pushes sent, by channel (custom, template, skipped).", ["channel"])
OUTBOX_RETRIED = Counter("sanzhida_outbox_retried", "Pushes that failed and will be retried, by WeChat errcode.",
                         ["errcode"])
OUTBOX_DEAD = Counter("sanzhida_outbox_dead", "Pushes given up as dead letters, by WeChat errcode.", ["errcode"])

# --- wake-ups of the inbox workers and outbox dispatchers (runtime/wakeups.py) ---------------------

WAKEUPS = Counter(
    "sanzhida_worker_wakeups",
    "Times an idle worker looked for work, by process and cause (notify, poll, connected, interrupted).",
    ["process", "cause"],
)
LISTENER_RECONNECTS = Counter("sanzhida_listener_reconnects",
                              "Times a worker made its lost listening connection to PostgreSQL again.", ["process"])

# --- the scheduler --------------------------------------------------------------------------------

ESCALATIONS = Counter("sanzhida_escalations", "Rungs of the escalation ladder taken, by level.", ["level"])
JOB_RUNS = Counter("sanzhida_scheduler_job_runs", "Scheduler job runs by outcome (ok, failed, skipped).",
                   ["job", "outcome"])
JOB_LAST_SUCCESS = Gauge(
    "sanzhida_scheduler_job_last_success_timestamp_seconds", "When each scheduler job last ran successfully.",
    ["job"], multiprocess_mode="max",
)

# --- the media worker -----------------------------------------------------------------------------

MEDIA_FETCHED = Counter("sanzhida_media_fetched", "Media fetched from WeChat and kept, by kind.", ["kind"])
MEDIA_FAILED = Counter("sanzhida_media_failed", "Media fetches that failed, by kind and outcome (retried, dead).",
                       ["kind", "outcome"])
SPEECH_TRANSCRIBED = Counter("sanzhida_speech_transcribed", "Voice sent to the speech recogniser, by outcome.",
                             ["outcome"])


def webhook_request(outcome: str, reason: str | None, seconds: float) -> None:
    """Count one request to /wechat and how long it took."""
    known = REFUSAL_REASONS if outcome == "refused" else ERROR_REASONS if outcome == "error" else ()
    label = (reason if reason in known else "other") if known else "none"
    WEBHOOK_REQUESTS.labels(outcome, label).inc()
    WEBHOOK_SECONDS.labels(outcome).observe(seconds)


def inbox_finished(handled: int = 0, failed: int = 0) -> None:
    """Count messages the inbox worker finished."""
    INBOX_MESSAGES.labels("handled").inc(handled)
    INBOX_MESSAGES.labels("failed").inc(failed)


def worker_woken(process: str, cause: str) -> None:
    """Count one wake-up of an idle worker and why."""
    WAKEUPS.labels(process, cause).inc()


def listener_reconnected(process: str) -> None:
    """Count a listening connection made again after it was lost."""
    LISTENER_RECONNECTS.labels(process).inc()


def errcode_label(errcode: int | None) -> str:
    """WeChat's errcode as a label; "none" when the failure was not WeChat's answer."""
    return "none" if errcode is None else str(int(errcode))


def outbox_outcomes(sent_channels: Iterable[str], failures: Iterable[tuple[int | None, str]]) -> None:
    """Count recorded pushes: each sent one's channel, each failure's (errcode, "dead" or "pending")."""
    for channel in sent_channels:
        OUTBOX_SENT.labels(channel).inc()
    for errcode, status in failures:
        (OUTBOX_DEAD if status == "dead" else OUTBOX_RETRIED).labels(errcode_label(errcode)).inc()


def escalations(by_level: Mapping[int, int]) -> None:
    """Count the rungs one escalation scan took."""
    for level, count in by_level.items():
        ESCALATIONS.labels(str(level)).inc(count)


def job_run(job_id: str, outcome: str, at: datetime | None = None) -> None:
    """Count one scheduler job run; "ok" also sets the job's last success to `at`."""
    JOB_RUNS.labels(job_id, outcome).inc()
    if outcome == "ok" and at is not None:
        JOB_LAST_SUCCESS.labels(job_id).set(at.timestamp())


def job_succeeded_before(last: Mapping[str, datetime]) -> None:
    """Set the last successes a starting scheduler finds on record (its own runs move them on)."""
    for job_id, at in last.items():
        JOB_LAST_SUCCESS.labels(job_id).set(at.timestamp())


def media_fetched(kind: str) -> None:
    """Count one media item kept."""
    MEDIA_FETCHED.labels(kind).inc()


def media_failed(kind: str, dead: bool) -> None:
    """Count one failed fetch: retried later, or given up."""
    MEDIA_FAILED.labels(kind, "dead" if dead else "retried").inc()


def speech_transcribed(ok: bool) -> None:
    """Count one answer (or failure) of the speech recogniser."""
    SPEECH_TRANSCRIBED.labels("done" if ok else "failed").inc()


# --- gauges computed at scrape time ---------------------------------------------------------------

class QueueCollector:
    """What waits in each queue, and whether the database and Redis answer, read when scraped.

    The web's /metrics uses it, so the queues are seen even while a worker is down. Every web process
    reports the same numbers: aggregate them with max().
    """

    def __init__(self, session_factory, redis, clock: Callable[[], datetime]):
        self.session_factory, self.redis, self.clock = session_factory, redis, clock

    def collect(self):
        """Yield the queue gauges (none when the database does not answer) and the two up gauges."""
        depths = None
        try:
            with self.session_factory() as session:
                depths = queues.depths(session, self.clock())
        except Exception as exc:  # noqa: BLE001 - a scrape reports the database down, never fails
            logger.warning("metrics=database_down error=%s", type(exc).__name__)
        try:
            redis_up = bool(self.redis.ping())
        except Exception as exc:  # noqa: BLE001 - as above, for Redis
            logger.warning("metrics=redis_down error=%s", type(exc).__name__)
            redis_up = False
        yield GaugeMetricFamily("sanzhida_database_up", "1 when the database answered this scrape.",
                                value=0 if depths is None else 1)
        yield GaugeMetricFamily("sanzhida_redis_up", "1 when Redis answered this scrape.", value=int(redis_up))
        if depths is None:
            return
        for name, value, doc in (
            ("sanzhida_inbox_waiting", depths.inbox_waiting, "Stored messages waiting for the inbox worker."),
            ("sanzhida_inbox_oldest_age_seconds", depths.inbox_oldest_age_seconds,
             "Age of the oldest message waiting for the inbox worker (0 when none waits)."),
            ("sanzhida_outbox_due", depths.outbox_due, "Pushes due to be sent now."),
            ("sanzhida_outbox_dead_letters", depths.outbox_dead, "Pushes kept as dead letters."),
            ("sanzhida_media_pending", depths.media_pending, "Media items waiting to be fetched from WeChat."),
            ("sanzhida_media_dead", depths.media_dead, "Media items kept as dead letters."),
            ("sanzhida_speech_pending", depths.speech_pending, "Voice items waiting for a transcript."),
        ):
            yield GaugeMetricFamily(name, doc, value=value)


class SchedulerCollector:
    """Whether this scheduler process leads (1) or stands by (0), read when scraped."""

    def __init__(self, is_leader: Callable[[], bool]):
        self.is_leader = is_leader

    def collect(self):
        """Yield the leader gauge."""
        yield GaugeMetricFamily("sanzhida_scheduler_leader", "1 in the scheduler process that leads, else 0.",
                                value=1 if self.is_leader() else 0)


def multiprocess_dir() -> str | None:
    """PROMETHEUS_MULTIPROC_DIR when this process runs in multiprocess mode (under gunicorn)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def registry(*collectors) -> CollectorRegistry:
    """A registry of this process's metrics (every gunicorn worker's, in multiprocess mode) plus `collectors`."""
    combined = CollectorRegistry()
    if multiprocess_dir():
        MultiProcessCollector(combined)
    else:
        combined.register(REGISTRY)
    for collector in collectors:
        combined.register(collector)
    return combined


def serve(port: int, addr: str, *collectors):
    """Serve this process's metrics on `addr:port` in a daemon thread (0: not at all); the HTTP server."""
    if not port:
        return None
    server, _thread = start_http_server(port, addr=addr, registry=registry(*collectors))
    logger.info("metrics=serving addr=%s port=%s", addr, server.server_port)
    return server
