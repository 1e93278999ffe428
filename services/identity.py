"""Who is writing: the WeChat user behind an openid, created on first contact."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload

from models import Assignment, Beneficiary, FamilyLink, Region, Staff, WeChatUser
from models.db import insert_ignoring_conflicts

# Everything handling a message reads about its sender, in one round trip: whether they are staff,
# whom they are bound to, and for each beneficiary the village and town, the assistant (and their
# WeChat account, for the task push) and the open silences a message ends. A new help request then
# needs no other read but the open request it may join.
_SENDER_OPTIONS = (
    joinedload(WeChatUser.staff).joinedload(Staff.region),
    joinedload(WeChatUser.family_links).joinedload(FamilyLink.beneficiary).options(
        joinedload(Beneficiary.village).joinedload(Region.parent),
        joinedload(Beneficiary.current_assignment).joinedload(Assignment.staff).joinedload(Staff.wechat_user),
        joinedload(Beneficiary.open_silences),
    ),
)
# Built once: a statement with loader options costs more to build than to run.
_USER_BY_OPENID = select(WeChatUser).where(WeChatUser.openid == bindparam("openid")).options(*_SENDER_OPTIONS)
_USERS_BY_OPENID = (
    select(WeChatUser).where(WeChatUser.openid.in_(bindparam("openids", expanding=True))).options(*_SENDER_OPTIONS)
)


def load_senders(session: Session, openids: list[str]) -> dict[str, WeChatUser]:
    """The known users among `openids`, each loaded as `get_or_create_user` loads one, in one query."""
    if not openids:
        return {}
    users = session.scalars(_USERS_BY_OPENID, {"openids": sorted(set(openids))}).unique()
    return {user.openid: user for user in users}


def get_or_create_user(session: Session, openid: str, now: datetime, account_id: int | None = None, *,
                       known: dict[str, WeChatUser] | None = None) -> WeChatUser:
    """Load the user for an openid, creating it; safe when two first messages race.

    `known`: users already loaded by `load_senders` (a group of messages), used instead of a query.

    `account_id` is the official account the message came through (None: the default one): an openid
    belongs to one account, so the user is noted as following it, and pushes go out through it.
    """
    # Nearly every message comes from someone already known: read first, insert only when new.
    user = known.get(openid) if known else None
    if user is None:
        user = session.scalars(_USER_BY_OPENID, {"openid": openid}).unique().one_or_none()
    if user is not None:
        if user.account_id != account_id:
            user.account_id = account_id
        return user
    session.execute(
        insert_ignoring_conflicts(session, WeChatUser).values(
            openid=openid, subscribed=True, subscribed_at=now, created_at=now, account_id=account_id
        )
    )
    return session.scalars(_USER_BY_OPENID, {"openid": openid}).unique().one()


def note_message(user: WeChatUser, received_at: datetime) -> None:
    """Record that the user wrote: this opens WeChat's 48-hour customer-service window.

    Only a message does; a follow, scan or menu click opens a one-minute window, not this one.
    WeChat counts the window's five messages from when the user wrote, so the time is the
    message's arrival, not its handling: under a backlog the two differ, and counting from the
    handling would let replies sent in between go uncounted (refused with 45047).
    """
    if user.last_message_at is None or received_at > user.last_message_at:
        user.last_message_at = received_at
    user.subscribed = True


def note_subscribe(user: WeChatUser, now: datetime) -> None:
    """Record a follow (or re-follow) of the account."""
    user.subscribed = True
    user.subscribed_at = now
    user.unsubscribed_at = None


def note_unsubscribe(user: WeChatUser, now: datetime) -> None:
    """Record an unfollow; bindings stay, since open cases still need them."""
    user.subscribed = False
    user.unsubscribed_at = now


def staff_for_openid(session: Session, openid: str) -> Staff | None:
    """The active member of staff bound to this openid, or None (a follower, or nobody we know)."""
    return session.scalars(
        select(Staff).join(WeChatUser, Staff.wechat_user_id == WeChatUser.id)
        .where(WeChatUser.openid == openid, Staff.active.is_(True))
    ).one_or_none()
