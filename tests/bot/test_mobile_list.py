"""The mobile list page /m/list/<token>: the recipient sees the whole list, read fresh and within
their scope; nobody else sees any of it; a changed link is 404, an expired one 410, both kind pages."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from config import policy
from models import AuditEntry, Beneficiary, ServiceRequest
from models.enums import BeneficiaryCategory, RegionLevel, RequestCategory, StaffRole, Urgency
from services import requests as service
from services.policy.classify import Classification
from services.summary_links import CASES, CITY_DIGEST, TOWN_DIGEST, VISITS
from tests.support.factories import make_beneficiary, make_region, make_staff, make_town, make_visit


@pytest.fixture
def world(session, clock, app):
    """The factory's town with three people and a case each (one urgent), and a second town."""
    town = make_town(session, clock())
    env = app.extensions["sanzhida"].request_env
    people = {
        "甲": make_beneficiary(session, town.village, clock() - timedelta(days=40), assistant=town.assistant,
                              name="张秀英", categories=[BeneficiaryCategory.TEKUN, BeneficiaryCategory.LIUSHOU_ELDERLY]),
        "乙": make_beneficiary(session, town.village, clock() - timedelta(days=40), assistant=town.assistant,
                              name="李桂兰", categories=[BeneficiaryCategory.DIBAO]),
        "丙": make_beneficiary(session, town.other_village, clock() - timedelta(days=40),
                              assistant=town.other_assistant, name="王建国"),
    }
    make_visit(session, people["乙"], town.assistant, clock() - timedelta(days=2))
    cases = {}
    for key, person, urgency, hours in (("甲", people["甲"], Urgency.URGENT, 5), ("乙", people["乙"], Urgency.NORMAL, 50),
                                        ("丙", people["丙"], Urgency.NORMAL, 1)):
        cases[key] = service.open_request(
            session, env, beneficiary=person, summary="需要帮助", now=clock() - timedelta(hours=hours),
            classification=Classification(RequestCategory.MEDICAL, urgency),
        ).id
    other_town = make_region(session, RegionLevel.TOWN, town.city, clock(), name="青湖镇")
    town.other_officer = make_staff(session, StaffRole.TOWN_OFFICER, other_town, clock(), openid="o-other-officer")
    session.commit()
    town.people, town.cases, town.other_town = people, cases, other_town
    return town


def link(app, staff, kind, covers, now) -> str:
    """The path of a list link, as the push carries it."""
    url = app.extensions["sanzhida"].request_env.links.url(staff.id, kind, covers, now)
    return url.removeprefix("http://127.0.0.1:5000")


def page_text(response) -> str:
    """The page's visible text, tags removed and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_the_recipient_sees_the_whole_list(client, app, world, clock, session):
    """Both cases of the digest, each with number, name, village, category, urgency, state and wait."""
    numbers = [world.cases["甲"], world.cases["乙"]]
    response = client.get(link(app, world.officer, CASES, numbers, clock()))
    assert response.status_code == 200
    text = page_text(response)
    for number, name in zip(numbers, ("张秀英", "李桂兰")):
        assert f"{number}号 {name}" in text
    assert "东湾村" in text and "医" in text and "紧急" in text and "待接单" in text
    assert "已等5小时" in text and "已等2天2小时" in text
    assert f"编号 {numbers[0]},{numbers[1]}" in text
    assert "王建国" not in text


def test_the_page_is_private_audited_and_never_logs_its_token(client, app, world, clock, session, caplog):
    """No caching or indexing; one audit entry without personal data; the token is in no log line."""
    path = link(app, world.officer, CASES, [world.cases["甲"]], clock())
    token = path.rsplit("/", 1)[1]
    with caplog.at_level(logging.DEBUG):
        response = client.get(path)
        client.get(path[:-3] + "abc")
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "noindex" in response.headers["X-Robots-Tag"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert not any(token in record.getMessage() or token[:20] in record.getMessage() for record in caplog.records)
    session.rollback()
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "mobile.list")).all()
    assert [(e.actor_staff_id, e.detail) for e in entries] == [(world.officer.id, {"kind": CASES, "items": 1})]


def test_nobody_else_sees_any_of_it(client, app, world, clock):
    """Another assistant and another town's officer, with valid links of their own to the same cases, see none."""
    numbers = list(world.cases.values())
    for stranger, hidden in ((world.other_assistant, ("张秀英", "李桂兰")),
                             (world.other_officer, ("张秀英", "李桂兰", "王建国"))):
        response = client.get(link(app, stranger, CASES, numbers, clock()))
        assert response.status_code == 200
        text = page_text(response)
        assert not any(name in text for name in hidden)
        assert "没有需要您处理的求助了" in text or "王建国" in text


