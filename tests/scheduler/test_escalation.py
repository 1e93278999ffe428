"""Fixed-clock walks of an urgent and a normal request up the escalation ladder."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from models import OutboxMessage, RequestEvent, ServiceRequest, WeChatUser
from models.enums import RequestCategory, StaffRole, Urgency
from scheduler.jobs import escalation_job
from services import casework, escalation, notify, texts
from services import requests as service
from services.policy.classify import Classification
from services.policy.push import template_data, template_field_errors
from tests.scheduler.conftest import at
from tests.support.factories import fresh, make_beneficiary, make_staff, make_wechat_user

TZ = ZoneInfo("Asia/Shanghai")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai time in December 2026."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ)


def raise_request(session, app, town, urgency: Urgency, when: datetime) -> int:
    """A family member's request, raised at `when` through the real service."""
    elder = make_beneficiary(session, town.village, when, assistant=town.assistant)
    family = make_wechat_user(session, f"o-family-{elder.id}", when, last_message_at=when)
    request = service.open_request(
        session, app.extensions["sanzhida"].request_env, beneficiary=elder,
        classification=Classification(RequestCategory.MEDICAL, urgency), summary="需要帮助",
        now=when, user=family,
    )
    session.commit()
    return request.id


def pushes(session, number: int) -> dict[str, datetime]:
    """Escalation pushes queued for a request: key -> when they may go."""
    fresh(session)
    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.request_id == number, OutboxMessage.idempotency_key.like("escalate%"))
    )
    return {row.idempotency_key: row.next_attempt_at for row in rows}


def level(session, number: int) -> int:
    """The request's escalation level now."""
    fresh(session)
    return session.get(ServiceRequest, number).escalation_level


def test_urgent_request_climbs_one_person_per_rung_even_at_night(app, session, clock, jobs_ctx, town):
    """Urgent at 23:00, sent at once whatever the hour: the village's responsible officer and the
    assistant at 23:15; at 23:30 the deputy, whom a one-officer town lacks, so the alert walks up to
    the city; the liaison at 23:45 (nobody on the rota: the liaison after all); the person on duty
    at 23:55, and then every ten minutes."""
    number = raise_request(session, app, town, Urgency.URGENT, at(clock, local(1, 23)))
    assert escalation_job(jobs_ctx, at(clock, local(1, 23, 14))) == 0
    assert escalation_job(jobs_ctx, at(clock, local(1, 23, 15))) == 1
    assert level(session, number) == 1
    first = pushes(session, number)
    assert set(first) == {
        f"escalate:{number}:1:{town.officer.id}",
        f"escalate:{number}:1:{town.assistant.id}",
        f"escalate:{number}:1:requester",
    }
    assert set(first.values()) == {local(1, 23, 15)}, "urgent pushes ignore quiet hours"
    # Running the scan again at the same minute changes nothing.
    assert escalation_job(jobs_ctx, local(1, 23, 15)) == 0
    assert escalation_job(jobs_ctx, at(clock, local(1, 23, 29))) == 0
    assert escalation_job(jobs_ctx, at(clock, local(1, 23, 30))) == 1
    assert set(pushes(session, number)) - set(first) == {f"escalate:{number}:2:{town.supervisor.id}"}
    assert escalation_job(jobs_ctx, at(clock, local(1, 23, 45))) == 1
    assert level(session, number) == 3
    assert {f"escalate:{number}:3:{town.supervisor.id}", f"escalate:{number}:3:requester"} <= set(pushes(session, number))
    assert escalation_job(jobs_ctx, at(clock, local(1, 23, 55))) == 1
    assert f"escalate:{number}:4:{town.supervisor.id}" in pushes(session, number)
    events = session.scalars(select(RequestEvent).where(RequestEvent.request_id == number, RequestEvent.kind == "escalated")).all()
    assert [e.data["level"] for e in events] == [1, 2, 3, 4]
    assert "已等待15分钟" in events[0].body and "已等待45分钟" in events[2].body
    # The last rung repeats while nobody accepts.
    assert session.get(ServiceRequest, number).next_escalation_at == local(2, 0, 10)


