"""A province's standard views, kept by the figures job: the same numbers as computed live, read only
while fresh, and nothing kept for a single city."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import Checkin, DailyCheckinFigures, DailyVisitFigures, ViewSnapshot, WeeklyRequestFigures
from models.enums import CheckinSource, RegionLevel, RequestCategory, Urgency
from scheduler import calendar
from services import (casework, daily_figures, dashboard, figures, figures_refresh, province_views, requests,
                      trends, workload)
from services.policy import figures as calc
from services.policy.classify import Classification
from services import scope as scoping
from services.scope import EVERYWHERE
from tests.support.factories import make_beneficiary, make_region, make_town, make_visit
from tests.support.office import signed_in
from tests.support.province import make_province

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def world(session, clock, app):
    """Two cities; city A's case accepted and resolved with a rating, a visit in city B."""
    env = app.extensions["sanzhida"].request_env
    world = make_province(session, env, clock() - timedelta(days=3))
    casework.acknowledge(session, env, world.a.case, world.a.assistant, clock() - timedelta(days=2))
    casework.resolve(session, env, world.a.case, world.a.assistant, "已处理", clock() - timedelta(days=1))
    world.a.case.rating = 5
    make_visit(session, world.b.person, world.b.assistant, clock() - timedelta(hours=5), food="problem")
    session.commit()
    return world


def _figures_job(jobs_ctx, now) -> int:
    job = next(j for j in calendar.INTERVAL_JOBS if j.id == "figures")
    return calendar.run_interval_job(jobs_ctx, job, now)


def test_the_kept_figures_and_trends_are_the_live_ones(session, world, jobs_ctx, clock):
    """After the figures job, each standard period's figures per town and the trends read back equal to
    computing them live over the whole province."""
    assert _figures_job(jobs_ctx, clock()) > 0
    session.expire_all()
    today = clock().astimezone(TZ).date()
    for preset in calc.presets(today):
        kept = province_views.read_figures(session, "town", preset.start, preset.end, clock())
        live = figures.service_figures(session, EVERYWHERE, preset.start, preset.end, TZ, level="town", today=today)
        assert kept is not None and kept.snapshot_at == clock()
        assert (kept.start, kept.end, kept.level, kept.rungs) == (live.start, live.end, live.level, live.rungs)
        assert kept.rows == live.rows and kept.total == live.total
        assert kept.computed_at == live.computed_at
    half_year = province_views.read_figures(session, "town", today - timedelta(weeks=26), today, clock())
    assert {row.name: row.raised for row in half_year.rows} == {"东河镇": 1, "西山镇": 1}
    assert (half_year.total.rated, half_year.total.rating_sum, half_year.total.visits_made) == (1, 5, 1)
    assert half_year.total.accept.count == 1 and half_year.total.problems["吃"] == 1
    series, loads, count, overloaded, at = province_views.read_trends(session, today, clock())
    assert series == trends.as_json(trends.weekly_trends(session, EVERYWHERE, today, TZ))
    live_loads = workload.workload(session, EVERYWHERE, clock(), TZ)
    assert loads == live_loads and (count, overloaded) == (2, sum(x.overloaded for x in live_loads))
    assert at == clock()


def test_a_snapshot_is_read_only_while_fresh_and_for_its_own_period(session, world, clock):
    """Past FRESH_FOR (the scheduler has stopped) the page computes live; another period was never kept."""
    province_views.refresh(session, TZ, clock())
    session.commit()
    today = clock().astimezone(TZ).date()
    assert province_views.read_figures(session, "town", today.replace(day=1), today, clock()) is not None
    later = clock() + province_views.FRESH_FOR + timedelta(seconds=1)
    assert province_views.read_figures(session, "town", today.replace(day=1), today, later) is None
    assert province_views.read_trends(session, today, later) is None
    assert province_views.read_figures(session, "town", today - timedelta(days=3), today, clock()) is None
    assert province_views.read_figures(session, "village", today.replace(day=1), today, clock()) is None
    # The next day's run drops what was kept for the day before.
    province_views.refresh(session, TZ, clock() + timedelta(days=1, minutes=1))
    session.commit()
    keys = set(session.scalars(select(ViewSnapshot.key)))
    assert province_views.trends_key(today) not in keys
    assert province_views.trends_key(today + timedelta(days=1)) in keys


