"""End to end through the real /wechat endpoint and the WeChat stand-in: bind, ask, accept, reply,
resolve, rate; routing without an assistant; permission refusals; pushes surviving WeChat failures."""

from __future__ import annotations

import random

import requests as http
from sqlalchemy import func, select

from models import OutboxMessage, RequestEvent, ServiceRequest, Staff
from models.enums import StaffRole
from runtime.dispatch import dispatch_outbox
from services import texts
from tests.support.factories import fresh, make_beneficiary, make_staff
from tests.support.wechat import reply_content


class Phone:
    """Everyone's WeChat at once: say something as someone, read what the stand-in delivered."""

    def __init__(self, app, client, sender, fake_wechat, clock):
        self.app, self.client, self.sender, self.fake, self.clock = app, client, sender, fake_wechat, clock

    def say(self, openid: str, text: str) -> str:
        """Send text as `openid`; return the passive reply's text."""
        return self._reply(self.sender.text(openid, text))

    def voice(self, openid: str, media_id: str, recognition: str) -> str:
        """Send a voice message."""
        return self._reply(self.sender.voice(openid, media_id, recognition))

    def event(self, openid: str, event: str, key: str | None = None) -> str:
        """Send an event (subscribe with a QR scene, SCAN, CLICK …)."""
        return self._reply(self.sender.event(openid, event, key=key))

    def _reply(self, xml: str) -> str:
        response, _ = self.sender.post(self.client, xml)
        assert response.status_code == 200
        self.clock.advance(seconds=2)
        return reply_content(response.data)["Content"] if response.data != b"success" else ""

    def dispatch(self, rounds: int = 1):
        """Run the outbox dispatcher as the scheduler would."""
        svc = self.app.extensions["sanzhida"]
        report = None
        for _ in range(rounds):
            report = dispatch_outbox(svc.session_factory, svc.wechat, svc.clock, rng=random.Random(7))
        return report

    def calls(self) -> list[dict]:
        """Every call the stand-in recorded."""
        return http.get(f"http://{self.fake.host}:{self.fake.port}/_calls", timeout=5).json()

    def inbox(self, openid: str) -> list[str]:
        """What reached `openid`: customer-service texts, and template fields joined."""
        messages = []
        for call in self.calls():
            body = call.get("body") or {}
            if call["outcome"] != "delivered" or body.get("touser") != openid:
                continue
            if call["path"] == "message/custom/send":
                messages.append(body["text"]["content"])
            elif call["path"] == "message/template/send":
                messages.append(" | ".join(v["value"] for v in body["data"].values()))
        return messages


def test_family_member_binds_asks_by_voice_and_the_case_runs_to_a_rating(phone, town, session, clock):
    """The whole 三直达 loop, every step in the case's events."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="陈桂兰")
    session.commit()

    asked = phone.event("o-son", "subscribe", key=f"qrscene_bind:{elder.bind_code}")
    assert "陈桂兰" in asked and "2 子女" in asked
    bound = phone.say("o-son", "2")
    assert "绑定成功" in bound and "王芳" in bound and town.assistant.phone in bound

    opened = phone.voice("o-son", "media-77", "我妈腿疼得厉害，降压药也吃完了")
    number = session.scalar(select(func.max(ServiceRequest.id)))
    assert f"编号 {number}" in opened and "王芳" in opened and town.assistant.phone in opened
    case = session.get(ServiceRequest, number)
    assert (case.category, case.assignee_staff_id, case.status) == ("医", town.assistant.id, "open")

    phone.dispatch()
    task = phone.inbox("o-assistant")
    assert len(task) == 1 and task[0].startswith(str(number)) and "陈桂兰" in task[0]

    assert f"已接单：{number}号" in phone.say("o-assistant", f"接单 {number}")
    assert phone.say("o-assistant", f"回复 {number} 下午三点送药上门") == texts.REPLY_SENT.format(number=number)
    phone.dispatch()
    son = phone.inbox("o-son")
    assert any("王芳已接单" in m for m in son)
    assert any("下午三点送药上门" in m for m in son)

    assert "已办结" in phone.say("o-assistant", f"完成 {number} 已送药上门，血压正常")
    phone.dispatch()
    assert any(f"评价 {number} 5" in m for m in phone.inbox("o-son"))

    assert phone.say("o-son", f"评价 {number} 5 很及时") == texts.RATED.format(number=number)
    fresh(session)
    case = session.get(ServiceRequest, number)
    assert (case.status, case.rating) == ("closed", 5)
    kinds = [e.kind for e in session.scalars(select(RequestEvent).where(RequestEvent.request_id == number).order_by(RequestEvent.id))]
    for step in ("created", "acknowledged", "reply", "resolved", "rated"):
        assert step in kinds
    assert kinds.index("created") < kinds.index("acknowledged") < kinds.index("reply") < kinds.index("resolved") < kinds.index("rated")
    assert kinds.count("push") >= 4
    created = session.scalars(select(RequestEvent).where(RequestEvent.request_id == number, RequestEvent.kind == "created")).one()
    assert created.data["media_id"] == "media-77"


def test_a_second_message_joins_the_open_request(phone, town, session, clock):
    """Messages within the merge window add to the open request instead of opening another."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    session.commit()
    phone.say("o-self", f"绑定 {elder.bind_code}")
    phone.say("o-self", "1")
    phone.say("o-self", "家里没米了")
    appended = phone.say("o-self", "油也没了")
    assert "已补充到求助" in appended
    assert session.scalar(select(func.count()).select_from(ServiceRequest)) == 1


