"""Smoke versions of bench/scheduler.py and bench/outbox.py: the same timing functions on tiny data."""

from __future__ import annotations

from datetime import timedelta

import bench.outbox as outbox_bench
import bench.scheduler as scheduler_bench
from models import FamilyLink, ServiceRequest, Staff
from models.enums import RequestCategory, StaffRole, Urgency
from tests.support.factories import make_beneficiary, make_staff, make_town, make_visit, make_wechat_user


def _small_city(session, town, now):
    """The test town with beneficiaries due for visits, an unbound assistant, open cases, and a son
    bound to one of them (the check-in scan's reminder)."""
    unbound = make_staff(session, StaffRole.ASSISTANT, town.village, now)  # no WeChat user yet
    for i in range(6):
        person = make_beneficiary(session, town.village if i % 2 else town.other_village, now - timedelta(days=60),
                                  assistant=town.assistant if i % 3 else unbound)
        if i % 2:
            make_visit(session, person, town.assistant, now - timedelta(days=20))
        session.add(ServiceRequest(
            beneficiary_id=person.id, village_id=person.village_id, town_id=town.town.id, category=RequestCategory.FOOD.value,
            urgency=Urgency.NORMAL.value, status="open", summary="smoke", escalation_level=0,
            next_escalation_at=now - timedelta(minutes=5), created_at=now - timedelta(hours=5),
            updated_at=now - timedelta(hours=5),
        ))
        if i == 0:
            son = make_wechat_user(session, "o-bench-son", now)
            session.add(FamilyLink(beneficiary_id=person.id, wechat_user_id=son.id, relation="子女", created_at=now))
    session.commit()
    return unbound


def test_scheduler_bench_times_every_job(app, session, clock):
    svc = app.extensions["sanzhida"]
    town = make_town(session, clock())
    unbound = _small_city(session, town, clock())
    now = clock() + timedelta(days=1)

    prepared, results = scheduler_bench.run_all(
        svc.session_factory, svc.request_env, due_cases=6, runs=2, explain_top=1, now=now
    )

    assert prepared.staff_bound == 1 and prepared.cases_due == 6
    session.expire_all()
    assert session.get(Staff, unbound.id).wechat_user.openid == f"bench-staff-{unbound.id}"
    by_name = {r.name: r for r in results}
    assert set(by_name) == {"escalation_scan", "escalation_drain", "morning_visits", "town_digests", "city_summaries",
                            "checkin_reminders"}
    # Too few daily plans in the seed: the bench put everyone on one (fewer than 22,000 here).
    assert prepared.daily_plans == prepared.daily_plans_set == 6
    for result in results:
        assert len(result.seconds) == 2 and all(s > 0 for s in result.seconds)
        assert result.statements > 0 and result.rss_mb > 0 and len(result.top) == 1
    assert by_name["escalation_scan"].result > 0
    assert by_name["morning_visits"].result > 0 and by_name["morning_visits"].writes["outbox"] > 0
    assert by_name["town_digests"].result == 1
    assert by_name["city_summaries"].result == 1
    assert by_name["checkin_reminders"].result == 1 and by_name["checkin_reminders"].writes["silences"] == 6
    # Each run started from the same state, and the last reset left nothing behind.
    assert scheduler_bench.count_writes(svc.session_factory, prepared) == {
        "outbox": 0, "request_events": 0, "visit_alerts": 0, "silences": 0}
    text = []
    scheduler_bench.report(prepared, results, out=type("W", (), {"write": lambda self, s: text.append(s)})())
    assert "morning_visits" in "".join(text)


def test_outbox_bench_sends_every_row(app, fake_wechat, database_url):
    svc = app.extensions["sanzhida"]

    timing = outbox_bench.time_dispatch(database_url, fake_wechat.base_url, 40, client=svc.wechat)

    assert timing.sent == 40 and timing.per_second > 0
    assert timing.statuses == {"sent/custom": 20, "sent/template": 20}
    delivered = outbox_bench.deliveries(fake_wechat.state.calls)
    assert delivered == {"token delivered": 1, "message/custom/send delivered": 20,
                         "message/template/send delivered": 20}


def test_bench_scripts_have_help(capsys):
    for module in (scheduler_bench, outbox_bench):
        try:
            module.main(["--help"])
        except SystemExit as exc:
            assert exc.code == 0
        assert "--smoke" in capsys.readouterr().out
