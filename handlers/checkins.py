"""Chat handlers for 报平安: the menu button and the words from the beneficiary's side, `平安计划` for staff.

A sender bound to several beneficiaries checks in for each of them, and the reply names them: a
daughter bound to both parents who taps 报平安 means both are fine, and asking "for whom" would
turn one tap into two. A check-in opens no request and tells nobody; it is kept for the silence
scans and the pages.
"""

from __future__ import annotations

from wechatpy.messages import BaseMessage

from handlers.context import Context
from models.enums import CheckinSource
from services import audit, binding, checkins, texts
from services.errors import DomainError
from services.policy.checkin import is_checkin_words
from services.policy.commands import parse_checkin_plan


def said_checkin_words(msg: BaseMessage) -> bool:
    """The whole text, or the whole of WeChat's recognition of a voice, says "I am fine"."""
    if msg.type == "text":
        return is_checkin_words(msg.content)
    if msg.type == "voice":
        return is_checkin_words(msg._data.get("Recognition") or "")
    return False


def on_checkin(msg: BaseMessage, ctx: Context) -> str:
    """The 报平安 button, or 平安 / 我很好 written or said: a check-in for every bound beneficiary."""
    if ctx.staff is not None:
        return texts.CHECKIN_STAFF
    links = binding.active_links(ctx.user)
    if not links:
        return texts.HOW_TO_BIND
    source = (CheckinSource.MENU if msg.type == "event" else
              CheckinSource.VOICE if msg.type == "voice" else CheckinSource.TEXT)
    for link in links:
        checkins.record_checkin(ctx.session, link.beneficiary, ctx.now, source=source, env=ctx.request_env,
                                wechat_user=ctx.user)
    return checkins.checkin_reply(links)


def on_plan(msg: BaseMessage, ctx: Context) -> str:
    """`平安计划 15 每天`: staff set a beneficiary's check-in plan, within their scope; audited."""
    staff = ctx.staff
    if staff is None:
        raise DomainError(texts.STAFF_ONLY)
    number, plan = parse_checkin_plan(msg.content)
    beneficiary = checkins.find_for_plan(ctx.session, staff, number)
    checkins.set_plan(ctx.session, beneficiary, plan, staff=staff, now=ctx.now)
    # As the office's form records it: the state after the change.
    audit.record(ctx.session, ctx.now, "beneficiary.checkin_plan", staff=staff, target=("beneficiary", beneficiary.id),
                 detail={"lives_alone": bool(beneficiary.lives_alone), "plan": plan, "plan_by_staff": True})
    return checkins.plan_sentence(beneficiary)