def test_a_single_city_keeps_nothing(session, jobs_ctx, clock):
    """One city's pages are fast live: the figures job keeps no snapshot for them."""
    town = make_town(session, clock())
    person = make_beneficiary(session, town.village, clock() - timedelta(days=30), assistant=town.assistant)
    make_visit(session, person, town.assistant, clock() - timedelta(hours=2))
    session.commit()
    assert _figures_job(jobs_ctx, clock()) > 0
    # Only the figures job's note of its last full refresh.
    assert session.scalars(select(ViewSnapshot.key)).all() == [figures_refresh.MARKER]
    assert daily_figures.computed_at(session, clock().astimezone(TZ).date()) == clock()


def test_the_province_pages_say_when_their_numbers_were_computed(app, session, world, clock):
    """A standard period and the trends come from the snapshot and say so; another period, a chosen city
    or a channel are computed live; the standard periods are one tap away."""
    province_views.refresh(session, TZ, clock())
    session.commit()
    today = clock().astimezone(TZ).date()
    last_month = next(p for p in calc.presets(today) if p.key == "last_month")
    client = signed_in(app, world.admin.staff_no)
    page = client.get("/office/figures").get_data(as_text=True)
    assert 'id="snapshot-at"' in page and "东河镇" in page and "西山镇" in page
    assert 'id="presets"' in page and f"from={last_month.start.isoformat()}" in page
    assert 'id="snapshot-at"' in client.get(f"/office/figures?from={last_month.start}&to={last_month.end}").get_data(
        as_text=True)
    for live in (f"/office/figures?from={today - timedelta(days=3)}", "/office/figures?channel=phone",
                 f"/office/figures?city={world.a.city.id}"):
        answer = client.get(live)
        assert answer.status_code == 200 and 'id="snapshot-at"' not in answer.get_data(as_text=True), live
    client.get("/office/figures?city=0")
    assert 'id="snapshot-at"' in client.get("/office/trends").get_data(as_text=True)
    assert 'id="snapshot-at"' not in client.get("/office/trends?all=1").get_data(as_text=True)
    # A city administrator never reads the province's snapshot.
    city_page = signed_in(app, world.a.admin.staff_no).get("/office/figures").get_data(as_text=True)
    assert 'id="snapshot-at"' not in city_page and "西山镇" not in city_page


def test_the_figures_job_counts_city_by_city_and_adds_the_province_up(session, world, jobs_ctx, clock):
    """Each city's daily rows and weekly row are its own; the row for every city takes its median from
    both cities' hours to accept (1 h in A, 3 h in B: 2 h), as one tally of all the requests would."""
    env = jobs_ctx.env
    for city, hours in ((world.a, 1), (world.b, 3)):
        person = make_beneficiary(session, city.village, clock() - timedelta(days=20), assistant=city.assistant)
        person.checkin_plan, person.checkin_plan_by_staff = "daily", True
        session.add(Checkin(beneficiary_id=person.id, village_id=city.village.id, source=CheckinSource.MENU.value,
                            checked_at=clock() - timedelta(hours=1)))
        case = requests.open_request(session, env, beneficiary=person, summary="求助", now=clock() - timedelta(hours=5),
                                     classification=Classification(RequestCategory.FOOD, Urgency.NORMAL))
        casework.acknowledge(session, env, case, city.assistant, clock() - timedelta(hours=5 - hours))
    session.commit()
    assert _figures_job(jobs_ctx, clock()) > 0
    today = clock().astimezone(TZ).date()
    week = today - timedelta(days=today.weekday())
    rows = {(r.level, r.key): r
            for r in session.scalars(select(WeeklyRequestFigures).where(WeeklyRequestFigures.week == week))}
    assert (rows["city", world.a.city.id].raised, rows["city", world.a.city.id].accept_p50_wall) == (1, 1.0)
    assert (rows["city", world.b.city.id].raised, rows["city", world.b.city.id].accept_p50_wall) == (1, 3.0)
    assert (rows["city", None].raised, rows["city", None].accept_p50_wall) == (2, 2.0)
    for city in (world.a, world.b):
        visits = session.scalars(select(DailyVisitFigures).where(DailyVisitFigures.day == today,
                                                                 DailyVisitFigures.town_id == city.town.id)).all()
        checkins = session.scalars(select(DailyCheckinFigures).where(DailyCheckinFigures.day == today,
                                                                     DailyCheckinFigures.town_id == city.town.id)).all()
        assert sum(r.beneficiaries for r in visits) == 2  # the fixture's person and this one
        assert (sum(r.on_plan for r in checkins), sum(r.received for r in checkins)) == (1, 1)


