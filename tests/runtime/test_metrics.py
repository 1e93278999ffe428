"""Prometheus metrics after a real scenario: messages through the signed webhook, the inbox worker, the
media job and a scheduler tick, scraped from the web's /metrics (behind its token) and from a worker's
metrics port.

prometheus_client keeps one registry per process, shared by every test here: each test reads the
values before and after, and checks what moved."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
import requests as http
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from config import gunicorn
from models import FamilyLink, OutboxMessage
from runtime import metrics
from runtime.media_jobs import fetch_due
from scheduler import calendar, jobs
from scheduler.leader import Leadership
from tests.support.factories import fresh, make_beneficiary, make_town, make_wechat_user
from workers.inbox import InboxWorker

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-for-the-tests-0000000000"
# The smallest PNG: WeChat's stand-in hands these bytes back from media/get.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)

Values = dict[tuple[str, frozenset], float]


def parse(text: str) -> Values:
    """Every sample of a scrape: (name, labels) -> value."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(values: Values, name: str, **labels) -> float:
    """One sample's value; 0 when the series does not exist yet (a labelled counter before its first count)."""
    return values.get((name, frozenset(labels.items())), 0.0)


class Scraper:
    """Reads /metrics as Prometheus would, with the bearer token."""

    def __init__(self, client):
        self.client = client

    def __call__(self) -> Values:
        response = self.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.data
        assert response.mimetype == "text/plain"
        return parse(response.get_data(as_text=True))


@pytest.fixture
def app(make_app):
    """The production shape: queued replies, metrics for a scraper holding the token."""
    return make_app(wechat_reply_mode="queued", metrics_token=TOKEN)


@pytest.fixture
def svc(app):
    """The app's services, as the workers and the scheduler get them."""
    return app.extensions["sanzhida"]


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def put_media(fake_wechat, data: bytes, kind: str) -> str:
    """Put a file in the WeChat stand-in, as WeChat holds what a user sent; its MediaId."""
    answer = http.post(f"http://{fake_wechat.host}:{fake_wechat.port}/_media", files={"media": (f"f.{kind}", data)},
                       data={"type": kind}, timeout=5)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()["media_id"]


def fault(fake_wechat, **spec) -> None:
    """Queue a failure on the stand-in."""
    http.post(f"http://{fake_wechat.host}:{fake_wechat.port}/_faults", json=spec, timeout=5).raise_for_status()


def image(sender, openid: str, media_id: str) -> str:
    """An image message's XML."""
    return sender.raw(openid, "image", f"<PicUrl><![CDATA[http://mmbiz/{media_id}]]></PicUrl>"
                                       f"<MediaId><![CDATA[{media_id}]]></MediaId>")


def sent_rows(session, kind: str) -> int:
    """Outbox rows sent by one channel, as committed."""
    fresh(session)
    return session.scalar(select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.status == "sent", OutboxMessage.kind == kind))


