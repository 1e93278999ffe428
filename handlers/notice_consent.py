"""Subscription-notice events (订阅通知): the user's accept or reject per template, and WeChat's delivery reports."""

from __future__ import annotations

import logging

from wechatpy.messages import BaseMessage

from handlers.context import Context
from services import notice_consents

logger = logging.getLogger(__name__)


def on_choice(msg: BaseMessage, ctx: Context) -> None:
    """subscribe_msg_popup_event / subscribe_msg_change_event: record each template's accept or reject.

    WeChat shows no reply to an event; the choice decides whether the outbox sends that template's notices.
    """
    choices = msg.choices
    written = notice_consents.record_choices(ctx.session, ctx.user, choices, ctx.inbound.sent_at, ctx.now)
    logger.info("notice_consent=recorded event=%s openid=%s items=%s written=%s", msg.event, ctx.openid,
                len(choices), written)
    return None


def on_sent(msg: BaseMessage, ctx: Context) -> None:
    """subscribe_msg_sent_event: WeChat's delivery report; a failure is logged with its errcode, nothing is changed."""
    for item in msg.items:
        if item.status != "0":
            logger.info("notice_consent=not_delivered openid=%s template=%s errcode=%s", ctx.openid,
                        item.template_id, item.status[:16])
    return None