def test_urgent_words_make_it_urgent_and_suggest_the_emergency_number(phone, town, session, clock):
    """摔倒 is urgent and the reply says to call 120 first."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    session.commit()
    phone.say("o-neighbour", f"绑定 {elder.bind_code}")
    phone.say("o-neighbour", "5")
    reply = phone.say("o-neighbour", "老人在院子里摔倒了起不来")
    assert "120" in reply
    assert session.scalars(select(ServiceRequest)).one().urgency == "urgent"


def test_without_an_assistant_the_town_officer_gets_it(phone, town, session, clock):
    """No active assistant: routed to the town officer, who is pushed the task."""
    elder = make_beneficiary(session, town.village, clock())
    session.commit()
    phone.say("o-daughter", f"绑定 {elder.bind_code}")
    phone.say("o-daughter", "2")
    reply = phone.say("o-daughter", "房子漏雨了")
    assert "赵敏" in reply
    case = session.scalars(select(ServiceRequest)).one()
    assert case.assignee_staff_id == town.officer.id
    phone.dispatch()
    assert len(phone.inbox("o-officer")) == 1
    assert phone.inbox("o-assistant") == []


def test_without_assistant_or_town_officer_the_city_supervisor_gets_it(phone, town, session, clock):
    """No assistant and no active town officer: the city supervisor has it."""
    session.get(Staff, town.officer.id).active = False
    elder = make_beneficiary(session, town.village, clock())
    session.commit()
    phone.say("o-daughter", f"绑定 {elder.bind_code}")
    phone.say("o-daughter", "2")
    assert "周杰" in phone.say("o-daughter", "想问问低保怎么申请")
    assert session.scalars(select(ServiceRequest)).one().assignee_staff_id == town.supervisor.id
    phone.dispatch()
    assert len(phone.inbox("o-supervisor")) == 1


def test_an_assistant_cannot_act_on_another_assistants_case(phone, town, session, clock):
    """Permissions live in the service layer: 李强 may not accept or resolve 王芳's case."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    session.commit()
    phone.say("o-son", f"绑定 {elder.bind_code}")
    phone.say("o-son", "2")
    phone.say("o-son", "帮忙买点米")
    number = session.scalar(select(func.max(ServiceRequest.id)))
    assert phone.say("o-assistant-2", f"接单 {number}") == texts.NOT_ALLOWED.format(number=number)
    assert phone.say("o-assistant-2", f"完成 {number} 好了") == texts.NOT_ALLOWED.format(number=number)
    assert phone.say("o-assistant", f"转派 {number} {town.other_assistant.staff_no}") == texts.NOT_ALLOWED.format(number=number)
    assert phone.say("o-son", f"督办 {number}") == texts.STAFF_ONLY
    fresh(session)
    assert session.get(ServiceRequest, number).status == "open"
    # The town officer may reassign within the town.
    assert "已转派" in phone.say("o-officer", f"转派 {number} {town.other_assistant.staff_no}")
    fresh(session)
    assert session.get(ServiceRequest, number).assignee_staff_id == town.other_assistant.id


def test_staff_invite_binds_once_and_a_reused_code_is_refused(phone, town, session, clock, app):
    """A one-time invite binds the staff member's WeChat; the same code is refused afterwards."""
    from services.binding import issue_invite

    newcomer = make_staff(session, StaffRole.ASSISTANT, town.village, clock(), name="孙丽")
    code, _ = issue_invite(session, app.extensions["sanzhida"].pii, newcomer, clock())
    session.commit()
    assert "绑定成功" in phone.say("o-new-staff", f"绑定 {code}")
    assert phone.say("o-someone-else", f"绑定 {code}") == texts.INVITE_USED
    fresh(session)
    assert session.get(Staff, newcomer.id).wechat_user.openid == "o-new-staff"


