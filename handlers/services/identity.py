"""Who is writing: the WeChat user behind an openid, created on first contact."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import Staff, WeChatUser
from models.db import insert_ignoring_conflicts


def get_or_create_user(session: Session, openid: str, now: datetime) -> WeChatUser:
    """Load the user for an openid, creating it; safe when two first messages race."""
    query = (
        select(WeChatUser)
        .where(WeChatUser.openid == openid)
        .options(
            selectinload(WeChatUser.staff).selectinload(Staff.region),
            selectinload(WeChatUser.family_links),
        )
    )
    # Nearly every message comes from someone already known: read first, insert only when new.
    user = session.scalars(query).one_or_none()
    if user is not None:
        return user
    session.execute(
        insert_ignoring_conflicts(session, WeChatUser).values(
            openid=openid, subscribed=True, subscribed_at=now, created_at=now
        )
    )
    return session.scalars(query).one()


def note_message(user: WeChatUser, now: datetime) -> None:
    """Record that the user wrote: this opens WeChat's 48-hour customer-service window."""
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
