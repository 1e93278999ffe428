"""Care service phone cards (关爱服务电话卡): the parametric QR behind each card, printing, outdated cards.

Every card carries a WeChat parametric QR whose scene is `bind:<bind code>`; scanning it binds the
scanner's WeChat to the beneficiary (see `binding.scene_for`). The QR comes from WeChat's
`qrcode/create` and is drawn here, locally, as inline SVG from the `url` WeChat returns.

Which kind of QR:
- A card hangs on a wall for years, so a card gets a permanent code (`QR_LIMIT_STR_SCENE`).
- WeChat allows at most 100,000 permanent codes per account, ever (they cannot be deleted).
  The count of permanent scenes this deployment has issued is the number of distinct
  `care_cards.qr_scene` with a url and no expiry. Once it reaches `permanent_limit`, cards get
  temporary codes (`QR_STR_SCENE`, 30 days, the longest WeChat allows) with `qr_expires_at`
  recorded; the printed bind code keeps working after the QR has expired.
- Codes issued for the same account by anything else (menus, campaigns) are not in our table:
  keep `permanent_limit` below 100,000 by that many.

Caching: the `care_cards` rows are the cache. A stored QR for the beneficiary's current scene is
reused while valid; a regenerated bind code means a new scene, so a new QR is fetched.

Outdated cards: `roster.assign_assistant` sets `outdated_at` on the earlier cards when the
assistant changes; `outdated_reason` also notices a changed bind code or assistant and an
expired temporary QR, so the office knows which walls need a new card.

Services never commit: the caller's request or job commits the printed-card rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import segno
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session, selectinload
from wechatpy.exceptions import WeChatClientException

from models import Assignment, Beneficiary, CareCard, Region, Staff
from services import binding
from services.errors import DomainError

logger = logging.getLogger(__name__)

# WeChat's hard limit of permanent parametric QR codes per official account.
PERMANENT_QR_LIMIT = 100_000
# The longest a temporary code may live (30 days).
TEMPORARY_QR_SECONDS = 2_592_000
# A temporary code is reused for a new card only if most of its month is still ahead:
# a card whose QR dies next week is not worth printing.
TEMPORARY_QR_MIN_LEFT = timedelta(days=25)

EMERGENCY_NUMBERS = (("120", "急救"), ("110", "报警"), ("119", "火警"))
CARD_TZ = ZoneInfo("Asia/Shanghai")

# Wording printed on cards or shown to office staff (Simplified Chinese, short).
NO_ASSISTANT_NOTE = "暂未指派协理员，请拨打乡镇民政办电话"
NO_OFFICE_PHONE = "未登记"
QR_ERROR = "暂时无法从微信获取绑定二维码（{detail}），请稍后再打印。家属也可发送卡上的绑定码完成绑定。"
QR_ERROR_DETAILS = {
    45009: "今日二维码生成次数已用完",
    45011: "调用过于频繁",
}
QR_ERROR_GENERIC = "错误码 {code}"
QR_ERROR_UNREACHABLE = "无法连接微信"
INACTIVE_BENEFICIARY = "{name}已不是在册服务对象，不能打印关爱卡"
REASON_ASSISTANT_CHANGED = "协理员已变更"
REASON_BIND_CODE_CHANGED = "绑定码已更换"
REASON_QR_EXPIRED = "二维码已过期"
REASON_QR_MISSING = "卡上没有二维码"
REASON_INACTIVE = "已不在册"


class CardError(DomainError):
    """A card cannot be printed (or its QR fetched); the message is safe to show to office staff."""


@dataclass(frozen=True)
class QrCode:
    """A parametric QR from WeChat: the scene it carries and where it leads."""

    scene: str
    ticket: str | None
    url: str
    # None for a permanent code.
    expires_at: datetime | None

    @property
    def permanent(self) -> bool:
        """True for a QR_LIMIT_STR_SCENE code."""
        return self.expires_at is None


@dataclass(frozen=True)
class CardView:
    """Everything one printed card shows, ready for the `cards.html` template."""

    card_id: int
    beneficiary_id: int
    name: str
    village: str
    town: str
    assistant_name: str | None
    assistant_phone: str | None
    # Shown instead of the assistant when none is assigned.
    no_assistant_note: str | None
    office_phone: str | None
    emergency_numbers: tuple[tuple[str, str], ...]
    bind_code: str
    qr_url: str | None
    # The QR drawn locally as an inline <svg>; None when WeChat could not give one.
    qr_svg: str | None
    qr_expires_at: datetime | None
    printed_at: datetime
    printed_on: str

    @property
    def has_assistant(self) -> bool:
        """True when the card names an assistant."""
        return self.assistant_name is not None

    @property
    def assistant_phone_display(self) -> str | None:
        """The assistant's phone grouped for reading aloud."""
        return display_phone(self.assistant_phone)

    @property
    def office_phone_display(self) -> str:
        """The office phone grouped for reading aloud, or a note that none is on record."""
        return display_phone(self.office_phone) or NO_OFFICE_PHONE