def test_wrong_codes_are_counted_and_lock_binding_for_the_day(phone, town, session, clock):
    """Five wrong codes lock binding for that openid until the next day, even for a right code."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    session.commit()
    replies = [phone.say("o-guesser", f"绑定 ZZZZZ{i}") for i in range(5)]
    assert "还可以试4次" in replies[0]
    assert replies[-1] == texts.BIND_LOCKED
    assert phone.say("o-guesser", f"绑定 {elder.bind_code}") == texts.BIND_LOCKED
    clock.advance(days=1)
    assert "2 子女" in phone.say("o-guesser", f"绑定 {elder.bind_code}")


def test_one_user_bound_to_two_parents_is_asked_which(phone, town, session, clock):
    """A son caring for both parents chooses whom a new request is for."""
    father = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="刘大山")
    mother = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="张秀英")
    session.commit()
    for person in (father, mother):
        phone.say("o-son", f"绑定 {person.bind_code}")
        phone.say("o-son", "2")
    question = phone.say("o-son", "家里暖气坏了")
    assert "1 刘大山" in question and "2 张秀英" in question
    assert "编号" in phone.say("o-son", "2")
    case = session.scalars(select(ServiceRequest)).one()
    assert (case.beneficiary_id, case.summary) == (mother.id, "家里暖气坏了")
    # Named in the message: clear from context, no question.
    assert "编号" in phone.say("o-son", "刘大山咳嗽好几天了")


def test_visit_with_a_problem_opens_a_request_and_tells_family(phone, town, session, clock):
    """走访 records the four checks; a problem opens a request; the family gets a notice."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="黄德福")
    session.commit()
    phone.say("o-grandson", f"绑定 {elder.bind_code}")
    phone.say("o-grandson", "4")
    reply = phone.say("o-assistant", f"走访 {elder.id} 住:屋顶漏雨 帮:购物")
    assert "黄德福" in reply and "生成求助" in reply
    case = session.scalars(select(ServiceRequest)).one()
    assert (case.source, case.category, case.assignee_staff_id) == ("visit", "住", town.assistant.id)
    fresh(session)
    assert session.get(type(elder), elder.id).last_visited_at is not None, "coverage reads the latest visit"
    phone.dispatch()
    assert any("走访" in m and "屋顶漏雨" in m for m in phone.inbox("o-grandson"))
    # 退订通知 stops the notices.
    phone.say("o-grandson", "退订通知")
    phone.say("o-assistant", f"走访 {elder.id}")
    phone.dispatch()
    assert sum("走访" in m for m in phone.inbox("o-grandson")) == 1


def test_pushes_survive_wechat_failures_exactly_once(phone, town, session, clock, fake_wechat):
    """500s, a rejected token and a timeout, then recovery: each push delivered once, none stuck."""
    people = [make_beneficiary(session, town.village, clock(), assistant=town.assistant) for _ in range(3)]
    session.commit()
    for i, person in enumerate(people):
        phone.say(f"o-fam-{i}", f"绑定 {person.bind_code}")
        phone.say(f"o-fam-{i}", "2")
    http.delete(f"http://{fake_wechat.host}:{fake_wechat.port}/_calls", timeout=5)
    base = f"http://{fake_wechat.host}:{fake_wechat.port}"
    http.post(f"{base}/_faults", json={"path": "message/template/send", "http_status": 500, "times": 2}, timeout=5)
    http.post(f"{base}/_faults", json={"path": "message/template/send", "errcode": 40001, "times": 2}, timeout=5)
    http.post(f"{base}/_faults", json={"path": "message/template/send", "delay": 2.5, "times": 1}, timeout=5)
    for i in range(3):
        phone.say(f"o-fam-{i}", "请来看看我家老人")
    keys = set(session.scalars(select(OutboxMessage.idempotency_key)))
    assert len(keys) == 3

    for _ in range(8):
        phone.dispatch()
        clock.advance(hours=1)
    fresh(session)
    statuses = session.scalars(select(OutboxMessage.status)).all()
    assert statuses and set(statuses) == {"sent"}
    delivered = [c for c in phone.calls() if c["path"] == "message/template/send" and c["outcome"] == "delivered"]
    per_push = {}
    for call in delivered:
        per_push[call["body"]["client_msg_id"]] = per_push.get(call["body"]["client_msg_id"], 0) + 1
    assert len(per_push) == 3 and set(per_push.values()) == {1}
    failures = [c["outcome"] for c in phone.calls() if c["outcome"] != "delivered"]
    assert "http 500" in failures and "errcode 40001" in failures


