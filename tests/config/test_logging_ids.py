"""Every line of one web request carries that request's id (echoed in X-Request-Id); every line of one
job run or worker batch carries its run id; routine runs with nothing to do write nothing."""

from __future__ import annotations

import io
import json
import logging

import pytest

from config.logging import style_handler
from scheduler import calendar
from scheduler.jobs import JobContext
from scheduler.leader import Leadership
from scheduler.runner import SchedulerProcess
from workers.inbox import InboxWorker


@pytest.fixture
def lines():
    """Every record at INFO and above, through the JSON format, parsed."""
    stream = io.StringIO()
    handler = style_handler(logging.StreamHandler(stream), "json")
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def ours(records: list[dict]) -> list[dict]:
    """Our own lines (the app's packages), not a library's."""
    return [r for r in records if r["logger"].split(".")[0] in ("bot", "handlers", "services", "runtime",
                                                                   "scheduler", "workers")]


def test_each_web_request_has_one_id_on_all_its_lines_and_in_its_response(make_app, sender, lines):
    """Two webhook requests: each one's lines share an id, the ids differ, and each response echoes its own."""
    client = make_app(wechat_reply_mode="queued").test_client()
    first, _ = sender.post(client, sender.text("o-visitor-1", "你好"))
    second, _ = sender.post(client, sender.text("o-visitor-2", "你好"))
    assert first.status_code == second.status_code == 200
    by_id: dict[str, list[dict]] = {}
    for record in ours(lines()):
        if record["logger"] == "bot.app":
            continue
        assert record.get("request_id"), record
        by_id.setdefault(record["request_id"], []).append(record)
    assert set(by_id) == {first.headers["X-Request-Id"], second.headers["X-Request-Id"]}
    assert len(by_id) == 2
    for response, openid in ((first, "o-visitor-1"), (second, "o-visitor-2")):
        records = by_id[response.headers["X-Request-Id"]]
        assert {r.get("openid") for r in records} == {openid}
        assert any(r.get("wechat") == "queued" for r in records)


def test_the_proxys_request_id_is_kept_when_it_is_safe(make_app):
    """Behind the trusted proxy its X-Request-Id is reused; an unsafe one, or one from anyone else, is not."""
    behind_proxy = make_app(trusted_proxies=1).test_client()
    kept = behind_proxy.get("/healthz", headers={"X-Request-Id": "9f86d081884c7d65"})
    assert kept.headers["X-Request-Id"] == "9f86d081884c7d65"
    for unsafe in ("a b", "x" * 65, 'id" level="ERROR', "-starts-with-dash"):
        replaced = behind_proxy.get("/healthz", headers={"X-Request-Id": unsafe})
        assert replaced.headers["X-Request-Id"] != unsafe
        assert len(replaced.headers["X-Request-Id"]) == 32
    direct = make_app(trusted_proxies=0).test_client()
    assert direct.get("/healthz", headers={"X-Request-Id": "9f86d081884c7d65"}).headers["X-Request-Id"] \
        != "9f86d081884c7d65"


def test_each_scheduler_job_run_has_its_own_run_id(app, settings, redis_client, clock, lines):
    """A new leader catches up the morning jobs: each run's lines carry an id of its own."""
    svc = app.extensions["sanzhida"]
    context = JobContext(session_factory=svc.session_factory, wechat=svc.wechat, env=svc.request_env)
    leadership = Leadership(redis_client, f"{settings.redis_prefix}:scheduler:leader", 30)
    process = SchedulerProcess(settings, context, clock, leadership, svc.engine)
    try:
        process.heartbeat()
    finally:
        leadership.release()
    ran = [r for r in lines() if r.get("scheduler") == "ran"]
    assert {r["job"] for r in ran} >= {"visit_reminders", "town_digest"}
    assert all(r.get("run_id") for r in ran)
    assert len({r["run_id"] for r in ran}) == len(ran)
    assert not any(r.get("run_id") for r in lines() if r.get("scheduler") == "leader_acquired")


def test_each_inbox_batch_has_a_run_id(make_app, sender, lines):
    """The worker's lines for one batch share its run id, and carry no web request's id."""
    queued_app = make_app(wechat_reply_mode="queued")
    client = queued_app.test_client()
    sender.post(client, sender.text("o-visitor-1", "你好"))
    sender.post(client, sender.text("o-visitor-2", "在吗"))
    InboxWorker(queued_app.extensions["sanzhida"]).drain()
    handled = [r for r in lines() if r.get("inbox") == "handled"]
    assert len(handled) == 2
    assert len({r["run_id"] for r in handled}) == 1 and handled[0]["run_id"]
    assert not any("request_id" in r for r in handled)


def test_routine_runs_with_nothing_to_do_log_nothing(app, clock, lines):
    """The outbox every 5 s, escalations every minute, retention hourly: idle runs write no line."""
    svc = app.extensions["sanzhida"]
    context = JobContext(session_factory=svc.session_factory, wechat=svc.wechat, env=svc.request_env)
    for job in calendar.INTERVAL_JOBS:
        job.run(context, clock())
    assert ours(lines()) == []
