"""Who is writing: the WeChat user behind an openid, created on first contact."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload

from models import Staff, WeChatUser
from models.db import insert_ignoring_conflicts

# One round trip, built once: every handler asks whether the sender is staff and whom they are
# bound to, and a statement with loader options costs more to build than to run.
_USER_BY_OPENID = (
    select(WeChatUser)
    .where(WeChatUser.openid == bindparam("openid"))
    .options(joinedload(WeChatUser.staff).joinedload(Staff.region), joinedload(WeChatUser.family_links))
)


def get_or_create_user(session: Session, openid: str, now: datetime) -> WeChatUser:
    """Load the user for an openid, creating it; safe when two first messages race."""
    # Nearly every message comes from someone already known: read first, insert only when new.
    user = session.scalars(_USER_BY_OPENID, {"openid": openid}).unique().one_or_none()
    if user is not None:
        return user
    session.execute(
        insert_ignoring_conflicts(session, WeChatUser).values(
            openid=openid, subscribed=True, subscribed_at=now, created_at=now
        )
    )
    return session.scalars(_USER_BY_OPENID, {"openid": openid}).unique().one()


def note_message(user: WeChatUser, now: datetime) -> None:
    """Record that the user wrote: this opens WeChat's 48-hour customer-service window.

    Only a message does; a follow, scan or menu click opens a one-minute window, not this one.
    """
    user.last_message_at = now
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
