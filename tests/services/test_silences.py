"""The two silence scans on their own, with a fixed `now`: who is reminded and how it reads, weekly
plans, who is never looked at, and each silence raised exactly once, even by two schedulers at once."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import Beneficiary, FamilyLink, OutboxMessage, ServiceRequest, Silence
from models.enums import ContactKind
from services import checkins, silences, texts
from tests.support.factories import fresh, make_beneficiary, make_town, make_wechat_user

TZ = ZoneInfo("Asia/Shanghai")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai time in December 2026 (the 7th is a Monday, the 11th a Friday)."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ)


@pytest.fixture
def svc(app):
    """The app's services: sessions and the request settings."""
    return app.extensions["sanzhida"]


@pytest.fixture
def town(session):
    """A town with bound staff, a week before the days the tests look at."""
    return make_town(session, local(1, 9))


def person(session, town, plan="daily", *, bound=(), registered=None, active=True, **fields) -> Beneficiary:
    """A beneficiary of the town's assistant on `plan`, with WeChat users bound as (openid, relation[, notify])."""
    someone = make_beneficiary(session, town.village, registered or local(1, 9), assistant=town.assistant, **fields)
    someone.checkin_plan, someone.active = plan, active
    for openid, relation, *notify in bound:
        user = make_wechat_user(session, openid, local(1, 9))
        session.add(FamilyLink(beneficiary_id=someone.id, wechat_user_id=user.id, relation=relation, active=True,
                               notify=notify[0] if notify else True, created_at=local(1, 9)))
    session.commit()
    return someone


def run(svc, scan, now):
    """Run a scan in a session of its own, committed, as the scheduler does."""
    with svc.session_factory() as s:
        result = scan(s, svc.request_env, now)
        s.commit()
    return result


def texts_to(session, openid: str) -> list[str]:
    """The texts queued for a WeChat user."""
    fresh(session)
    return [row.payload["text"] for row in session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient_openid == openid).order_by(OutboxMessage.id))]


def silence_of(session, someone) -> Silence | None:
    """The beneficiary's one silence, if any."""
    fresh(session)
    return session.scalars(select(Silence).where(Silence.beneficiary_id == someone.id)).one_or_none()


def cases_of(session, someone) -> list[ServiceRequest]:
    """The beneficiary's 联系 cases."""
    fresh(session)
    return list(session.scalars(select(ServiceRequest).where(ServiceRequest.beneficiary_id == someone.id,
                                                              ServiceRequest.category == "联系")))


def test_each_relation_reads_its_own_reminder_and_an_opt_out_gets_none(svc, session, town):
    """本人 is reminded gently themself; the spouse reads 您的老伴; a neighbour who turned notices off gets
    nothing; the reminder never names a sex the records do not hold."""
    someone = person(session, town, name="何美兰", bound=[("o-self", "本人"), ("o-wife", "配偶"),
                                                        ("o-neighbour", "邻居或其他", False)])
    assert run(svc, silences.remind_families, local(8, 10)) == 2
    assert texts_to(session, "o-self") == [texts.PUSH_CHECKIN_REMIND_SELF.format(name="何美兰", when="今天")]
    [spouse] = texts_to(session, "o-wife")
    assert spouse.startswith("您的老伴何美兰今天还没有报平安。")
    assert texts_to(session, "o-neighbour") == []
    assert "母亲" not in spouse and "父亲" not in spouse
    assert silence_of(session, someone).reminded_at == local(8, 10)


def test_nobody_to_remind_leaves_the_silence_unreminded(svc, session, town):
    """Only an opted-out neighbour bound, SMS off: the silence is noted, nobody is pushed, reminded_at stays empty."""
    someone = person(session, town, bound=[("o-neighbour", "邻居或其他", False)])
    assert run(svc, silences.remind_families, local(8, 10)) == 0
    silence = silence_of(session, someone)
    assert (silence.plan, silence.period_start.isoformat(), silence.reminded_at) == ("daily", "2026-12-08", None)