def test_urgent_request_accepted_in_time_never_escalates(app, session, clock, jobs_ctx, town):
    """Accepted at 10 minutes: the 15- and 45-minute rungs no longer apply."""
    number = raise_request(session, app, town, Urgency.URGENT, at(clock, local(1, 10)))
    with app.extensions["sanzhida"].session_factory() as s:
        request = s.get(ServiceRequest, number)
        casework.acknowledge(s, app.extensions["sanzhida"].request_env, request, request.assignee, local(1, 10, 10))
        s.commit()
    assert escalation_job(jobs_ctx, at(clock, local(1, 12))) == 0
    assert level(session, number) == 0


def test_normal_request_counts_service_hours_then_wall_time(app, session, clock, jobs_ctx, town):
    """Raised 19:30: the responsible officer at 09:30 next day (2 service hours); accepted, then the
    deputy officer at 48 h and the category's liaison at 96 h unresolved; the 48 h rung falls in
    quiet hours and waits until 07:00."""
    deputy = make_staff(session, StaffRole.TOWN_OFFICER, town.town, clock(), openid="o-officer-2")
    session.commit()
    number = raise_request(session, app, town, Urgency.NORMAL, at(clock, local(1, 19, 30)))
    # The new-task push itself is at 19:30, outside quiet hours: it goes at once.
    assert escalation_job(jobs_ctx, at(clock, local(1, 23))) == 0
    assert escalation_job(jobs_ctx, at(clock, local(2, 9, 29))) == 0
    assert escalation_job(jobs_ctx, at(clock, local(2, 9, 30))) == 1
    assert set(pushes(session, number)) == {f"escalate:{number}:1:{town.officer.id}", f"escalate:{number}:1:requester"}
    assert pushes(session, number)[f"escalate:{number}:1:{town.officer.id}"] == local(2, 9, 30)
    with app.extensions["sanzhida"].session_factory() as s:
        request = s.get(ServiceRequest, number)
        casework.acknowledge(s, app.extensions["sanzhida"].request_env, request, request.assignee, local(2, 10))
        s.commit()
    assert escalation_job(jobs_ctx, at(clock, local(3, 19, 29))) == 0
    assert escalation_job(jobs_ctx, at(clock, local(3, 23, 30))) == 1
    assert level(session, number) == 2
    second = pushes(session, number)
    assert second[f"escalate:{number}:2:{deputy.id}"] == local(4, 7), "quiet hours hold it until 07:00"
    assert f"escalate:{number}:2:{town.officer.id}" not in second
    assert escalation_job(jobs_ctx, at(clock, local(5, 19, 30))) == 1
    third = pushes(session, number)
    assert f"escalate:{number}:3:{town.supervisor.id}" in third
    requester_note = [k for k in third if k.endswith(":requester")]
    assert requester_note == [f"escalate:{number}:1:requester", f"escalate:{number}:2:requester",
                              f"escalate:{number}:3:requester"]


def test_requester_is_told_the_case_was_pressed(app, session, clock, jobs_ctx, town):
    """The requester's notice names who was asked to press the case."""
    number = raise_request(session, app, town, Urgency.URGENT, at(clock, local(1, 9)))
    escalation_job(jobs_ctx, at(clock, local(1, 9, 15)))
    fresh(session)
    row = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == f"escalate:{number}:1:requester")).one()
    assert "已提请乡镇民政办督办" in row.payload["text"]
    user = session.scalars(select(WeChatUser).where(WeChatUser.openid == row.recipient_openid)).one()
    assert user.openid.startswith("o-family-")


def test_waited_reads_naturally():
    """Durations read as people say them."""
    start = local(1, 9)
    assert escalation.waited(start, local(1, 9, 15)) == "15分钟"
    assert escalation.waited(start, local(1, 11)) == "2小时"
    assert escalation.waited(start, local(1, 11, 5)) == "2小时5分钟"
    assert escalation.waited(start, local(3, 12)) == "2天3小时"