@dataclass(frozen=True)
class OutdatedCard:
    """A beneficiary whose latest card needs reprinting, and why."""

    beneficiary: Beneficiary
    card: CareCard
    reasons: tuple[str, ...]


def display_phone(phone: str | None) -> str | None:
    """`13800001234` -> `138 0000 1234`: elderly readers copy a number in short groups."""
    if not phone:
        return None
    digits = phone.strip()
    if len(digits) == 11 and digits.isdigit() and digits.startswith("1"):
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    # Landlines (`0716-1234101`) already carry their own grouping.
    return digits


def qr_svg(url: str) -> str:
    """The QR for `url` as an inline SVG that scales to its box (drawn locally, never fetched)."""
    # Error level M, boosted when it fits: a printed card gets scuffed and faded on a wall.
    code = segno.make(url, error="m")
    return code.svg_inline(scale=1, border=4, omitsize=True, dark="#000", light="#fff")


class _QrIssuer:
    """Fetches QRs for one print run: counts issued permanent scenes once, remembers what it fetched."""

    def __init__(self, session: Session, client, now: datetime, permanent_limit: int):
        self.session = session
        self.client = client
        self.now = now
        self.permanent_limit = permanent_limit
        self._permanent_issued: int | None = None
        self._fetched: dict[str, QrCode] = {}

    def permanent_left(self) -> bool:
        """True while the account may still be given a new permanent code."""
        if self._permanent_issued is None:
            self._permanent_issued = permanent_scenes_issued(self.session)
        return self._permanent_issued < self.permanent_limit

    def qr(self, beneficiary: Beneficiary, stored: list[CareCard] | None = None) -> QrCode:
        """The beneficiary's QR: a stored one when still good, otherwise a new one from WeChat."""
        if not beneficiary.bind_code:
            binding.regenerate_bind_code(self.session, beneficiary)
        scene = binding.scene_for(beneficiary.bind_code)
        if scene in self._fetched:
            return self._fetched[scene]
        if stored is None:
            stored = _stored_qr_cards(self.session, [beneficiary.id])
        permanent, temporary = _best_stored(stored, scene, self.now)
        if permanent is not None:
            return permanent
        make_permanent = self.permanent_left()
        if not make_permanent and temporary is not None:
            return temporary
        code = self._create(beneficiary, scene, make_permanent)
        if code.permanent:
            self._permanent_issued = (self._permanent_issued or 0) + 1
        self._fetched[scene] = code
        return code

    def _create(self, beneficiary: Beneficiary, scene: str, permanent: bool) -> QrCode:
        body: dict = {"action_info": {"scene": {"scene_str": scene}}}
        if permanent:
            body["action_name"] = "QR_LIMIT_STR_SCENE"
        else:
            body["action_name"] = "QR_STR_SCENE"
            body["expire_seconds"] = TEMPORARY_QR_SECONDS
        try:
            result = self.client.post("qrcode/create", data=body)
        except WeChatClientException as exc:
            logger.warning("care_card=qr_failed beneficiary_id=%s errcode=%s", beneficiary.id, exc.errcode)
            raise CardError(QR_ERROR.format(detail=_error_detail(exc.errcode))) from exc
        url = result.get("url") if isinstance(result, dict) else None
        if not url:
            logger.warning("care_card=qr_failed beneficiary_id=%s errcode=no_url", beneficiary.id)
            raise CardError(QR_ERROR.format(detail=_error_detail(None)))
        expires_at = None
        if not permanent:
            seconds = int(result.get("expire_seconds") or TEMPORARY_QR_SECONDS)
            expires_at = self.now + timedelta(seconds=seconds)
        logger.info(
            "care_card=qr_created beneficiary_id=%s kind=%s", beneficiary.id, "permanent" if permanent else "temporary"
        )
        return QrCode(scene=scene, ticket=result.get("ticket"), url=url, expires_at=expires_at)