def test_metrics_are_not_public(make_app, app):
    """No token configured: /metrics is not there. Configured: only the right bearer token reads it."""
    assert make_app().test_client().get("/metrics").status_code == 404
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_scenario_moves_the_counters_and_gauges(app, svc, session, sender, clock, fake_wechat, settings):
    """Webhook, inbox worker, media job and scheduler tick: each moves its counters, the queue gauges
    follow the database, and a worker's port serves the same process's metrics with its leader gauge."""
    client = app.test_client()
    scrape = Scraper(client)
    town = make_town(session, clock())
    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    son = make_wechat_user(session, "o-son", clock())
    session.add(FamilyLink(beneficiary_id=person.id, wechat_user_id=son.id, relation="子女", active=True,
                           created_at=clock()))
    session.commit()
    start = scrape()
    assert value(start, "sanzhida_database_up") == 1 and value(start, "sanzhida_redis_up") == 1

    # The webhook: two messages stored, one retry, one forged request.
    help_text = sender.text("o-son", "家里没米了，能帮忙买点吗", msg_id=7001)
    for xml in (help_text, help_text, image(sender, "o-son", put_media(fake_wechat, PNG, "image"))):
        assert sender.post(client, xml)[0].status_code == 200
    assert sender.post(client, sender.text("o-son", "假的"), signature="0" * 40)[0].status_code == 403
    clock.advance(seconds=30)
    queued = scrape()
    requests_total = "sanzhida_webhook_requests_total"
    assert value(queued, requests_total, outcome="stored", reason="none") - \
        value(start, requests_total, outcome="stored", reason="none") == 2
    assert value(queued, requests_total, outcome="duplicate", reason="none") - \
        value(start, requests_total, outcome="duplicate", reason="none") == 1
    assert value(queued, requests_total, outcome="refused", reason="bad_signature") - \
        value(start, requests_total, outcome="refused", reason="bad_signature") == 1
    latency = "sanzhida_webhook_request_duration_seconds_count"
    assert value(queued, latency, outcome="stored") - value(start, latency, outcome="stored") == 2
    assert value(queued, "sanzhida_inbox_waiting") == 2
    assert value(queued, "sanzhida_inbox_oldest_age_seconds") == 30

    # The inbox worker handles both and sends the replies at once.
    worker = InboxWorker(svc)
    assert worker.drain() == 2
    handled = scrape()
    assert value(handled, "sanzhida_inbox_messages_total", outcome="handled") - \
        value(start, "sanzhida_inbox_messages_total", outcome="handled") == 2
    assert value(handled, "sanzhida_inbox_waiting") == 0
    assert value(handled, "sanzhida_inbox_oldest_age_seconds") == 0
    assert value(handled, "sanzhida_outbox_sent_total", channel="custom") - \
        value(start, "sanzhida_outbox_sent_total", channel="custom") == sent_rows(session, "custom") == 2
    assert value(handled, "sanzhida_media_pending") == 1

    # The media job keeps the photo; a photo WeChat no longer holds is retried later.
    sender.post(client, image(sender, "o-son", "no-such-media"))
    worker.drain()
    fetch_due(svc.media_env)
    fetched = scrape()
    assert value(fetched, "sanzhida_media_fetched_total", kind="image") - \
        value(start, "sanzhida_media_fetched_total", kind="image") == 1
    assert value(fetched, "sanzhida_media_failed_total", kind="image", outcome="retried") - \
        value(start, "sanzhida_media_failed_total", kind="image", outcome="retried") == 1
    assert (value(fetched, "sanzhida_media_pending"), value(fetched, "sanzhida_media_dead")) == (1, 0)
    assert value(fetched, "sanzhida_speech_pending") == 0

    # Three hours on, nobody has accepted: the tick takes rung 1 and dispatches, and WeChat refuses two
    # pushes, one for good (an unknown template id) and one for now (system busy).
    at = clock.advance(hours=3)
    fault(fake_wechat, path="message/template/send", errcode=40037)
    fault(fake_wechat, path="message/custom/send", errcode=-1)
    results = calendar.tick(jobs.context_for(svc), settings.tz, at,
                            timedelta(minutes=settings.scheduler_catchup_grace_minutes))
    assert results["escalation_scan"] == 1
    ticked = scrape()
    assert value(ticked, "sanzhida_escalations_total", level="1") - \
        value(start, "sanzhida_escalations_total", level="1") == 1
    assert value(ticked, "sanzhida_outbox_dead_total", errcode="40037") - \
        value(start, "sanzhida_outbox_dead_total", errcode="40037") == 1
    assert value(ticked, "sanzhida_outbox_retried_total", errcode="-1") - \
        value(start, "sanzhida_outbox_retried_total", errcode="-1") == 1
    assert (value(ticked, "sanzhida_outbox_dead_letters"), value(ticked, "sanzhida_outbox_due")) == (1, 0)
    for channel in ("custom", "template", "skipped"):
        assert value(ticked, "sanzhida_outbox_sent_total", channel=channel) - \
            value(start, "sanzhida_outbox_sent_total", channel=channel) == sent_rows(session, channel)
    for job in ("escalation_scan", "outbox_dispatch", "media_retention"):
        assert value(ticked, "sanzhida_scheduler_job_last_success_timestamp_seconds", job=job) == at.timestamp()
        assert value(ticked, "sanzhida_scheduler_job_runs_total", job=job, outcome="ok") - \
            value(start, "sanzhida_scheduler_job_runs_total", job=job, outcome="ok") == 1
    # 08:00's reminders were due four hours ago, beyond the catch-up grace.
    assert value(ticked, "sanzhida_scheduler_job_runs_total", job="visit_reminders", outcome="skipped") - \
        value(start, "sanzhida_scheduler_job_runs_total", job="visit_reminders", outcome="skipped") == 1

    # A scheduler's own port: this process's counters, and whether it leads.
    key = f"{settings.redis_prefix}:test:metrics-leader"
    leader, standby = Leadership(svc.redis, key, 30), Leadership(svc.redis, key, 30)
    assert (leader.heartbeat(), standby.heartbeat()) == ("acquired", "follower")
    server = metrics.serve(free_port(), "127.0.0.1", metrics.SchedulerCollector(lambda: leader.is_leader))
    try:
        port_values = parse(http.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5).text)
    finally:
        server.shutdown()
        server.server_close()
        leader.release()
    assert value(port_values, "sanzhida_scheduler_leader") == 1
    for name, labels in (("sanzhida_inbox_messages_total", {"outcome": "handled"}),
                         ("sanzhida_escalations_total", {"level": "1"}),
                         ("sanzhida_outbox_dead_total", {"errcode": "40037"})):
        assert value(port_values, name, **labels) == value(ticked, name, **labels)
    standby_values = parse(generate_latest(metrics.registry(
        metrics.SchedulerCollector(lambda: standby.is_leader))).decode())
    assert value(standby_values, "sanzhida_scheduler_leader") == 0
    # The queue gauges are the web's alone: a worker port never repeats them.
    assert not any(name.startswith("sanzhida_inbox_waiting") for name, _ in port_values)


def test_a_worker_serves_no_metrics_on_port_0():
    """METRICS_PORT=0 (the default) serves nothing."""
    assert metrics.serve(0, "127.0.0.1") is None


def test_gunicorn_workers_add_up_in_multiprocess_mode(tmp_path, monkeypatch):
    """Under gunicorn every worker writes its counts to PROMETHEUS_MULTIPROC_DIR and /metrics adds them up;
    a worker's metrics the web never records do not appear there, not even as zeros."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_99999.db").write_bytes(b"left by an earlier server")
    with monkeypatch.context() as patch:
        patch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
        gunicorn.on_starting(None)
    assert list(folder.iterdir()) == []
    script = textwrap.dedent("""
        import os
        from prometheus_client import generate_latest
        from runtime import metrics
        for _ in range(2):
            pid = os.fork()
            if pid == 0:
                metrics.webhook_request("stored", None, 0.02)
                os._exit(0)
            os.waitpid(pid, 0)
        print(generate_latest(metrics.registry()).decode())
    """)
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60,
                         check=True, cwd=ROOT).stdout
    scraped = parse(out)
    assert value(scraped, "sanzhida_webhook_requests_total", outcome="stored", reason="none") == 2
    assert value(scraped, "sanzhida_webhook_request_duration_seconds_count", outcome="stored") == 2
    assert not any(name.startswith(("sanzhida_inbox", "sanzhida_outbox", "sanzhida_scheduler", "sanzhida_media"))
                   for name, _ in scraped)
