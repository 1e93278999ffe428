"""The fixed vocabularies of the domain, shared by models, services and policy."""

from __future__ import annotations

from enum import StrEnum


class RegionLevel(StrEnum):
    """Province > city > town (乡镇/街道) > village or community (村/社区).

    A one-city deployment has no province row: its city is the top of the tree.
    """

    PROVINCE = "province"
    CITY = "city"
    TOWN = "town"
    VILLAGE = "village"


class StaffRole(StrEnum):
    """What a member of staff may do and where."""

    ASSISTANT = "assistant"  # 村(社区)民政协理员
    TOWN_OFFICER = "town_officer"  # 乡镇民政助理员
    CITY_SUPERVISOR = "city_supervisor"  # 市民政局 / 市级联络员
    ADMIN = "admin"  # 民政局管理员 (of one city)
    PROVINCE_ADMIN = "province_admin"  # 省(州)民政厅管理员: every city of the deployment


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
    # A call or visit the system asks for when someone on a 报平安 plan goes silent.
    CHECK_ON = "联系"


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
    # Raised by the check-in scan: a beneficiary on a 报平安 plan gave no sign of life in time.
    SILENCE = "silence"


class CheckinPlan(StrEnum):
    """How often a beneficiary is expected to say they are fine (报平安)."""

    DAILY = "daily"
    WEEKLY = "weekly"
    OFF = "off"


# What staff read and type for each plan (`平安计划 对象编号 每天|每周|关闭`).
CHECKIN_PLAN_NAMES = {
    CheckinPlan.DAILY.value: "每天",
    CheckinPlan.WEEKLY.value: "每周",
    CheckinPlan.OFF.value: "关闭",
}


class CheckinSource(StrEnum):
    """How a check-in was recorded."""

    MENU = "menu"  # the 报平安 menu button
    TEXT = "text"  # the words 平安 / 报平安 / 我很好, typed
    VOICE = "voice"  # the same words, spoken
    STAFF = "staff"  # staff heard from them (a call, a visit) and recorded it


class ContactKind(StrEnum):
    """A sign of life that ends a silence: what `beneficiaries.last_contact_at` last saw."""

    CHECKIN = "checkin"
    MESSAGE = "message"  # the beneficiary or a bound family member wrote
    VISIT = "visit"
    STAFF = "staff"  # staff logged a contact, or resolved the silence's 联系 case


# What the pages call each sign of life.
CONTACT_KIND_NAMES = {
    ContactKind.CHECKIN.value: "报平安",
    ContactKind.MESSAGE.value: "留言",
    ContactKind.VISIT.value: "走访",
    ContactKind.STAFF.value: "工作人员联系",
}


class RequestChannel(StrEnum):
    """How the request reached us: by WeChat, or through a member of staff who logged it."""

    WECHAT = "wechat"
    PHONE = "phone"
    HOME = "home"
    WALK_IN = "walk_in"
    OTHER = "other"


# What people read for each channel, and the words staff write in `代办` (all but WeChat).
CHANNEL_NAMES = {
    RequestChannel.WECHAT.value: "微信",
    RequestChannel.PHONE.value: "电话",
    RequestChannel.HOME.value: "上门",
    RequestChannel.WALK_IN.value: "来访",
    RequestChannel.OTHER.value: "其他",
}


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
    # What a voice message said, once WeChat or the speech recogniser made it out.
    TRANSCRIPT = "transcript"


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
    # A push that may only go as a customer-service message (a voice or photo to staff) and found
    # the 48-hour window closed: not sent, and not a failure; the task's template links to the case.
    SKIPPED = "skipped"
    # A text message through the SMS provider: a registered template and its parameters, to a phone.
    SMS = "sms"