def test_who_is_never_looked_at(svc, session, town):
    """No plan, inactive, registered after the day began, or heard from since midnight: no silence."""
    quiet = [
        person(session, town, "off", bound=[("o-a", "子女")]),
        person(session, town, bound=[("o-b", "子女")], active=False),
        person(session, town, bound=[("o-c", "子女")], registered=local(8, 9)),
    ]
    heard = person(session, town, bound=[("o-d", "子女")])
    with svc.session_factory() as s:
        checkins.note_contact(s, heard.id, local(8, 0, 1), ContactKind.VISIT, env=svc.request_env)
        s.commit()
    late = person(session, town, bound=[("o-e", "子女")])
    with svc.session_factory() as s:
        # Heard from yesterday evening: silent today.
        checkins.note_contact(s, late.id, local(7, 23, 59), ContactKind.MESSAGE, env=svc.request_env)
        s.commit()
    assert run(svc, silences.remind_families, local(8, 10)) == 1
    for someone in (*quiet, heard):
        assert silence_of(session, someone) is None
    assert silence_of(session, late) is not None


def test_a_weekly_plan_is_checked_on_friday_over_the_week(svc, session, town):
    """Weekly: nothing on Monday to Thursday; on Friday, silent since Monday 00:00 means a reminder
    (本周) and then a case; someone heard from on Tuesday is fine for the week."""
    silent = person(session, town, "weekly", name="钱阿婆", bound=[("o-qian", "子女")])
    heard = person(session, town, "weekly", bound=[("o-heard", "子女")])
    with svc.session_factory() as s:
        checkins.note_contact(s, heard.id, local(8, 15), ContactKind.CHECKIN, env=svc.request_env)
        s.commit()
    for day in (7, 8, 9, 10):
        assert run(svc, silences.remind_families, local(day, 10)) == 0
        assert run(svc, silences.raise_silences, local(day, 16)) == 0
    assert run(svc, silences.remind_families, local(11, 10)) == 1
    assert texts_to(session, "o-qian") == [texts.PUSH_CHECKIN_REMIND_FAMILY.format(who="您的家人", name="钱阿婆",
                                                                                   when="本周")]
    assert silence_of(session, silent).period_start.isoformat() == "2026-12-07"
    assert run(svc, silences.raise_silences, local(11, 16)) == 1
    [case] = cases_of(session, silent)
    assert "钱阿婆本周没有报平安" in case.summary
    assert silence_of(session, heard) is None


def test_reminding_twice_queues_once(svc, session, town):
    someone = person(session, town, bound=[("o-son", "子女")])
    assert run(svc, silences.remind_families, local(8, 10)) == 1
    assert run(svc, silences.remind_families, local(8, 10, 30)) == 0
    assert len(texts_to(session, "o-son")) == 1
    assert silence_of(session, someone).reminded_at == local(8, 10)


def test_raising_without_the_morning_scan_notes_the_silence_and_raises_it_once(svc, session, town):
    """The 10:00 scan never ran: 16:00 notes the silence itself (unreminded) and raises it; again, nothing."""
    someone = person(session, town, bound=[("o-son", "子女")])
    assert run(svc, silences.raise_silences, local(8, 16)) == 1
    assert run(svc, silences.raise_silences, local(8, 16, 1)) == 0
    [case] = cases_of(session, someone)
    silence = silence_of(session, someone)
    assert (silence.reminded_at, silence.raised_at, silence.request_id) == (None, local(8, 16), case.id)
    assert (case.source, case.assignee_staff_id) == ("silence", town.assistant.id)


def test_a_sign_of_life_after_the_reminder_means_no_case(svc, session, town):
    someone = person(session, town, bound=[("o-son", "子女")])
    run(svc, silences.remind_families, local(8, 10))
    with svc.session_factory() as s:
        checkins.note_contact(s, someone.id, local(8, 14), ContactKind.STAFF, env=svc.request_env)
        s.commit()
    assert run(svc, silences.raise_silences, local(8, 16)) == 0
    assert cases_of(session, someone) == []
    assert silence_of(session, someone).ended_by == "staff"


def test_two_schedulers_raising_at_once_open_one_case(svc, session, town):
    """The second scan starts while the first has not committed: it waits for it, then finds the
    silence raised and opens nothing."""
    someone = person(session, town, bound=[("o-son", "子女")])
    run(svc, silences.remind_families, local(8, 10))
    results: list[int] = []
    first = svc.session_factory()
    assert silences.raise_silences(first, svc.request_env, local(8, 16)) == 1
    second = threading.Thread(target=lambda: results.append(run(svc, silences.raise_silences, local(8, 16))))
    second.start()
    second.join(timeout=0.5)
    first.commit()
    first.close()
    second.join(timeout=30)
    assert results == [0]
    assert len(cases_of(session, someone)) == 1
