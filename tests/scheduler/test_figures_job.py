"""The scheduler keeps the daily 四查四帮 and 报平安 figures of the recent days up to date."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models import DailyVisitFigures, ServiceRequest, WeeklyRequestFigures
from services import daily_figures
from scheduler import calendar
from tests.support.factories import make_beneficiary, make_visit

TZ = ZoneInfo("Asia/Shanghai")


def _today(session, staff_id, day):
    session.expire_all()
    return session.scalars(select(DailyVisitFigures).where(DailyVisitFigures.day == day,
                                                           DailyVisitFigures.staff_id == staff_id)).one()


def test_a_visit_shows_after_the_next_run(session, jobs_ctx, town, clock):
    """A tick computes today's row; a visit recorded later is counted by the following run."""
    now = clock()
    person = make_beneficiary(session, town.village, now - timedelta(days=60), assistant=town.assistant)
    session.commit()
    job = next(j for j in calendar.INTERVAL_JOBS if j.id == "figures")
    assert job.seconds <= 600  # a visit shows within ten minutes
    results = calendar.tick(jobs_ctx, TZ, now, timedelta(minutes=30))
    assert results["figures"] > 0
    row = _today(session, town.assistant.id, now.astimezone(TZ).date())
    assert (row.beneficiaries, row.overdue, row.visits_made) == (1, 1, 0)
    make_visit(session, person, town.assistant, now - timedelta(minutes=5), medical="problem")
    session.commit()
    calendar.run_interval_job(jobs_ctx, job, now + timedelta(minutes=10))
    row = _today(session, town.assistant.id, now.astimezone(TZ).date())
    assert (row.overdue, row.visits_made, row.medical) == (0, 1, 1)
    assert row.computed_at == now + timedelta(minutes=10)


def test_ticks_minutes_apart_compute_once(session, jobs_ctx, town, clock):
    """Ticks five minutes apart (a day walked in the simulator) recompute only every ten minutes."""
    now = clock()
    make_beneficiary(session, town.village, now - timedelta(days=3), assistant=town.assistant)
    session.commit()
    job = next(j for j in calendar.INTERVAL_JOBS if j.id == "figures")
    runs = [calendar.run_interval_job(jobs_ctx, job, now + timedelta(minutes=m)) > 0 for m in (0, 5, 10, 15, 20)]
    assert runs == [True, False, True, False, True]


def test_a_request_shows_in_the_weekly_figures_after_the_next_run(session, jobs_ctx, town, clock):
    """The same run recomputes the trends' weeks: a request raised today counts in this week's row."""
    from models import ServiceRequest, WeeklyRequestFigures

    now = clock()
    person = make_beneficiary(session, town.village, now - timedelta(days=30), assistant=town.assistant)
    session.add(ServiceRequest(beneficiary_id=person.id, village_id=town.village.id, town_id=town.town.id,
                               category="医", urgency="normal", status="acknowledged", summary="求助",
                               assignee_staff_id=town.assistant.id, created_at=now - timedelta(hours=3),
                               updated_at=now, acknowledged_at=now - timedelta(hours=1)))
    session.commit()
    job = next(j for j in calendar.INTERVAL_JOBS if j.id == "figures")
    calendar.run_interval_job(jobs_ctx, job, now)
    session.expire_all()
    rows = {(r.level, r.key): r for r in session.scalars(select(WeeklyRequestFigures))}
    # The whole deployment (key None) and the request's own city, as its staff read it.
    assert set(rows) == {("city", None), ("city", town.city.id), ("town", town.town.id), ("village", town.village.id),
                         ("assistant", town.assistant.id)}
    assert all(r.raised == 1 and r.accept_p50_wall == 2 for r in rows.values())
    assert rows[("city", None)].week.weekday() == 0  # weeks are kept by their Monday