def test_permanent_errors_become_dead_letters(phone, town, session, clock, fake_wechat):
    """A recipient who unfollowed (43004) is dead-lettered at once, visible with its error."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    session.commit()
    phone.say("o-fam", f"绑定 {elder.bind_code}")
    phone.say("o-fam", "2")
    base = f"http://{fake_wechat.host}:{fake_wechat.port}"
    http.post(f"{base}/_faults", json={"path": "message/template/send", "errcode": 43004, "times": 1}, timeout=5)
    phone.say("o-fam", "有事找")
    report = phone.dispatch()
    assert report.dead == 1
    row = session.scalars(select(OutboxMessage)).one()
    assert row.status == "dead" and row.last_error.startswith("43004")


def test_menu_clicks_do_what_the_commands_do(phone, town, session, clock):
    """CLICK keys from the custom menu answer like the typed commands."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="吴建国")
    session.commit()
    phone.say("o-fam", f"绑定 {elder.bind_code}")
    phone.say("o-fam", "2")
    assert "王芳" in phone.event("o-fam", "CLICK", key="MY_ASSISTANT")
    assert phone.event("o-fam", "CLICK", key="PROGRESS") == texts.PROGRESS_NONE
    assert phone.event("o-assistant", "CLICK", key="TASKS") == texts.TASKS_NONE


def test_progress_cancel_supervise_and_unbind(phone, town, session, clock):
    """A follower scans the card (SCAN), checks progress, a supervisor presses, the family cancels,
    then unbinds: the case and its history stay."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="郑玉梅")
    session.commit()
    phone.event("o-niece", "subscribe")
    assert "郑玉梅" in phone.event("o-niece", "SCAN", key=f"bind:{elder.bind_code}")
    phone.say("o-niece", "4")
    phone.say("o-niece", "想问问高龄补贴")
    number = session.scalar(select(func.max(ServiceRequest.id)))
    progress = phone.say("o-niece", "进度")
    assert f"{number}号（郑玉梅，政策）：待接单，负责人王芳" in progress

    assert phone.say("o-officer", f"督办 {number}") == texts.NOT_ALLOWED.format(number=number)
    assert "已督办" in phone.say("o-supervisor", f"督办 {number}")
    phone.dispatch()
    assert any("督办" in m for m in phone.inbox("o-assistant"))

    assert phone.say("o-niece", f"取消 {number}") == texts.CANCELLED.format(number=number)
    assert "已取消" in phone.say("o-niece", f"取消 {number}")
    assert phone.say("o-stranger", f"取消 {number}") == texts.NOT_YOUR_REQUEST.format(number=number)

    assert "已解除与郑玉梅的绑定" in phone.say("o-niece", "解绑")
    assert phone.say("o-niece", "还在吗") == texts.HOW_TO_BIND
    fresh(session)
    case = session.get(ServiceRequest, number)
    assert case.status == "cancelled" and case.raised_by_wechat_user.openid == "o-niece"
    kinds = [e.kind for e in case.events]
    assert "supervised" in kinds and "cancelled" in kinds


def test_an_unfollowed_user_is_not_pushed_to(phone, town, session, clock):
    """After unsubscribe nothing is queued for that user; the binding and the case remain."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    session.commit()
    phone.say("o-fam", f"绑定 {elder.bind_code}")
    phone.say("o-fam", "2")
    phone.say("o-fam", "帮忙买药")
    number = session.scalar(select(func.max(ServiceRequest.id)))
    phone.event("o-fam", "unsubscribe")
    phone.say("o-assistant", f"接单 {number}")
    fresh(session)
    queued_for_family = session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.recipient_openid == "o-fam")
    )
    assert queued_for_family == 0
    assert session.get(ServiceRequest, number).status == "acknowledged"


def test_at_most_five_customer_service_messages_then_templates(phone, town, session, clock):
    """Within WeChat's 48-hour window at most 5 customer-service messages go to a user, even when
    they are dispatched in one batch; the rest go as template messages."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    session.commit()
    phone.say("o-fam", f"绑定 {elder.bind_code}")
    phone.say("o-fam", "2")
    phone.say("o-fam", "家里没米了")
    number = session.scalar(select(func.max(ServiceRequest.id)))
    for n in range(7):
        phone.say("o-assistant", f"回复 {number} 第{n + 1}条消息")
    phone.dispatch()
    kinds = [c["path"] for c in phone.calls()
             if (c.get("body") or {}).get("touser") == "o-fam" and c["outcome"] == "delivered"]
    assert kinds.count("message/custom/send") == 5
    assert kinds.count("message/template/send") == 2