def test_a_changed_link_is_not_found(client, app, world, clock):
    """A token for one person cannot be turned into another's: 404 with a kind page, never JSON or 500."""
    path = link(app, world.assistant, CASES, [world.cases["甲"]], clock())
    _, stamp, signature = path.rsplit("/", 1)[1].split(".")
    other = link(app, world.other_assistant, CASES, [world.cases["甲"]], clock()).rsplit("/", 1)[1].split(".")[0]
    for bad in (f"/m/list/{other}.{stamp}.{signature}", path[:-4] + "AAAA", "/m/list/nonsense",
                "/m/list/a/b/c", "/m/list/" + "x" * 3000):
        response = client.get(bad)
        assert response.status_code == 404, bad
        assert response.mimetype == "text/html"
        assert "链接打不开" in page_text(response)
        assert response.headers["Cache-Control"] == "private, no-store"


def test_an_expired_link_is_gone(client, app, world, clock):
    """After its days the link answers 410 and says why, kindly."""
    path = link(app, world.officer, CASES, [world.cases["甲"]], clock())
    clock.advance(days=policy.MOBILE_LIST_DAYS, seconds=1)
    response = client.get(path)
    assert response.status_code == 410
    assert "链接已过期" in page_text(response) and f"{policy.MOBILE_LIST_DAYS}天" in page_text(response)
    assert "张秀英" not in page_text(response)


def test_a_case_moved_out_of_scope_disappears(client, app, world, clock, session):
    """The officer's list is read when opened: a case since moved to another town is left out."""
    numbers = [world.cases["甲"], world.cases["乙"]]
    path = link(app, world.officer, CASES, numbers, clock())
    moved = session.get(ServiceRequest, world.cases["乙"])
    moved.town_id = world.other_town.id
    session.commit()
    text = page_text(client.get(path))
    assert "张秀英" in text and "李桂兰" not in text


def test_the_newest_state_is_shown(client, app, world, clock, session):
    """A case accepted after the push shows as 办理中."""
    path = link(app, world.officer, CASES, [world.cases["甲"]], clock())
    session.get(ServiceRequest, world.cases["甲"]).status = "acknowledged"
    session.commit()
    assert "办理中" in page_text(client.get(path))


def test_an_inactive_recipient_gets_nothing(client, app, world, clock, session):
    """Someone who has left the service cannot use an old link."""
    path = link(app, world.officer, CASES, [world.cases["甲"]], clock())
    session.merge(world.officer).active = False
    session.commit()
    response = client.get(path)
    assert response.status_code == 404 and "张秀英" not in page_text(response)


def test_the_visit_list_of_the_morning(client, app, world, clock):
    """The assistant's visits due by the day, most overdue first, with categories and the object number;
    the visit made two days ago and the other assistant's people are not on it."""
    today = clock().date()
    text = page_text(client.get(link(app, world.assistant, VISITS, today, clock())))
    first = world.people["甲"]
    assert "张秀英" in text and "超期33天" in text and "特困、留守老人" in text and f"对象编号 {first.id}" in text
    assert "李桂兰" not in text and "王建国" not in text
    assert "编号 ZF20261201" in text


def test_an_overdue_alert_lists_its_people_as_they_stand(client, app, world, clock, session):
    """The officer's alert names people; one visited since shows as visited."""
    ids = [world.people["甲"].id, world.people["丙"].id]
    path = link(app, world.officer, VISITS, ids, clock())
    make_visit(session, session.get(Beneficiary, ids[1]), world.other_assistant, clock())
    session.commit()
    text = page_text(client.get(path))
    assert "超期未走访" in text and "超期33天" in text and "已走访" in text
    assert "王建国" in text and "上次走访 12月1日" in text


def test_the_town_digest_lists_open_cases_and_overdue_visits(client, app, world, clock):
    """Figures as of now, every open case of the town (escalated and urgent first), overdue visits."""
    text = page_text(client.get(link(app, world.officer, TOWN_DIGEST, clock().date(), clock())))
    assert "柳河镇民政日报" in text
    assert re.search(r"在办求助\s*3\s*件", text) and re.search(r"超过48小时\s*1\s*件", text)
    assert text.index("张秀英") < text.index("李桂兰")
    assert "王建国" in text and "编号 RB20261201" in text


def test_the_city_digest_lists_every_town(client, app, world, clock):
    """A line per town with its figures; the requests of the week before the day."""
    text = page_text(client.get(link(app, world.supervisor, CITY_DIGEST, clock().date() + timedelta(days=1), clock())))
    assert "柳河镇" in text and "青湖镇" in text
    assert "上周求助3件" in text and "上周求助0件" in text
