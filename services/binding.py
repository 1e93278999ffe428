"""Binding: who a WeChat user is. Family members bind with a beneficiary's code, staff with an invite."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import policy
from models import Beneficiary, FamilyLink, Staff, StaffInvite, WeChatUser
from models.enums import Relation
from services import roster, texts
from services.errors import DomainError
from services.kv import Keys
from services.pii import PiiCipher

BIND_SCENE_PREFIX = "bind:"
INVITE_ALPHABET = roster.BIND_CODE_ALPHABET
INVITE_LENGTH = 8
INVITE_TTL = timedelta(days=7)
DIALOG_TTL = timedelta(minutes=30)

logger = logging.getLogger(__name__)


def scene_for(code: str) -> str:
    """The parametric QR scene that carries a bind code."""
    return f"{BIND_SCENE_PREFIX}{code}"


def code_from_scene(scene: str | None) -> str | None:
    """The bind code in a QR scene, or None when the scene is not ours."""
    if scene and scene.startswith(BIND_SCENE_PREFIX):
        return scene[len(BIND_SCENE_PREFIX) :].strip().upper() or None
    return None


def regenerate_bind_code(session: Session, beneficiary: Beneficiary) -> str:
    """Give the beneficiary a new bind code (the old card's code stops working)."""
    while True:
        code = roster.new_bind_code()
        taken = session.scalar(select(Beneficiary.id).where(Beneficiary.bind_code == code))
        if taken is None:
            beneficiary.bind_code = code
            session.flush()
            return code


def issue_invite(session: Session, pii: PiiCipher, staff: Staff, now: datetime) -> tuple[str, datetime]:
    """A one-time invite code for a member of staff, valid for a week; only its hash is kept."""
    code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
    expires = now + INVITE_TTL
    session.add(StaffInvite(staff=staff, code_hash=pii.keyed_hash("invite", code), expires_at=expires, created_at=now))
    session.flush()
    return code, expires


@dataclass(frozen=True)
class BindGuard:
    """Counts wrong codes in Redis: per openid per local day (locks that openid past the limit), and
    from everyone per hour (pauses all binding for a while past that one: guessing in parallel)."""

    redis: object
    keys: Keys
    max_failures: int
    overall_per_hour: int = policy.BIND_GUESSES_PER_HOUR
    pause: timedelta = timedelta(minutes=policy.BIND_GUESS_PAUSE_MINUTES)

    def _key(self, openid: str, day: str) -> str:
        return f"{self.keys.prefix}:bindfail:{day}:{openid}"

    def _hour_key(self, now: datetime) -> str:
        return f"{self.keys.prefix}:bindfail-all:{now.astimezone(timezone.utc):%Y%m%d%H}"

    def _pause_key(self) -> str:
        return f"{self.keys.prefix}:bind-paused-until"

    def paused(self, now: datetime) -> bool:
        """True while binding is paused for everyone after too many wrong codes overall."""
        # The end is kept as a time rather than left to the key's expiry, so the injected clock decides.
        until = self.redis.get(self._pause_key())
        return until is not None and now.timestamp() < float(until)

    def failures(self, openid: str, day: str) -> int:
        """Wrong codes so far today."""
        return int(self.redis.get(self._key(openid, day)) or 0)

    def locked(self, openid: str, day: str) -> bool:
        """True once today's failures reached the limit."""
        return self.failures(openid, day) >= self.max_failures

    def fail(self, openid: str, day: str, now: datetime) -> int:
        """Count one more wrong code, for the openid and overall; returns how many tries the openid has left today."""
        key, hour_key = self._key(openid, day), self._hour_key(now)
        pipe = self.redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, 2 * 24 * 3600)
        pipe.incr(hour_key)
        pipe.expire(hour_key, 2 * 3600)
        count, _, overall, _ = pipe.execute()
        if int(overall) >= self.overall_per_hour and not self.paused(now):
            until = now + self.pause
            self.redis.set(self._pause_key(), str(until.timestamp()), ex=int(self.pause.total_seconds()) + 60)
            logger.warning("binding=guessing_alert wrong_codes_this_hour=%d paused_until=%s",
                           int(overall), until.astimezone(timezone.utc).isoformat())
        return max(self.max_failures - int(count), 0)


