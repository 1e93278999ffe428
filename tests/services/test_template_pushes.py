"""Every template push the product writes fits its template: each field holds what its label says,
in the form WeChat's rules for its type allow, and a push about a list links to the whole list.

The main flows run as the scheduler and the chat run them, with a fixed `now`; then every template
payload they wrote is checked against `config.policy.TEMPLATES`, and the outbox is sent to the
WeChat stand-in, which refuses invalid data as WeChat does (47003): nothing may end a dead letter.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import OutboxMessage, ServiceRequest, Staff
from models.enums import BeneficiaryCategory, PushKind, RequestCategory, Urgency
from scheduler import calendar
from scheduler.jobs import JobContext, escalation_job, outbox_job
from services import casework
from services import requests as service
from services.policy.classify import Classification
from services.policy.push import template_field_errors
from services.summary_links import CASES, LinkInvalid, reference
from tests.support.factories import fresh, make_beneficiary, make_town, make_visit, make_wechat_user

TZ = ZoneInfo("Asia/Shanghai")
GRACE = timedelta(minutes=180)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai time in December 2026 (the 7th is a Monday)."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ)


@pytest.fixture
def jobs_ctx(app) -> JobContext:
    """What the scheduler's jobs get, wired to the test database, Redis and WeChat stand-in."""
    svc = app.extensions["sanzhida"]
    return JobContext(session_factory=svc.session_factory, wechat=svc.wechat, env=svc.request_env)


class Flows:
    """The product's flows on the factory's small town, each at a fixed time."""

    def __init__(self, app, session, clock, jobs_ctx):
        self.app, self.session, self.clock, self.ctx = app, session, clock, jobs_ctx
        self.env = app.extensions["sanzhida"].request_env
        self.town = make_town(session, local(1, 8))

    def at(self, moment: datetime) -> datetime:
        self.clock.now = moment
        return moment

    def raise_request(self, urgency: Urgency, when: datetime, **person) -> int:
        """A family member's request through the real service; the family has not written lately,
        so their notices go as template messages too."""
        elder = make_beneficiary(self.session, self.town.village, when - timedelta(days=60),
                                 assistant=self.town.assistant, **person)
        family = make_wechat_user(self.session, f"o-family-{elder.id}", when)
        number = service.open_request(
            self.session, self.env, beneficiary=elder, summary="我妈腿疼，药吃完了，麻烦帮忙买药送过来",
            classification=Classification(RequestCategory.MEDICAL, urgency), now=self.at(when), user=family,
        ).id
        self.session.commit()
        return number

    def casework(self, action, number: int, when: datetime, *args) -> None:
        with self.app.extensions["sanzhida"].session_factory() as s:
            request = s.get(ServiceRequest, number)
            action(s, self.env, request, request.assignee, *args, self.at(when))
            s.commit()

    def calendar_job(self, job_id: str, when: datetime) -> None:
        job = next(j for j in calendar.calendar_jobs(TZ) if j.id == job_id)
        assert calendar.run_calendar_job(self.ctx, job, self.at(when), GRACE) == "ran"

    def people_due_for_visits(self) -> None:
        """Two people long overdue (beyond the slack) and one visited recently, of the assistant."""
        for name in ("张秀英", "李桂兰"):
            make_beneficiary(self.session, self.town.village, local(1, 8) - timedelta(days=40),
                             assistant=self.town.assistant, name=name, categories=[BeneficiaryCategory.TEKUN])
        visited = make_beneficiary(self.session, self.town.village, local(1, 8) - timedelta(days=40),
                                   assistant=self.town.assistant, categories=[BeneficiaryCategory.DIBAO])
        make_visit(self.session, visited, self.town.assistant, local(1, 8) - timedelta(days=3))
        self.session.commit()

    # --- the flows -------------------------------------------------------------------------------

    def new_request(self):
        self.raise_request(Urgency.NORMAL, local(1, 9))

    def progress(self):
        number = self.raise_request(Urgency.NORMAL, local(1, 9))
        self.casework(casework.acknowledge, number, local(1, 9, 5))
        self.casework(casework.resolve, number, local(1, 11), "已送药上门，老人情况稳定，明天再去看看")

    def escalation(self):
        self.raise_request(Urgency.URGENT, local(1, 9))
        escalation_job(self.ctx, self.at(local(1, 9, 15)))

    def escalation_digest(self):
        self.raise_request(Urgency.NORMAL, local(1, 9))
        self.raise_request(Urgency.URGENT, local(1, 10, 40))
        self.raise_request(Urgency.URGENT, local(1, 10, 45))
        escalation_job(self.ctx, self.at(local(1, 11)))

    def visit_reminder(self):
        self.people_due_for_visits()
        self.calendar_job("visit_reminders", local(2, 8))

    def town_digest(self):
        self.raise_request(Urgency.NORMAL, local(1, 9))
        self.people_due_for_visits()
        self.calendar_job("town_digest", local(2, 8, 30))

    def city_digest(self):
        self.raise_request(Urgency.NORMAL, local(3, 9))
        self.calendar_job("city_summary", local(7, 9))

    def monthly_report(self):
        self.raise_request(Urgency.NORMAL, local(1, 8, 30))
        self.calendar_job("monthly_report", local(1, 9))