def _error_detail(errcode) -> str:
    if errcode is None:
        return QR_ERROR_UNREACHABLE
    return QR_ERROR_DETAILS.get(errcode) or QR_ERROR_GENERIC.format(code=errcode)


def _stored_qr_cards(session: Session, beneficiary_ids: list[int]) -> list[CareCard]:
    """Earlier cards of these beneficiaries that carry a QR (found through the beneficiary index)."""
    if not beneficiary_ids:
        return []
    return list(
        session.scalars(
            select(CareCard)
            .where(CareCard.beneficiary_id.in_(beneficiary_ids), CareCard.qr_url.is_not(None))
            .order_by(CareCard.id.desc())
        )
    )


def _best_stored(cards: list[CareCard], scene: str, now: datetime) -> tuple[QrCode | None, QrCode | None]:
    """The stored permanent QR for the scene, and a stored temporary one with most of its life left."""
    # Outdated cards count too: `outdated_at` is about the assistant printed, and the QR for an
    # unchanged scene is as good as it was.
    temporary = None
    for card in cards:
        if card.qr_scene != scene or not card.qr_url:
            continue
        code = QrCode(scene=scene, ticket=card.qr_ticket, url=card.qr_url, expires_at=card.qr_expires_at)
        if code.permanent:
            return code, None
        if temporary is None and card.qr_expires_at - now >= TEMPORARY_QR_MIN_LEFT:
            temporary = code
    return None, temporary


def permanent_scenes_issued(session: Session) -> int:
    """How many distinct permanent QR scenes this deployment has had WeChat create."""
    return session.scalar(
        select(func.count(distinct(CareCard.qr_scene))).where(
            CareCard.qr_url.is_not(None), CareCard.qr_expires_at.is_(None)
        )
    )


def qr_for(
    session: Session, client, beneficiary: Beneficiary, now: datetime, *, permanent_limit: int = PERMANENT_QR_LIMIT
) -> QrCode:
    """The beneficiary's parametric QR: a stored one while valid, else a new one from `qrcode/create`."""
    return _QrIssuer(session, client, now, permanent_limit).qr(beneficiary)


def village_beneficiaries(session: Session, village_id: int) -> list[Beneficiary]:
    """The village's active beneficiaries in print order (by name)."""
    return list(
        session.scalars(
            select(Beneficiary)
            .where(Beneficiary.village_id == village_id, Beneficiary.active.is_(True))
            .options(selectinload(Beneficiary.village).selectinload(Region.parent))
            .order_by(Beneficiary.name, Beneficiary.id)
        )
    )


def _current_assistants(session: Session, beneficiary_ids: list[int]) -> dict[int, Staff]:
    """Beneficiary id -> the assistant of their active assignment."""
    if not beneficiary_ids:
        return {}
    rows = session.execute(
        select(Assignment.beneficiary_id, Staff)
        .join(Staff, Staff.id == Assignment.staff_id)
        .where(Assignment.beneficiary_id.in_(beneficiary_ids), Assignment.ended_at.is_(None))
    )
    return {beneficiary_id: staff for beneficiary_id, staff in rows}


def office_phone_for(village: Region) -> str | None:
    """The town 民政办's phone for a village (the village's own number if the town has none)."""
    town = village.parent
    return (town.office_phone if town is not None else None) or village.office_phone