def test_a_checkin_shows_in_the_daily_checkin_figures_after_the_next_run(session, jobs_ctx, town, clock):
    """The same run recomputes the 报平安 rows: yesterday's check-in is received; one recorded later
    for the day before is counted by the following run, and so is the family reminded today."""
    from models import Checkin, DailyCheckinFigures, Silence

    now = clock()
    today = now.astimezone(TZ).date()
    person = make_beneficiary(session, town.village, now - timedelta(days=10), assistant=town.assistant)
    person.checkin_plan = "daily"
    session.add(Checkin(beneficiary_id=person.id, village_id=town.village.id, source="menu",
                        checked_at=now - timedelta(days=1)))
    session.commit()
    job = next(j for j in calendar.INTERVAL_JOBS if j.id == "figures")
    calendar.run_interval_job(jobs_ctx, job, now)

    def rows():
        session.expire_all()
        return {r.day: (r.on_plan, r.expected, r.received, r.reminded) for r in session.scalars(
            select(DailyCheckinFigures).where(DailyCheckinFigures.staff_id == town.assistant.id))}

    before = rows()
    assert before[today - timedelta(days=1)] == (1, 1, 1, 0)
    assert before[today - timedelta(days=2)] == (1, 1, 0, 0)
    session.add(Checkin(beneficiary_id=person.id, village_id=town.village.id, source="staff",
                        checked_at=now - timedelta(days=2)))
    session.add(Silence(beneficiary_id=person.id, village_id=town.village.id, town_id=town.town.id, plan="daily",
                        period_start=today, reminded_at=now, created_at=now))
    session.commit()
    calendar.run_interval_job(jobs_ctx, job, now + timedelta(minutes=10))
    after = rows()
    assert after[today - timedelta(days=2)] == (1, 1, 1, 0)
    assert after[today] == (1, 1, 0, 1)


def _rows(session):
    """Every daily visit row: (day, staff) -> (its counts, when it was computed)."""
    session.expire_all()
    return {(r.day, r.staff_id): ({c: getattr(r, c) for c in daily_figures.COUNTS}, r.computed_at)
            for r in session.scalars(select(DailyVisitFigures))}


def test_between_hourly_full_refreshes_a_run_recomputes_what_changed(session, jobs_ctx, town, clock):
    """The first run recomputes all 35 days; ten minutes later a run recomputes yesterday and today and,
    for a visit recorded meanwhile for six days ago, every day from that one on, and leaves the figures
    a full recompute would; an hour after the first, everything again."""
    now = clock()
    today = now.astimezone(TZ).date()
    person = make_beneficiary(session, town.village, now - timedelta(days=60), assistant=town.assistant)
    make_visit(session, person, town.assistant, now - timedelta(days=20))
    session.add(ServiceRequest(beneficiary_id=person.id, village_id=town.village.id, town_id=town.town.id,
                               category="医", urgency="normal", status="open", summary="求助",
                               assignee_staff_id=town.assistant.id, created_at=now - timedelta(weeks=5),
                               updated_at=now - timedelta(weeks=5)))
    session.commit()
    job = next(j for j in calendar.INTERVAL_JOBS if j.id == "figures")

    def weeks():
        return {(r.week, r.level, r.key): r.computed_at for r in session.scalars(select(WeeklyRequestFigures))}

    def run(at):
        calendar.run_interval_job(jobs_ctx, job, at)
        # A new read transaction: on SQLite the last one would still show the rows from before the run.
        session.rollback()

    run(now)
    first = _rows(session)
    assert {day for day, _ in first} == {today - timedelta(days=n) for n in range(36)}
    assert all(at == now for _, at in first.values())

    later = now + timedelta(minutes=10)
    make_visit(session, person, town.assistant, now - timedelta(days=6), housing="problem")
    session.commit()
    run(later)
    second = _rows(session)
    redone = {day for (day, _), (_, at) in second.items() if at == later}
    # The trends: only this week and last are recomputed; the request's week, five weeks back, is left.
    assert weeks() and set(weeks().values()) == {now}
    assert redone == {today - timedelta(days=n) for n in range(7)}
    assert second[(today - timedelta(days=6), town.assistant.id)][0]["housing"] == 1
    # Exactly what recomputing every day now would leave.
    daily_figures.rebuild(session, today - timedelta(days=daily_figures.RECENT_DAYS), today, TZ, later)
    assert {key: counts for key, (counts, _) in second.items()} == {key: counts for key, (counts, _) in
                                                                    _rows(session).items()}
    session.rollback()

    run(later + timedelta(minutes=10))
    # The visit is still one recorded since the full refresh: its days are recomputed until the next one.
    assert {day for (day, _), (_, at) in _rows(session).items() if at == later + timedelta(minutes=10)} == redone
    hour = now + timedelta(hours=1)
    run(hour)
    since = hour.astimezone(TZ).date() - timedelta(days=daily_figures.RECENT_DAYS)
    assert {day: at for (day, _), (_, at) in _rows(session).items() if day >= since and at != hour} == {}
    assert set(weeks().values()) == {hour}
