"""The 08:00 visit job on a deployment of two cities: one transaction per city, each city's
assistants and town officers hear only of their own people, and a second run pushes nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models import JobRun, OutboxMessage, VisitAlert
from scheduler import calendar, jobs
from services import scope
from tests.scheduler.test_calendar import GRACE, TZ
from tests.support.factories import fresh
from tests.support.province import make_province


def _queued(session, prefix: str) -> dict[str, str]:
    """The texts queued under an idempotency-key prefix, by key."""
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.like(prefix + "%")))
    return {row.idempotency_key: row.payload["text"] for row in rows}


def test_each_city_hears_of_its_own_people_once(app, session, clock, jobs_ctx):
    """Both cities' people are 40 days past their last visit: the job runs city by city, each
    assistant's digest and each officer's overdue alert name only their own person; run again (a
    crash before the ledger row), nothing more is queued."""
    world = make_province(session, app.extensions["sanzhida"].request_env, clock())
    session.commit()
    assert set(scope.city_ids(session)) == {world.a.city.id, world.b.city.id}
    due = (clock() + timedelta(days=40)).astimezone(TZ).replace(hour=8, minute=0, second=0, microsecond=0)
    (job,) = [j for j in calendar.calendar_jobs(TZ) if j.id == "visit_reminders"]
    assert job.windowed

    assert calendar.run_calendar_job(jobs_ctx, job, due + timedelta(minutes=1), GRACE) == "ran"

    fresh(session)
    digests = _queued(session, "remind:")
    alerts = _queued(session, "visit-overdue:")
    for mine, other in ((world.a, world.b), (world.b, world.a)):
        (digest,) = [text for key, text in digests.items() if key.startswith(f"remind:{mine.assistant.id}:")]
        (alert,) = [text for key, text in alerts.items() if key.startswith(f"visit-overdue:{mine.officer.id}:")]
        assert mine.person.name in digest and other.person.name not in digest
        assert mine.person.name in alert and other.person.name not in alert
    assert len(digests) == 2 and len(alerts) == 2
    assert session.scalar(select(JobRun.detail).where(JobRun.job_id == "visit_reminders"))["pushes"] == 4
    assert len(session.scalars(select(VisitAlert)).all()) == 2

    # The ledger says it ran; and the work itself, done again, queues nothing new.
    assert calendar.run_calendar_job(jobs_ctx, job, due + timedelta(minutes=2), GRACE) == "already"
    jobs.visit_reminders_job(jobs_ctx, due + timedelta(minutes=3))
    fresh(session)
    assert _queued(session, "remind:") == digests and _queued(session, "visit-overdue:") == alerts