def test_the_provinces_visits_page_reads_the_kept_month(session, world, clock):
    """The problems found this month: what the month's kept figures say, the same as summing the days."""
    daily_figures.rebuild_recent(session, clock(), TZ)
    session.commit()
    summed = dashboard.problems_this_month(session, EVERYWHERE, clock(), TZ)
    assert summed["吃"] == 1
    province_views.refresh(session, TZ, clock())
    session.commit()
    assert dashboard.problems_this_month(session, EVERYWHERE, clock(), TZ) == summed
    # Read from the snapshot, not summed again: a kept number is what the page shows.
    today = clock().astimezone(TZ).date()
    kept = session.get(ViewSnapshot, province_views.figures_key("town", today.replace(day=1), today))
    kept.body = {**kept.body, "total": {**kept.body["total"], "problems": {**summed, "医": 7}}}
    session.commit()
    assert dashboard.problems_this_month(session, EVERYWHERE, clock(), TZ)["医"] == 7


def test_a_refresh_never_replaces_a_newer_snapshot(session, world, clock):
    """Two refreshes at once (`figures rebuild` and the scheduler): the newer snapshot stays."""
    today = clock().astimezone(TZ).date()
    province_views.refresh(session, TZ, clock() + timedelta(minutes=5))
    session.commit()
    province_views.refresh(session, TZ, clock())
    session.commit()
    kept = session.get(ViewSnapshot, province_views.trends_key(today))
    session.refresh(kept)
    assert kept.computed_at == clock() + timedelta(minutes=5)


def test_a_snapshot_this_release_cannot_read_is_computed_live(session, world, clock):
    """A field renamed by another release: the page reads nothing kept and computes live, never a 500."""
    province_views.refresh(session, TZ, clock())
    session.commit()
    today = clock().astimezone(TZ).date()
    for key in (province_views.figures_key("town", today.replace(day=1), today), province_views.trends_key(today)):
        kept = session.get(ViewSnapshot, key)
        body = dict(kept.body)
        if "total" in body:
            body["total"] = {**body["total"], "renamed_field": body["total"].pop("raised")}
        else:
            body["loads"] = [{**load, "renamed_field": 1} for load in body["loads"]]
        kept.body = body
    session.commit()
    assert province_views.read_figures(session, "town", today.replace(day=1), today, clock()) is None
    assert province_views.read_trends(session, today, clock()) is None


def test_a_city_s_town_ids_are_read_again_in_a_new_transaction(session, world, clock):
    """Kept for one transaction: a town added and committed is seen by the next."""
    before = scoping.city_town_ids(session, world.a.city.id)
    assert before == [world.a.town.id] and scoping.city_town_ids(session, world.a.city.id) is before
    session.commit()
    added = make_region(session, RegionLevel.TOWN, world.a.city, clock(), name="新镇")
    session.commit()
    assert sorted(scoping.city_town_ids(session, world.a.city.id)) == sorted([world.a.town.id, added.id])
