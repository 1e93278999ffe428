"""The pure arithmetic of the service figures, on plain values."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from services.policy import figures as calc

TZ = ZoneInfo("Asia/Shanghai")
HOURS = (time(8, 0), time(20, 0))


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A November 2026 local time."""
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ)


def test_percentile_interpolates_between_ranks():
    """Median of an even count is the mean of the middle two; p90 interpolates; empty gives None."""
    assert calc.percentile([14, 0.5, 34.5, 1], 0.5) == 7.5
    assert round(calc.percentile([14, 0.5, 34.5, 1], 0.9), 6) == 28.35
    assert calc.percentile([3], 0.9) == 3
    assert calc.percentile([], 0.5) is None


def test_service_duration_counts_only_service_hours():
    """Inside one day, across a night, across a weekend, and before opening."""
    assert calc.service_duration(local(4, 10), local(4, 10, 30), TZ, HOURS) == timedelta(minutes=30)
    assert calc.service_duration(local(6, 19), local(7, 9), TZ, HOURS) == timedelta(hours=2)
    assert calc.service_duration(local(28, 22), local(30, 8, 30), TZ, HOURS) == timedelta(hours=12, minutes=30)
    assert calc.service_duration(local(4, 2), local(4, 7), TZ, HOURS) == timedelta(0)
    assert calc.service_duration(local(4, 9), local(4, 8), TZ, HOURS) == timedelta(0)


def test_rungs_and_shares():
    """How many requests reached each rung, and shares."""
    assert calc.reached([0, 1, 2, 3], (1, 2, 3, 4)) == {1: 3, 2: 2, 3: 1, 4: 0}
    assert calc.share(3, 4) == 0.75 and calc.share(1, 0) is None
    assert calc.hours(timedelta(minutes=90)) == 1.5 and calc.hours(None) is None


def test_service_duration_equals_counting_quarter_hours():
    """Random spans of up to three weeks against a quarter-hour by quarter-hour count of the service hours."""
    rng = random.Random(5)
    for _ in range(40):
        start = datetime(2026, 11, 1, tzinfo=TZ) + timedelta(minutes=rng.randrange(0, 30 * 24 * 60, 15))
        end = start + timedelta(minutes=rng.randrange(0, 21 * 24 * 60, 15))
        quarters, at = 0, start
        while at < end:
            quarters += HOURS[0] <= at.astimezone(TZ).time() < HOURS[1]
            at += timedelta(minutes=15)
        assert calc.service_duration(start, end, TZ, HOURS) == timedelta(minutes=15 * quarters), (start, end)


def test_the_figures_job_refreshes_everything_hourly_and_what_changed_in_between():
    """In full with no earlier full refresh, one an hour old or one in the future (a clock set back);
    else yesterday and today, two weeks, reaching back to the earliest day recorded since, at most 35."""
    today, now = date(2026, 12, 1), datetime(2026, 12, 1, 10, tzinfo=TZ)
    plan = partial(calc.refresh_plan, today, recent_days=35, weeks=26, full_every=timedelta(hours=1))
    everything = calc.Refresh(True, date(2026, 10, 27), date(2026, 10, 27), 26)
    assert plan(None, now) == everything
    assert plan(now - timedelta(hours=1), now) == everything
    assert plan(now + timedelta(minutes=1), now) == everything
    assert plan(now - timedelta(minutes=50), now) == calc.Refresh(False, date(2026, 11, 30), date(2026, 11, 30), 2)
    assert plan(now - timedelta(minutes=10), now, earliest_visit=date(2026, 11, 24),
                earliest_checkin=date(2026, 12, 1)) == calc.Refresh(False, date(2026, 11, 24), date(2026, 11, 30), 2)
    assert plan(now - timedelta(minutes=10), now, earliest_visit=date(2026, 1, 1),
                earliest_checkin=date(2026, 11, 29)) == calc.Refresh(False, date(2026, 10, 27), date(2026, 11, 29), 2)
