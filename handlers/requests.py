"""Chat handlers for the requester's side: help messages, 我的协理员, 进度, 取消, 评价, 帮助."""

from __future__ import annotations

import re

from wechatpy.messages import BaseMessage

from config import policy
from handlers.context import Context
from models import Beneficiary, InboundMessage
from models.enums import RequestCategory, Urgency
from services import binding, casework, request_lists, roster, texts
from services import requests as service
from services.errors import DomainError
from services.policy.classify import Classification, classify
from services.policy.commands import normalize, parse_number_and_rest, parse_rating


def on_message(msg: BaseMessage, ctx: Context) -> str:
    """Anything that is not a command: staff get a hint, unbound users binding help, the bound a request."""
    if ctx.staff is not None:
        return texts.HELP_STAFF
    links = binding.active_links(ctx.user)
    if not links:
        return texts.HOW_TO_BIND
    beneficiaries = [link.beneficiary for link in links]
    target = _clear_from_context(ctx, beneficiaries)
    if target is None:
        options = "\n".join(f"{i} {b.name}" for i, b in enumerate(beneficiaries, start=1))
        ctx.user.dialog = {
            "kind": "which_beneficiary",
            "inbound_id": ctx.inbound.id,
            "options": [b.id for b in beneficiaries],
        }
        ctx.user.dialog_expires_at = ctx.now + binding.DIALOG_TTL
        return texts.WHICH_BENEFICIARY.format(options=options)
    return _raise_for(ctx, target, ctx.inbound)


def on_which_beneficiary(msg: BaseMessage, ctx: Context) -> str:
    """The answer to "for whom": the pending message becomes that beneficiary's request."""
    answer = re.sub(r"\D", "", normalize(msg.content if msg.type == "text" else ""))
    options = ctx.user.dialog.get("options", [])
    if not answer or not 1 <= int(answer) <= len(options):
        raise DomainError(texts.WHICH_NOT_UNDERSTOOD)
    pending = ctx.session.get(InboundMessage, ctx.user.dialog["inbound_id"])
    binding.clear_dialog(ctx.user)
    beneficiary = ctx.session.get(Beneficiary, options[int(answer) - 1])
    return _raise_for(ctx, beneficiary, pending)


def _clear_from_context(ctx: Context, beneficiaries: list[Beneficiary]) -> Beneficiary | None:
    """One beneficiary; else the one the message names; else the one with a request open right now."""
    if len(beneficiaries) == 1:
        return beneficiaries[0]
    text = ctx.inbound.content or ""
    named = [b for b in beneficiaries if b.name and b.name in text]
    if len(named) == 1:
        return named[0]
    hours = ctx.request_env.merge_hours
    with_open = [b for b in beneficiaries if service.mergeable_request(ctx.session, b.id, ctx.now, hours)]
    return with_open[0] if len(with_open) == 1 else None


def _raise_for(ctx: Context, beneficiary: Beneficiary, inbound: InboundMessage) -> str:
    """Add the message to the beneficiary's open request, or open a new one, and say who has it."""
    env = ctx.request_env
    open_request = service.mergeable_request(ctx.session, beneficiary.id, ctx.now, env.merge_hours)
    if open_request is not None:
        service.append_message(ctx.session, env, open_request, ctx.user, inbound, ctx.now)
        name = open_request.assignee.name if open_request.assignee else "乡镇民政办"
        return texts.REQUEST_APPENDED.format(number=open_request.id, name=name)
    summary, data = service.describe_message(inbound)
    text = summary if inbound.msg_type in ("text", "voice") else ""
    unheard = service.unheard_voice(inbound)
    if unheard:
        # Nobody knows yet what was said: urgent until a transcript or a member of staff says otherwise.
        result = Classification(RequestCategory.OTHER, Urgency(policy.UNHEARD_VOICE_URGENCY))
    elif text:
        result = classify(text, ctx.now.astimezone(ctx.tz).month)
    else:
        result = Classification(RequestCategory.OTHER, Urgency.NORMAL)
    request = service.open_request(
        ctx.session, env, beneficiary=beneficiary, classification=result, summary=summary,
        now=ctx.now, user=ctx.user, inbound=inbound, data=data,
        urgency_reason="unheard" if unheard and result.urgency is Urgency.URGENT else None, outbox=ctx.outbox,
    )
    reply = texts.REQUEST_OPENED.format(number=request.id, handler=service.handler_line(request))
    if unheard:
        name = request.assignee.name if request.assignee else "乡镇民政办"
        reply = texts.VOICE_RECEIVED.format(name=name) + "\n" + reply
    elif result.emergency_numbers:
        name = request.assignee.name if request.assignee else "乡镇民政办"
        reply = texts.REQUEST_EMERGENCY.format(numbers="、".join(result.emergency_numbers), name=name) + "\n" + reply
    return reply


def on_my_assistant(msg: BaseMessage, ctx: Context) -> str:
    """`我的协理员`: the contact card of each bound beneficiary's assistant."""
    links = binding.active_links(ctx.user)
    if not links:
        return texts.HOW_TO_BIND
    cards = []
    for beneficiary, town, assistant in roster.contact_cards(ctx.session, [link.beneficiary_id for link in links]):
        office = town.office_phone or "—"
        if assistant is None:
            cards.append(texts.MY_ASSISTANT_NONE.format(name=beneficiary.name, town=town.name, office=office))
        else:
            cards.append(texts.MY_ASSISTANT.format(
                name=beneficiary.name, assistant=assistant.name, phone=assistant.phone, town=town.name, office=office,
            ))
    return "\n\n".join(cards)


def on_progress(msg: BaseMessage, ctx: Context) -> str:
    """`进度`: the bound beneficiaries' open requests and who has each."""
    if not binding.active_links(ctx.user):
        return texts.HOW_TO_BIND
    rows = request_lists.requests_for_user(ctx.session, ctx.user)
    if not rows:
        return texts.PROGRESS_NONE
    return "\n".join(
        texts.PROGRESS_LINE.format(
            number=r.id, name=r.beneficiary.name, category=r.category, status=texts.STATUS_NAMES[r.status],
            handler=r.assignee.name if r.assignee else "乡镇民政办",
        )
        for r in rows
    )


def on_cancel(msg: BaseMessage, ctx: Context) -> str:
    """`取消 12`."""
    number, _ = parse_number_and_rest(msg.content, "取消", "取消 求助编号，例如：取消 12")
    request = service.get_request(ctx.session, number)
    return casework.cancel(ctx.session, ctx.request_env, request, ctx.user, ctx.now)


def on_rate(msg: BaseMessage, ctx: Context) -> str:
    """`评价 12 5 很及时`."""
    number, stars, comment = parse_rating(msg.content)
    request = service.get_request(ctx.session, number)
    return casework.rate(ctx.session, ctx.request_env, request, ctx.user, stars, comment, ctx.now)


def on_help(msg: BaseMessage, ctx: Context) -> str:
    """`帮助` / `菜单`: the commands for who is asking."""
    if ctx.staff is not None:
        return texts.HELP_STAFF
    return texts.HELP_FAMILY if binding.active_links(ctx.user) else texts.HOW_TO_BIND
