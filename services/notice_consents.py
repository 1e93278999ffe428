"""Subscription-notice choices (订阅通知): what each WeChat user accepted or rejected per template, as
WeChat's events report it, and which templates the outbox must not send to whom."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import NoticeConsent, WeChatUser
from models.enums import NoticeChoice
from services import wechat_events  # noqa: F401  # registers the subscribe_msg_* events with wechatpy
from services.wechat_events import Choice


def record_choices(session: Session, user: WeChatUser, choices: Iterable[Choice], chosen_at: datetime,
                   now: datetime) -> int:
    """Record the user's choice per template; an event older than the choice recorded changes nothing.

    Returns how many choices were written.
    """
    written = 0
    for choice in choices:
        row = session.scalars(select(NoticeConsent).where(NoticeConsent.wechat_user_id == user.id,
                                                          NoticeConsent.template_id == choice.template_id)
                              .with_for_update()).one_or_none()
        if row is None:
            session.add(NoticeConsent(wechat_user_id=user.id, template_id=choice.template_id, choice=choice.status,
                                      chosen_at=chosen_at, recorded_at=now))
        elif row.chosen_at <= chosen_at:
            row.choice, row.chosen_at, row.recorded_at = choice.status, chosen_at, now
        else:
            continue
        written += 1
    session.flush()
    return written


def refused_templates(session: Session, openids: Iterable[str]) -> dict[str, frozenset[str]]:
    """The subscription templates each of these users rejected (one query)."""
    openids = sorted(set(openids))
    refused: dict[str, set[str]] = {}
    if openids:
        rows = session.execute(
            select(WeChatUser.openid, NoticeConsent.template_id)
            .join(NoticeConsent, NoticeConsent.wechat_user_id == WeChatUser.id)
            .where(WeChatUser.openid.in_(openids), NoticeConsent.choice == NoticeChoice.REJECT.value)
        )
        for openid, template_id in rows:
            refused.setdefault(openid, set()).add(template_id)
    return {openid: frozenset(ids) for openid, ids in refused.items()}
