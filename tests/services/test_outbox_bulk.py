"""Large batches of pushes (on PostgreSQL, sent as one JSON parameter from `notify.BULK_ROWS` rows on)
store exactly what small ones store: each new key once, the first delivery of a repeated key the one
that queued it, keys queued before skipped, SMS rows beside WeChat rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models import OutboxMessage
from models.enums import PushKind
from services import notify
from services.notify import Delivery, Push, SmsPlan, enqueue_many, push_key, sms_text
from tests.support.factories import fresh, make_wechat_user

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 8, 10, 0, tzinfo=TZ)


def push(n: int, **extra) -> Push:
    """A reminder-like push numbered n."""
    return Push(key=push_key(PushKind.CHECKIN_REMIND, n, "2026-12-08", n), text=f"提醒 {n}", template_id="tpl",
                fields={"character_string1": n, "thing2": f"对象{n}今天还没有报平安", "thing3": "王芳",
                        "time4": "2026-12-08 10:00"}, **extra)


def test_a_large_batch_stores_each_new_key_once(app, session):
    svc = app.extensions["sanzhida"]
    count = notify.BULK_ROWS + 50
    clashes = notify.key_clashes()
    with svc.session_factory() as s:
        users = [make_wechat_user(s, f"o-bulk-{n}", NOW) for n in range(count)]
        assert enqueue_many(s, [Delivery(push(0), users[0])], NOW, tz=TZ) == [True]
        deliveries = [Delivery(push(n), users[n]) for n in range(count)]
        deliveries.append(Delivery(push(5), users[5]))  # the same key again within the batch
        # Nobody bound: by SMS to the phone only.
        deliveries.append(Delivery(push(count, sms=sms_text("checkin", name="周淑珍", when="今天", staff="王芳",
                                                              phone="13800000000")), None, phone="13912345678"))
        created = enqueue_many(s, deliveries, NOW, tz=TZ, sms=SmsPlan(templates=frozenset({"checkin"})))
        s.commit()
    assert created[0] is False, "queued before"
    assert created[1:count] == [True] * (count - 1)
    assert created[count] is False, "the first of a repeated key queued it"
    assert created[-1] is True
    assert notify.key_clashes() == clashes, "a key met again with the same recipient and payload is a retry"
    fresh(session)
    rows = {r.idempotency_key: r for r in session.scalars(select(OutboxMessage))}
    assert len(rows) == count + 1
    row = rows[push_key(PushKind.CHECKIN_REMIND, 7, "2026-12-08", 7)]
    assert (row.recipient_openid, row.kind, row.status, row.attempts) == ("o-bulk-7", "custom", "pending", 0)
    assert row.payload["text"] == "提醒 7" and row.payload["template"]["template_id"] == "tpl"
    assert row.next_attempt_at == NOW and row.created_at == NOW
    sms = rows[notify.sms_key(push_key(PushKind.CHECKIN_REMIND, count, "2026-12-08", count))]
    assert (sms.kind, sms.recipient_phone, sms.recipient_openid) == ("sms", "13912345678", None)
    assert sms.payload["sms"]["params"]["name"] == "周淑珍"


def test_a_large_batch_in_quiet_hours_waits_for_the_morning(app, session):
    """Times go through as instants: a batch queued at 23:00 local waits until 07:00 local."""
    svc = app.extensions["sanzhida"]
    late = NOW.replace(hour=23)
    with svc.session_factory() as s:
        deliveries = [Delivery(push(n), make_wechat_user(s, f"o-night-{n}", late)) for n in range(notify.BULK_ROWS)]
        assert all(enqueue_many(s, deliveries, late, tz=TZ))
        s.commit()
    fresh(session)
    times = set(session.scalars(select(OutboxMessage.next_attempt_at)))
    assert times == {(late + timedelta(days=1)).replace(hour=7)}