def start_binding(
    session: Session, pii: PiiCipher, guard: BindGuard, user: WeChatUser, code: str, now: datetime, day: str
) -> str:
    """Bind with a code: a beneficiary's code asks for the relation, a staff invite binds at once."""
    # While paused every code is refused, right or wrong: an answer that told them apart would
    # still let the guessing go on.
    if guard.paused(now):
        raise DomainError(texts.BIND_PAUSED.format(minutes=int(guard.pause.total_seconds()) // 60))
    if guard.locked(user.openid, day):
        raise DomainError(texts.BIND_LOCKED)
    code = (code or "").strip().upper()
    if not code:
        raise DomainError(texts.BIND_USAGE)
    beneficiary = session.scalars(
        select(Beneficiary).where(Beneficiary.bind_code == code, Beneficiary.active.is_(True))
    ).one_or_none()
    if beneficiary is not None:
        link = _active_link(session, user, beneficiary)
        if link is not None:
            return texts.ALREADY_BOUND.format(name=beneficiary.name)
        user.dialog = {"kind": "relation", "beneficiary_id": beneficiary.id}
        user.dialog_expires_at = now + DIALOG_TTL
        return texts.ASK_RELATION.format(name=beneficiary.name, village=beneficiary.village.name)
    invite = session.scalars(
        select(StaffInvite).where(StaffInvite.code_hash == pii.keyed_hash("invite", code))
    ).one_or_none()
    if invite is not None:
        return _bind_staff(session, user, invite, now)
    left = guard.fail(user.openid, day, now)
    raise DomainError(texts.BIND_LOCKED if left == 0 else texts.BIND_CODE_WRONG.format(left=left))


def _bind_staff(session: Session, user: WeChatUser, invite: StaffInvite, now: datetime) -> str:
    if invite.used_at is not None or invite.expires_at <= now or not invite.staff.active:
        raise DomainError(texts.INVITE_USED)
    staff = invite.staff
    if user.staff is not None and user.staff.id != staff.id:
        raise DomainError(texts.STAFF_ALREADY_BOUND.format(staff_no=user.staff.staff_no))
    if staff.wechat_user_id is not None and staff.wechat_user_id != user.id:
        # Re-binding a new phone: the old WeChat account loses staff rights.
        staff.wechat_user_id = None
        session.flush()
    staff.wechat_user = user
    invite.used_at = now
    invite.used_by_wechat_user_id = user.id
    session.flush()
    return texts.BOUND_STAFF.format(name=staff.name, role=ROLE_NAMES.get(staff.role, staff.role))


ROLE_NAMES = {"assistant": "协理员", "town_officer": "乡镇民政助理员", "city_supervisor": "市级督办", "admin": "管理员",
              "province_admin": "省级管理员"}


def parse_relation(answer: str) -> Relation | None:
    """`2` or `子女` -> Relation.CHILD; None when the answer is not one of the five."""
    answer = (answer or "").strip()
    if answer.isdigit() and 1 <= int(answer) <= len(texts.RELATIONS_BY_NUMBER):
        return Relation(texts.RELATIONS_BY_NUMBER[int(answer) - 1])
    for relation in Relation:
        if relation.value == answer or (len(answer) >= 2 and answer in relation.value):
            return relation
    return None


def finish_binding(session: Session, user: WeChatUser, answer: str, now: datetime) -> tuple[FamilyLink, Beneficiary]:
    """Answer to the relation question: create (or revive) the link to the beneficiary."""
    relation = parse_relation(answer)
    if relation is None:
        raise DomainError(texts.RELATION_NOT_UNDERSTOOD)
    beneficiary = session.get(Beneficiary, int(user.dialog["beneficiary_id"]))
    clear_dialog(user)
    if beneficiary is None or not beneficiary.active:
        raise DomainError(texts.BIND_USAGE)
    link = session.scalars(
        select(FamilyLink).where(FamilyLink.beneficiary_id == beneficiary.id, FamilyLink.wechat_user_id == user.id)
    ).one_or_none()
    if link is None:
        link = FamilyLink(beneficiary=beneficiary, wechat_user=user, created_at=now, notify=True)
        session.add(link)
    link.relation = relation.value
    link.active = True
    link.unbound_at = None
    session.flush()
    return link, beneficiary


def _active_link(session: Session, user: WeChatUser, beneficiary: Beneficiary) -> FamilyLink | None:
    return session.scalars(
        select(FamilyLink).where(
            FamilyLink.beneficiary_id == beneficiary.id,
            FamilyLink.wechat_user_id == user.id,
            FamilyLink.active.is_(True),
        )
    ).one_or_none()


def active_links(user: WeChatUser) -> list[FamilyLink]:
    """The user's active links, oldest first.

    Read from the user's links, loaded with the user: a new link joins them through its
    `wechat_user` relationship, so no query is needed.
    """
    return sorted((link for link in user.family_links if link.active), key=lambda link: link.id or 0)


def unbind(session: Session, user: WeChatUser, choice: int | None, now: datetime) -> str:
    """`解绑` (and `解绑 N` when bound to several): end the link, keep it for the cases that need it."""
    links = active_links(user)
    if not links:
        if user.staff is not None:
            user.staff.wechat_user_id = None
            session.flush()
            return texts.UNBOUND_STAFF
        raise DomainError(texts.NOTHING_TO_UNBIND)
    if len(links) > 1 and choice is None:
        options = "\n".join(f"{i} {link.beneficiary.name}" for i, link in enumerate(links, start=1))
        return texts.UNBIND_WHICH.format(options=options)
    index = (choice or 1) - 1
    if not 0 <= index < len(links):
        raise DomainError(texts.WHICH_NOT_UNDERSTOOD)
    link = links[index]
    link.active = False
    link.unbound_at = now
    session.flush()
    return texts.UNBOUND_ONE.format(name=link.beneficiary.name)


def set_notices(session: Session, user: WeChatUser, enabled: bool) -> str:
    """退订通知 / 订阅通知: family notices on or off for every link of the user."""
    links = active_links(user)
    if not links:
        raise DomainError(texts.NOTHING_TO_UNBIND)
    for link in links:
        link.notify = enabled
    session.flush()
    return texts.NOTICES_ON if enabled else texts.NOTICES_OFF


def clear_dialog(user: WeChatUser) -> None:
    """Forget the pending question."""
    user.dialog = None
    user.dialog_expires_at = None