def print_cards(
    session: Session,
    client,
    beneficiaries: list[Beneficiary],
    now: datetime,
    *,
    permanent_limit: int = PERMANENT_QR_LIMIT,
    allow_without_qr: bool = False,
) -> list[CardView]:
    """Record one printed card per beneficiary and return what each card shows.

    A WeChat failure raises CardError before any card is recorded, unless `allow_without_qr`,
    in which case the affected cards print with the bind code only.
    """
    for person in beneficiaries:
        if not person.active:
            raise CardError(INACTIVE_BENEFICIARY.format(name=person.name))
    ids = [person.id for person in beneficiaries]
    assistants = _current_assistants(session, ids)
    stored: dict[int, list[CareCard]] = {}
    for card in _stored_qr_cards(session, ids):
        stored.setdefault(card.beneficiary_id, []).append(card)

    # Every QR first, every row after: a failure half-way leaves nothing half-printed.
    issuer = _QrIssuer(session, client, now, permanent_limit)
    codes: dict[int, QrCode | None] = {}
    for person in beneficiaries:
        try:
            codes[person.id] = issuer.qr(person, stored.get(person.id, []))
        except CardError:
            if not allow_without_qr:
                raise
            codes[person.id] = None

    printed: list[tuple[Beneficiary, CareCard]] = []
    for person in beneficiaries:
        code = codes[person.id]
        assistant = assistants.get(person.id)
        card = CareCard(
            beneficiary_id=person.id,
            assistant_staff_id=assistant.id if assistant else None,
            qr_scene=code.scene if code else binding.scene_for(person.bind_code),
            qr_ticket=code.ticket if code else None,
            qr_url=code.url if code else None,
            qr_expires_at=code.expires_at if code else None,
            printed_at=now,
        )
        session.add(card)
        printed.append((person, card))
    session.flush()

    svgs: dict[str, str] = {}
    views = []
    for person, card in printed:
        assistant = assistants.get(person.id)
        if card.qr_url and card.qr_url not in svgs:
            svgs[card.qr_url] = qr_svg(card.qr_url)
        village = person.village
        views.append(
            CardView(
                card_id=card.id,
                beneficiary_id=person.id,
                name=person.name,
                village=village.name,
                town=village.parent.name if village.parent else "",
                assistant_name=assistant.name if assistant else None,
                assistant_phone=assistant.phone if assistant else None,
                no_assistant_note=None if assistant else NO_ASSISTANT_NOTE,
                office_phone=office_phone_for(village),
                emergency_numbers=EMERGENCY_NUMBERS,
                bind_code=person.bind_code,
                qr_url=card.qr_url,
                qr_svg=svgs.get(card.qr_url) if card.qr_url else None,
                qr_expires_at=card.qr_expires_at,
                printed_at=now,
                printed_on=now.astimezone(CARD_TZ).strftime("%Y-%m-%d"),
            )
        )
    logger.info("care_card=printed count=%s", len(views))
    return views


def outdated_reasons(
    card: CareCard, beneficiary: Beneficiary, assistant_id: int | None, now: datetime | None = None
) -> tuple[str, ...]:
    """Why a printed card no longer tells the truth (empty when it still does)."""
    reasons = []
    if card.outdated_at is not None or card.assistant_staff_id != assistant_id:
        reasons.append(REASON_ASSISTANT_CHANGED)
    if not beneficiary.active:
        reasons.append(REASON_INACTIVE)
    if not beneficiary.bind_code or card.qr_scene != binding.scene_for(beneficiary.bind_code):
        reasons.append(REASON_BIND_CODE_CHANGED)
    elif not card.qr_url:
        reasons.append(REASON_QR_MISSING)
    elif now is not None and card.qr_expires_at is not None and card.qr_expires_at <= now:
        reasons.append(REASON_QR_EXPIRED)
    return tuple(reasons)


def is_outdated(session: Session, card: CareCard, now: datetime | None = None) -> bool:
    """True when the card shows the wrong assistant or bind code (or, given `now`, an expired QR)."""
    beneficiary = session.get(Beneficiary, card.beneficiary_id)
    assistant = _current_assistants(session, [card.beneficiary_id]).get(card.beneficiary_id)
    return bool(outdated_reasons(card, beneficiary, assistant.id if assistant else None, now))


def outdated_cards(session: Session, village_id: int | None = None, now: datetime | None = None) -> list[OutdatedCard]:
    """Active beneficiaries whose latest card needs reprinting, optionally in one village."""
    latest = (
        select(func.max(CareCard.id).label("card_id"))
        .join(Beneficiary, Beneficiary.id == CareCard.beneficiary_id)
        .where(Beneficiary.active.is_(True))
        .group_by(CareCard.beneficiary_id)
    )
    if village_id is not None:
        latest = latest.where(Beneficiary.village_id == village_id)
    latest = latest.subquery()
    query = (
        select(CareCard, Beneficiary, Assignment.staff_id)
        .join(latest, latest.c.card_id == CareCard.id)
        .join(Beneficiary, Beneficiary.id == CareCard.beneficiary_id)
        .outerjoin(Assignment, (Assignment.beneficiary_id == Beneficiary.id) & Assignment.ended_at.is_(None))
        .order_by(Beneficiary.village_id, Beneficiary.name, Beneficiary.id)
    )
    found = []
    for card, beneficiary, assistant_id in session.execute(query):
        reasons = outdated_reasons(card, beneficiary, assistant_id, now)
        if reasons:
            found.append(OutdatedCard(beneficiary=beneficiary, card=card, reasons=reasons))
    return found