class PushKind(StrEnum):
    """What a push is: the first part of its outbox idempotency key (`services.notify.push_key`).

    Every key starts with its kind, so two kinds never share a key, whichever ids meet: the
    answer to message 42 and the staff reply of event 42 are `answer:42` and `relay-reply:42`.
    A value never holds `:`. The parts after the kind are listed beside each.
    """

    ANSWER = "answer"  # inbound message: the answer to a user's message (queued replies)
    TASK = "task"  # request, staff: a new request to staff
    MESSAGE = "message"  # event, staff: a follow-up message to the assignee (its SMS: "case", request, staff, hour)
    ACK = "ack"  # event: 接单, to the requester
    RELAY_REPLY = "relay-reply"  # event: 回复, a staff reply relayed to the requester
    RESOLVED = "resolved"  # event: 完成, to the requester
    FAMILY_RESOLVED = "family-resolved"  # event, WeChat user: 完成, to the family
    REASSIGNED = "reassigned"  # event: 转派, to the new assignee
    REASSIGNED_REQUESTER = "reassigned-requester"  # event: 转派, to the requester
    SUPERVISED = "supervised"  # event: 督办, to the assignee
    CANCELLED = "cancelled"  # event: 取消, to the assignee
    FAMILY_VISIT = "family-visit"  # visit, WeChat user: a visit, to the family
    FAMILY_LOGGED = "family-logged"  # request, WeChat user: a request staff logged for them, to the family
    CHECKIN_REMIND = "checkin-remind"  # beneficiary, period start, WeChat user or "phone": 报平安 not heard by 10:00
    ESCALATE = "escalate"  # request, level, staff or "requester": one rung of the ladder
    ESCALATE_DIGEST = "escalate-digest"  # staff, hash of the rungs: several cases in one push
    ESCALATE_REPEAT = "escalate-repeat"  # request, level, repeat number, staff: a repeated rung
    REMIND = "remind"  # staff, date: the morning visit digest
    VISIT_OVERDUE = "visit-overdue"  # staff, date: overdue visits, to a town officer
    DIGEST_TOWN = "digest-town"  # staff, date: a town officer's daily figures
    DIGEST_CITY = "digest-city"  # staff, ISO week: a city supervisor's weekly summary
    DIGEST_LIAISON = "digest-liaison"  # staff, date: urgent cases the person on duty had for a liaison
    MEDIA = "media"  # media item, staff: the voice or photo itself, after the task push
    ADVICE = "advice"  # request, WeChat user: the 120/110/119 advice once a transcript shows danger
    URGENT_TASK = "urgent-task"  # request, staff: a case found urgent after it was opened
    TRANSCRIPT = "transcript"  # media item, staff: what a voice said, to whoever has the case
    REPORT_MONTHLY = "report-monthly"  # staff, month (2026-11): the city's monthly report is ready
    SOS_REPEAT = "sos-repeat"  # request, staff: 紧急求助 tapped again, to whoever has the case, once
    CHECK_ON_SETTLED = "check-on-settled"  # request, staff: a silence's 联系 case settled by 报平安, to its assignee
    SMS = "sms"  # the key of a push it stands for: that push by text message (`sms:escalate:12:1:7`)


class OutboxStatus(StrEnum):
    """pending -> sending -> sent, or dead after permanent errors, or skipped."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    # Never sent, on purpose and for good: an SMS to a phone whose owner replied TD (last_error says why).
    SKIPPED = "skipped"


class MediaKind(StrEnum):
    """What kind of media a message carried."""

    VOICE = "voice"
    IMAGE = "image"
    VIDEO = "video"
    SHORTVIDEO = "shortvideo"


class MediaStatus(StrEnum):
    """pending -> fetching -> stored, or dead after the retry limit; deleted after retention."""

    PENDING = "pending"
    FETCHING = "fetching"
    STORED = "stored"
    DEAD = "dead"
    DELETED = "deleted"


class TranscriptStatus(StrEnum):
    """Where a voice message's words stand."""

    GIVEN = "given"  # WeChat sent its own recognition
    PENDING = "pending"  # waiting for the speech recogniser (or retrying it)
    DONE = "done"  # the recogniser heard words
    EMPTY = "empty"  # the recogniser heard nothing it could write down
    OFF = "off"  # no recogniser is configured
    FAILED = "failed"  # the recogniser kept failing; staff must listen


class NoticeChoice(StrEnum):
    """What a WeChat user chose for one subscription-notice template (订阅通知)."""

    ACCEPT = "accept"
    REJECT = "reject"