FLOWS = [
    pytest.param("new_request", {PushKind.TASK}, id="new request task"),
    pytest.param("progress", {PushKind.ACK, PushKind.RESOLVED}, id="progress notices"),
    pytest.param("escalation", {PushKind.ESCALATE}, id="escalation single push"),
    pytest.param("escalation_digest", {PushKind.ESCALATE_DIGEST}, id="escalation digest"),
    pytest.param("visit_reminder", {PushKind.REMIND}, id="visit reminder"),
    pytest.param("visit_reminder", {PushKind.VISIT_OVERDUE}, id="overdue visit alert"),
    pytest.param("town_digest", {PushKind.DIGEST_TOWN}, id="town digest"),
    pytest.param("city_digest", {PushKind.DIGEST_CITY}, id="city digest"),
    pytest.param("monthly_report", {PushKind.REPORT_MONTHLY}, id="monthly report notice"),
]


def problems(row: OutboxMessage, env, names: dict[int, str]) -> list[str]:
    """Everything wrong with one outbox row's template: WeChat's rules, and what each field means."""
    template = row.payload.get("template")
    kind = {env.templates.task: "task", env.templates.progress: "progress"}.get(template["template_id"])
    found = template_field_errors(kind, template["data"])
    values = {key: field["value"] for key, field in template["data"].items()}
    if row.request_id is not None:
        # A push about one case: 编号 is its number.
        if values.get("character_string1") != str(row.request_id):
            found.append(f"编号 {values.get('character_string1')!r} is not the case number {row.request_id}")
        return found
    url = template.get("url")
    if row.idempotency_key.startswith(f"{PushKind.REPORT_MONTHLY.value}:"):
        # Not a list: a notice that the month's report is ready, linking to the 月报 page.
        if not url or not url.endswith("/office/reports") or not row.payload["text"].endswith(url):
            found.append("the report notice does not end with the link to the 月报 page")
        if not re.fullmatch(r"YB\d{6}", str(values.get("character_string1"))):
            found.append("编号 is not the report's reference")
        return found
    # A push about a list: the fields say what the list is, the link opens the whole of it.
    if not url or "/m/list/" not in url:
        return [*found, "a push about a list carries no link to the whole list"]
    try:
        listed = env.links.read(url.rsplit("/", 1)[1], row.created_at)
    except LinkInvalid:
        return [*found, "its link does not open"]
    if listed.staff_id != row.recipient_staff_id:
        found.append("its link opens someone else's list")
    day = listed.day or listed.signed_at.astimezone(TZ).date()
    if values.get("character_string1") != reference(listed.kind, ids=listed.ids, day=day):
        found.append(f"编号 {values.get('character_string1')!r} is not the list's reference")
    name = names[row.recipient_staff_id]
    if name in (values.get("thing2"), values.get("thing3")):
        found.append("a field holds the recipient's own name")
    if listed.kind == CASES:
        named = {int(n) for n in re.findall(r"(\d+)号", row.payload["text"])}
        if not named <= set(listed.ids):
            found.append("the link leaves out cases the push names")
    if not row.payload["text"].endswith(url):
        found.append("the text does not end with the link")
    return found


@pytest.mark.parametrize(("flow", "kinds"), FLOWS)
def test_every_template_push_fits_its_template(app, session, clock, jobs_ctx, fake_wechat, flow, kinds):
    """No field breaks WeChat's rules or says the wrong thing; WeChat (the stand-in) takes every one."""
    flows = Flows(app, session, clock, jobs_ctx)
    getattr(flows, flow)()
    fresh(session)
    rows = [row for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            if row.idempotency_key.split(":")[0] in kinds]
    assert rows, f"the flow wrote no {sorted(kinds)} push"
    names = dict(session.execute(select(Staff.id, Staff.name)).all())
    env = app.extensions["sanzhida"].request_env
    assert {row.idempotency_key: problems(row, env, names) for row in rows} == {row.idempotency_key: [] for row in rows}

    outbox_job(jobs_ctx, clock() + timedelta(hours=12))
    fresh(session)
    sent = {row.idempotency_key: (row.status, row.last_error) for row in session.scalars(select(OutboxMessage))}
    assert {key: sent[key] for key in (row.idempotency_key for row in rows)} == {
        row.idempotency_key: ("sent", None) for row in rows
    }
