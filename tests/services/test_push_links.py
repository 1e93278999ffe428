"""A push may carry a link (WeChat opens it in its in-app browser): the template message carries it
as `url`, the customer-service text ends with it. A template WeChat refuses (47003) is a dead letter."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import requests as http
from sqlalchemy import select

from models import OutboxMessage
from runtime.dispatch import drain_outbox
from services import notify, texts
from services.notify import Push
from services.policy.push import client_msg_id, template_data
from tests.support.factories import fresh, make_wechat_user

TZ = ZoneInfo("Asia/Shanghai")
URL = "https://mz.example.cn/m/list/abc.def.ghi"
FIELDS = {"character_string1": "12,15", "thing2": "张秀英等2件", "thing3": "超时待督办 最长已等2小时",
          "phrase4": "紧急", "time5": "2026-12-01 09:00"}


@pytest.fixture
def jobs_wechat(app):
    """The app's session factory and WeChat client, as the dispatcher gets them."""
    svc = app.extensions["sanzhida"]
    return svc.session_factory, svc.wechat


def calls(fake_wechat, path: str) -> list[dict]:
    """What the stand-in received on one path."""
    return [c for c in http.get(f"http://{fake_wechat.host}:{fake_wechat.port}/_calls", timeout=5).json()
            if c["path"] == path]


def queue(session, clock, push: Push, *, wrote: bool) -> None:
    """Queue one push to a follower who has (or has not) written within the customer-service window."""
    user = make_wechat_user(session, f"o-{push.key}", clock() - timedelta(days=3),
                            last_message_at=clock() - timedelta(hours=1) if wrote else None)
    assert notify.enqueue(session, push, user, clock(), tz=TZ, urgent=True)
    session.commit()


def test_the_link_goes_in_the_template_and_ends_the_text(session, clock):
    """The payload's template has the url; the text's last line is 查看全部 and the link, once."""
    push = Push(key="remind:1:2026-12-01", text="今日走访：2 户", template_id="tpl-task", fields=FIELDS, url=URL)
    payload = notify.push_payload(push)
    assert payload["template"] == {"template_id": "tpl-task", "data": template_data(FIELDS), "url": URL}
    assert payload["text"] == "今日走访：2 户\n" + texts.LIST_LINK.format(url=URL)
    already = Push(key="k", text=f"看这里 {URL}", template_id="tpl-task", fields=FIELDS, url=URL)
    assert notify.push_payload(already)["text"] == f"看这里 {URL}"
    plain = Push(key="k", text="你好", template_id="tpl-task", fields=FIELDS)
    assert "url" not in notify.push_payload(plain)["template"] and notify.push_payload(plain)["text"] == "你好"


def test_a_template_message_is_sent_with_its_url_and_client_msg_id(session, clock, jobs_wechat, fake_wechat):
    """Outside the window the push goes as a template message whose body carries the link."""
    push = Push(key="remind:1:2026-12-01", text="今日走访", template_id="tpl-task", fields=FIELDS, url=URL)
    queue(session, clock, push, wrote=False)
    assert drain_outbox(*jobs_wechat, clock).sent == 1
    (sent,) = calls(fake_wechat, "message/template/send")
    assert sent["outcome"] == "delivered"
    assert sent["body"]["url"] == URL and sent["body"]["client_msg_id"] == client_msg_id(push.key)
    assert sent["body"]["data"] == template_data(FIELDS)


def test_a_customer_service_message_ends_with_the_link(session, clock, jobs_wechat, fake_wechat):
    """Inside the window the text goes, its last line the link."""
    push = Push(key="remind:2:2026-12-01", text="今日走访", template_id="tpl-task", fields=FIELDS, url=URL)
    queue(session, clock, push, wrote=True)
    assert drain_outbox(*jobs_wechat, clock).sent == 1
    (sent,) = calls(fake_wechat, "message/custom/send")
    assert sent["body"]["text"]["content"].splitlines()[-1] == f"查看全部：{URL}"


def test_template_data_wechat_refuses_becomes_a_dead_letter(session, clock, jobs_wechat, fake_wechat):
    """The stand-in answers 47003 as WeChat does, a permanent error: the row is dead at once, not retried."""
    push = Push(key="remind:3:2026-12-01", text="今日走访", template_id="tpl-task",
                fields={**FIELDS, "character_string1": "3户", "phrase4": "请尽快处理此事"})
    queue(session, clock, push, wrote=False)
    report = drain_outbox(*jobs_wechat, clock)
    assert (report.sent, report.dead) == (0, 1)
    fresh(session)
    row = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == push.key)).one()
    assert row.status == "dead" and row.attempts == 1
    assert row.last_error.startswith("47003: argument invalid! data.character_string1.value invalid rid: ")
    assert [c["outcome"] for c in calls(fake_wechat, "message/template/send")] == ["errcode 47003"]
