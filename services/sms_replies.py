"""Replies to our text messages (上行短信) as the SMS provider pushes them: read strictly, and the
phones that reply TD recorded as opted out (or back in), once however often the provider retries.

Aliyun's SmsUp push (https://help.aliyun.com/document_detail/60127.html, "SmsUp"): a JSON array of
objects with `phone_number`, `content`, `send_time` ("2017-09-01 00:00:00", Beijing time),
`dest_code`, `sequence_id` (a string, a number in older pages) and sometimes `sign_name`; answered
with HTTP 200 and {"code": 0, "msg": "接收成功"}, else pushed again after 1, 5 and 10 minutes.

Phone numbers and what people wrote are personal: neither is logged, and the words are not kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ServiceRequest, SmsOptOut
from models.enums import Urgency
from services.policy.sms_replies import reply_decision
from services.policy.validate import normalize_phone

# The provider writes send_time in Beijing time.
PROVIDER_TZ = ZoneInfo("Asia/Shanghai")
SEND_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S")
# More replies than one push ever carries, and longer fields than any real one: not the provider's.
MAX_REPLIES = 1000
MAX_CONTENT = 1000
MAX_CODE = 32
REQUIRED = ("phone_number", "content", "send_time", "dest_code", "sequence_id")

MSG_NOT_ARRAY = "推送内容应为 JSON 数组"
MSG_TOO_MANY = f"一次推送最多 {MAX_REPLIES} 条"


class BadPush(ValueError):
    """A push that is not the provider's shape; the message says where, never what a field held."""


@dataclass(frozen=True)
class Reply:
    """One reply, read: the phone in stored form, what it decides (None: nothing), when it was sent."""

    phone: str
    opts_out: bool | None
    replied_at: datetime


@dataclass
class Recorded:
    """What one push changed."""

    opted_out: int = 0
    opted_in: int = 0
    other: int = 0


def parse_push(body: object) -> list[Reply]:
    """The replies of one push, each field checked; BadPush names the first element and field that is wrong."""
    if not isinstance(body, list):
        raise BadPush(MSG_NOT_ARRAY)
    if len(body) > MAX_REPLIES:
        raise BadPush(MSG_TOO_MANY)
    return [_reply(index, item) for index, item in enumerate(body)]


def _reply(index: int, item: object) -> Reply:
    """One element of the array, checked."""
    where = f"第 {index + 1} 条"
    if not isinstance(item, dict):
        raise BadPush(f"{where}应为 JSON 对象")
    for name in REQUIRED:
        if name not in item or item[name] is None:
            raise BadPush(f"{where}缺少 {name}")
    phone = item["phone_number"]
    stored = normalize_phone(phone) if isinstance(phone, str) else None
    if stored is None or "-" in stored:
        raise BadPush(f"{where}的 phone_number 不是手机号码")
    content = item["content"]
    if not isinstance(content, str) or len(content) > MAX_CONTENT:
        raise BadPush(f"{where}的 content 应为不超过 {MAX_CONTENT} 字的文字")
    for name in ("dest_code", "sequence_id"):
        if not _code(item[name]):
            raise BadPush(f"{where}的 {name} 应为数字编号")
    if "sign_name" in item and not isinstance(item["sign_name"], str):
        raise BadPush(f"{where}的 sign_name 应为文字")
    replied_at = _send_time(item["send_time"])
    if replied_at is None:
        raise BadPush(f"{where}的 send_time 应为 yyyy-MM-dd HH:mm:ss")
    return Reply(phone=stored, opts_out=reply_decision(content), replied_at=replied_at)


def _code(value: object) -> bool:
    """A dest_code or sequence_id: digits, as a string or a (non-negative whole) number."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 <= value and len(str(value)) <= MAX_CODE
    return isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= MAX_CODE


def _send_time(value: object) -> datetime | None:
    """The provider's send_time (Beijing time) in UTC, or None when it is not one."""
    if not isinstance(value, str) or len(value) > 19:
        return None
    for pattern in SEND_TIME_FORMATS:
        try:
            local = datetime.strptime(value, pattern)
        except ValueError:
            continue
        return local.replace(tzinfo=PROVIDER_TZ).astimezone(timezone.utc)
    return None


def _upsert(dialect: str):
    """INSERT … ON CONFLICT (phone) DO UPDATE, only when the reply is not older than the one recorded."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(SmsOptOut)
    return statement.on_conflict_do_update(
        index_elements=[SmsOptOut.phone],
        set_={"opted_out": statement.excluded.opted_out, "replied_at": statement.excluded.replied_at,
              "recorded_at": statement.excluded.recorded_at},
        where=SmsOptOut.replied_at <= statement.excluded.replied_at,
    )


def record_replies(session: Session, replies: Iterable[Reply], now: datetime) -> Recorded:
    """Record each deciding reply for its phone, oldest first; a repeat or an older reply changes nothing."""
    outcome = Recorded()
    dialect = session.get_bind().dialect.name
    for reply in sorted(replies, key=lambda r: r.replied_at):
        if reply.opts_out is None:
            outcome.other += 1
            continue
        session.execute(_upsert(dialect).values(phone=reply.phone, opted_out=reply.opts_out,
                                                replied_at=reply.replied_at, recorded_at=now))
        if reply.opts_out:
            outcome.opted_out += 1
        else:
            outcome.opted_in += 1
    session.flush()
    return outcome


def opted_out(session: Session, phones: Iterable[str]) -> set[str]:
    """Which of these phones opted out of our text messages (one query)."""
    phones = sorted(set(phones))
    if not phones:
        return set()
    return set(session.scalars(select(SmsOptOut.phone).where(SmsOptOut.phone.in_(phones), SmsOptOut.opted_out)))


def urgent_requests(session: Session, request_ids: Iterable[int | None]) -> set[int]:
    """Which of these requests are urgent (one query): an SMS to staff about one goes despite an opt-out."""
    ids = sorted({i for i in request_ids if i is not None})
    if not ids:
        return set()
    return set(session.scalars(select(ServiceRequest.id).where(ServiceRequest.id.in_(ids),
                                                               ServiceRequest.urgency == Urgency.URGENT.value)))
