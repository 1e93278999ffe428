"""Smoke version of bench/day.py: a few hours of the small demo through the real webhook, inbox and scheduler."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import bench.day as day_bench
from bot.app import create_app
from devtools import demo
from models import OutboxMessage
from runtime.container import request_env
from services.pii import PiiCipher


def test_a_short_day_is_replayed_and_measured(settings, db, session, redis_client, fake_wechat):
    """Requests are opened and answered, assistants accept, rungs fire, and the report adds up."""
    seeded_at = datetime.fromisoformat("2026-11-25T10:00:00+08:00")
    demo.seed_small(session, PiiCipher(settings.pii_key), seeded_at, seed=2, env=request_env(settings))
    session.commit()
    clock = day_bench.SimClock(seeded_at)
    app = create_app(settings.with_overrides(wechat_reply_mode="queued"), clock=clock, engine=db, redis=redis_client)
    params = day_bench.DayParams(requests=24, commands=6, urgent_share=0.25, hours=4, seed=5)

    report = day_bench.run_day(app, clock, params)

    start = datetime.fromisoformat(report.start)
    assert start.astimezone(settings.tz).hour == 0 and start > seeded_at
    assert report.posted >= params.requests + params.commands - 4  # a few fall past the end of the day
    assert report.requests_opened > 0 and report.answers_expected == report.posted
    assert report.answers_lost == 0
    # The first hours of the day are quiet hours: only urgent pushes may reach staff then.
    assert report.quiet_hours["not urgent"] == 0
    assert set(report.roles) >= {"assistant", "town_officer", "city_supervisor"}
    assert report.roles["assistant"].total > 0
    assert report.urgent_unaccepted == report.urgent_unaccepted_alerting + len(report.urgent_unaccepted_silent)
    session.expire_all()
    staff_pushes = session.query(OutboxMessage).filter(OutboxMessage.recipient_staff_id.is_not(None),
                                                       OutboxMessage.created_at >= start,
                                                       OutboxMessage.created_at < start + timedelta(hours=4)).count()
    assert sum(load.total for load in report.roles.values()) <= staff_pushes
    out = io.StringIO()
    day_bench.print_report(report, out=out)
    assert "pushes per person" in out.getvalue() and "answers lost: 0" in out.getvalue()