def test_one_scan_writes_each_rung_once_in_timeline_order(app, session, clock, jobs_ctx, town):
    """Three urgent requests climb in one scan: a push queued before is not queued again, an
    unsubscribed requester gets nothing, and each timeline reads rung event, then its pushes."""
    env = app.extensions["sanzhida"].request_env
    numbers = [raise_request(session, app, town, Urgency.URGENT, at(clock, local(1, 9, minute))) for minute in (0, 1, 2)]
    first, second, third = numbers
    # The first requester's notice was already queued (say, by a run that crashed before committing its rung).
    request = session.get(ServiceRequest, first)
    notify.enqueue(session, notify.Push(f"escalate:{first}:1:requester", "先前的通知", "tpl", {}),
                   request.raised_by_wechat_user, local(1, 9, 10), tz=env.tz, request=request)
    session.get(ServiceRequest, second).raised_by_wechat_user.subscribed = False
    session.commit()

    assert escalation_job(jobs_ctx, at(clock, local(1, 9, 20))) == 3

    fresh(session)
    requester_rows = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.like("%:requester"))).all()
    assert {row.idempotency_key: row.payload["text"] for row in requester_rows} == {
        f"escalate:{first}:1:requester": "先前的通知",
        f"escalate:{third}:1:requester": requester_rows[-1].payload["text"],
    }
    assert "已提请乡镇民政办督办" in requester_rows[-1].payload["text"]
    for number in numbers:
        request = session.get(ServiceRequest, number)
        assert request.escalation_level == 1
        assert request.updated_at == local(1, 9, 20)
        assert request.next_escalation_at == local(1, 9, 30 + numbers.index(number))
        events = session.scalars(
            select(RequestEvent).where(RequestEvent.request_id == number, RequestEvent.created_at == local(1, 9, 20))
            .order_by(RequestEvent.id)
        ).all()
        assert events[0].kind == "escalated" and events[0].body == "第1级督办：已等待" + escalation.waited(
            request.created_at, local(1, 9, 20))
        # The officer and the assistant each got one digest of the three cases; the rung names both.
        assert events[1].kind == "push" and events[1].data == {
            "level": 1, "to_staff_ids": [town.officer.id, town.assistant.id],
            "roles": ["responsible_officer", "assignee"],
            "keys": [escalation.digest_key(town.officer.id, [(n, 1) for n in numbers]),
                     escalation.digest_key(town.assistant.id, [(n, 1) for n in numbers])],
        }
        requester_keys = [e.data["key"] for e in events[2:] if e.kind == "push"]
        assert requester_keys == ([f"escalate:{number}:1:requester"] if number == third else [])
        assert [e.kind for e in events] == ["escalated", "push"] + ["push"] * len(requester_keys)
    # A second scan at the same minute finds nothing due and writes nothing.
    before = session.scalar(select(func.count()).select_from(OutboxMessage))
    assert escalation_job(jobs_ctx, local(1, 9, 20)) == 0
    fresh(session)
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == before


def staff_rows(session, staff) -> list[OutboxMessage]:
    """Escalation pushes queued for one member of staff (a case's own or a digest), oldest first."""
    fresh(session)
    return session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient_staff_id == staff.id,
                                    OutboxMessage.idempotency_key.like("escalate%")).order_by(OutboxMessage.id)
    ).all()


def test_a_single_case_still_gets_its_own_push(app, session, clock, jobs_ctx, town):
    """One case in the scan: the officer's push is the case's own, text and template fields as before."""
    number = raise_request(session, app, town, Urgency.URGENT, at(clock, local(1, 9)))
    assert escalation_job(jobs_ctx, at(clock, local(1, 9, 15))) == 1
    (row,) = staff_rows(session, town.officer)
    request = session.get(ServiceRequest, number)
    assert row.idempotency_key == f"escalate:{number}:1:{town.officer.id}"
    assert row.request_id == number
    assert row.payload["text"] == texts.PUSH_ESCALATION.format(
        number=number, waited="15分钟", state="未接单", name=request.beneficiary.name,
        village="东湾村", category=request.category, assignee="王芳") + "\n您是东湾村的包村责任人。"
    env = app.extensions["sanzhida"].request_env
    assert row.payload["template"]["data"] == template_data(notify.task_fields(request, env.tz, "未接单 已等15分钟"))


