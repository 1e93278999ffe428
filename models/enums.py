"""The fixed vocabularies of the domain, shared by models, services and policy."""

from __future__ import annotations

from enum import StrEnum


class RegionLevel(StrEnum):
    """City > town (乡镇/街道) > village or community (村/社区)."""

    CITY = "city"
    TOWN = "town"
    VILLAGE = "village"


class StaffRole(StrEnum):
    """What a member of staff may do and where."""

    ASSISTANT = "assistant"  # 村(社区)民政协理员
    TOWN_OFFICER = "town_officer"  # 乡镇民政助理员
    CITY_SUPERVISOR = "city_supervisor"  # 市民政局 / 市级联络员
    ADMIN = "admin"  # 民政局管理员


class BeneficiaryCategory(StrEnum):
    """Civil-affairs categories; a beneficiary may be in several."""

    DIBAO = "低保"
    TEKUN = "特困"
    LIUSHOU_ELDERLY = "留守老人"
    LIUSHOU_CHILD = "留守儿童"
    DISABLED = "残疾人"
    ORPHAN = "孤儿/困境儿童"
    OTHER = "其他"


class Relation(StrEnum):
    """How a WeChat user is related to the beneficiary they are bound to."""

    SELF = "本人"
    CHILD = "子女"
    SPOUSE = "配偶"
    RELATIVE = "其他亲属"
    NEIGHBOUR = "邻居或其他"


class RequestCategory(StrEnum):
    """What a help request is about."""

    FOOD = "吃"
    CLOTHING = "穿"
    HOUSING = "住"
    MEDICAL = "医"
    SHOPPING = "帮购"
    CONTACT_FAMILY = "联系亲人"
    POLICY = "政策"
    OTHER = "其他"


class Urgency(StrEnum):
    """Urgent requests skip quiet hours and climb the ladder faster."""

    NORMAL = "normal"
    URGENT = "urgent"


class RequestStatus(StrEnum):
    """open -> acknowledged -> resolved -> closed, or cancelled."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN_STATUSES = (RequestStatus.OPEN, RequestStatus.ACKNOWLEDGED)


class RequestSource(StrEnum):
    """Where a request came from."""

    WECHAT = "wechat"
    VISIT = "visit"
    OFFICE = "office"


class EventKind(StrEnum):
    """Entries in a request's timeline."""

    CREATED = "created"
    MESSAGE = "message"
    ACKNOWLEDGED = "acknowledged"
    REPLY = "reply"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    RATED = "rated"
    ESCALATED = "escalated"
    REASSIGNED = "reassigned"
    SUPERVISED = "supervised"
    COMMENT = "comment"
    PUSH = "push"


class ActorKind(StrEnum):
    """Who did something: a member of staff, a WeChat user, or the system itself."""

    STAFF = "staff"
    WECHAT_USER = "wechat_user"
    SYSTEM = "system"
    ADMIN_API = "admin_api"


class CheckResult(StrEnum):
    """One of the 四查 checks at a visit."""

    OK = "ok"
    PROBLEM = "problem"


class OutboxKind(StrEnum):
    """How a push is delivered."""

    TEMPLATE = "template"
    CUSTOM = "custom"


class OutboxStatus(StrEnum):
    """pending -> sending -> sent, or dead after permanent errors."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