def test_an_officer_alerted_about_three_cases_gets_one_digest(app, session, clock, jobs_ctx, town):
    """Three cases escalate in one scan: one push to the officer listing them, urgent ones first and
    the longest waiting first among them; the requesters are still told one by one."""
    normal = raise_request(session, app, town, Urgency.NORMAL, at(clock, local(1, 9)))
    older = raise_request(session, app, town, Urgency.URGENT, at(clock, local(1, 10, 40)))
    newer = raise_request(session, app, town, Urgency.URGENT, at(clock, local(1, 10, 45)))
    assert escalation_job(jobs_ctx, at(clock, local(1, 11))) == 3

    (row,) = staff_rows(session, town.officer)
    assert row.idempotency_key == escalation.digest_key(town.officer.id, [(normal, 1), (older, 1), (newer, 1)])
    *lines, link = row.payload["text"].split("\n")
    assert lines[0] == "请督办：3件求助超时未办："
    assert [int(line.split("号")[0]) for line in lines[1:]] == [older, newer, normal]
    # The digest ends with the link to every case it lists, the same one its template opens.
    assert link == f"查看全部：{row.payload['template']['url']}"
    assert "紧急，已等待20分钟" in lines[1] and lines[3].endswith("）已等待2小时")
    assert row.next_attempt_at == local(1, 11), "an urgent case in the digest sends it at once"
    data = row.payload["template"]["data"]
    # 编号 lists the cases in the digest's order, 对象 the first one's person and the count.
    values = {k: v["value"] for k, v in data.items()}
    assert values.pop("thing2").endswith("等3件")
    assert values == {
        "character_string1": f"{older},{newer},{normal}", "thing3": "超时待督办 最长已等2小时", "phrase4": "紧急",
        "time5": "2026-12-01 11:00",
    }
    assert template_field_errors("task", data) == []
    # The assistant was reminded about the two urgent ones, in one push too.
    (reminder,) = staff_rows(session, town.assistant)
    assert reminder.payload["text"].startswith("提醒：您有2件求助超时未办")
    for number in (normal, older, newer):
        assert set(pushes(session, number)) == {f"escalate:{number}:1:requester"}

    # A second scan at the same instant pushes nothing more; nor does one that takes the same rungs again.
    before = session.scalar(select(func.count()).select_from(OutboxMessage))
    assert escalation_job(jobs_ctx, local(1, 11)) == 0
    with app.extensions["sanzhida"].session_factory() as s:
        for number in (normal, older, newer):
            request = s.get(ServiceRequest, number)
            request.escalation_level, request.next_escalation_at = 0, local(1, 10)
        s.commit()
    assert escalation_job(jobs_ctx, local(1, 11)) == 3
    fresh(session)
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == before


def test_a_long_digest_lists_ten_and_counts_the_rest(app, session, clock, jobs_ctx, town):
    """Twelve cases: ten lines, then how many more; every template field within WeChat's 20 characters."""
    numbers = [raise_request(session, app, town, Urgency.URGENT, at(clock, local(1, 9, m))) for m in range(12)]
    assert escalation_job(jobs_ctx, at(clock, local(1, 9, 29))) == 12
    (row,) = staff_rows(session, town.officer)
    *lines, link = row.payload["text"].split("\n")
    assert link.startswith("查看全部：") and "/m/list/" in link
    assert lines[0] == "请督办：12件求助超时未办："
    assert [int(line.split("号")[0]) for line in lines[1:11]] == numbers[:10]
    assert lines[11:] == ["……另有2件，请到工作台查看。"]
    assert template_field_errors("task", row.payload["template"]["data"]) == []


def test_the_city_rung_reaches_one_liaison_not_every_supervisor(app, session, clock, jobs_ctx, town):
    """Two urgent cases reach the city together: only the liaison of the department that handles
    their category (医: the health commission) is alerted, once, in one digest; the other city
    supervisor hears nothing, and the rung's timeline entry names the liaison alone."""
    second = make_staff(session, StaffRole.CITY_SUPERVISOR, town.city, clock(), openid="o-supervisor-2")
    session.commit()
    numbers = [raise_request(session, app, town, Urgency.URGENT, at(clock, local(1, 9, minute))) for minute in (0, 1)]
    escalation_job(jobs_ctx, at(clock, local(1, 9, 20)))
    assert escalation_job(jobs_ctx, at(clock, local(1, 9, 50))) == 4  # the deputy's rung and the liaison's
    (row,) = staff_rows(session, town.supervisor)
    assert row.idempotency_key == escalation.digest_key(
        town.supervisor.id, [(n, level) for n in numbers for level in (2, 3)])
    assert staff_rows(session, second) == []
    events = session.scalars(select(RequestEvent).where(
        RequestEvent.request_id == numbers[0], RequestEvent.kind == "push", RequestEvent.created_at == local(1, 9, 50),
    ).order_by(RequestEvent.id)).all()
    assert [e.data["to_staff_ids"] for e in events[:2]] == [[town.supervisor.id], [town.supervisor.id]]
    assert [e.data["roles"] for e in events[:2]] == [["deputy_officer"], ["liaison"]]
    assert events[2].data["key"] == f"escalate:{numbers[0]}:3:requester"
