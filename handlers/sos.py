"""Chat handlers for 一键紧急求助: the menu's SOS key, "for whom" when several are bound, and the place
the sender shares with the menu's location button (its location_select event and its location message)."""

from __future__ import annotations

import re

from wechatpy.messages import BaseMessage

from handlers import requests as request_handlers
from handlers.context import Context
from models import Beneficiary, InboundMessage, ServiceRequest
from services import binding, sos, texts
from services.errors import DomainError
from services.policy.commands import normalize

DIALOG = "sos_which"


def on_sos(msg: BaseMessage, ctx: Context) -> str:
    """The SOS button: the bound beneficiary's urgent case at once; several bound, ask which; else the numbers."""
    numbers = sos.numbers_line()
    links = binding.active_links(ctx.user)
    if not links:
        return (texts.SOS_STAFF if ctx.staff is not None else texts.SOS_UNBOUND).format(numbers=numbers)
    beneficiaries = [link.beneficiary for link in links]
    target = beneficiaries[0] if len(beneficiaries) == 1 else _with_open_case(ctx, beneficiaries)
    if target is None:
        ctx.user.dialog = {"kind": DIALOG, "inbound_id": ctx.inbound.id, "options": [b.id for b in beneficiaries]}
        ctx.user.dialog_expires_at = ctx.now + binding.DIALOG_TTL
        options = "\n".join(f"{i} {b.name}" for i, b in enumerate(beneficiaries, start=1))
        return texts.SOS_WHICH.format(numbers=numbers, options=options)
    return _raise(ctx, target, ctx.inbound)


def on_which(msg: BaseMessage, ctx: Context) -> str:
    """The answer to "who needs help": that beneficiary's urgent case."""
    answer = re.sub(r"\D", "", normalize(msg.content if msg.type == "text" else ""))
    options = ctx.user.dialog.get("options", [])
    if not answer or not 1 <= int(answer) <= len(options):
        raise DomainError(texts.WHICH_NOT_UNDERSTOOD)
    tapped = ctx.session.get(InboundMessage, ctx.user.dialog["inbound_id"])
    binding.clear_dialog(ctx.user)
    return _raise(ctx, ctx.session.get(Beneficiary, options[int(answer) - 1]), tapped or ctx.inbound)


def on_location_select(msg: BaseMessage, ctx: Context) -> str | None:
    """The menu's 发送位置 (location_select): the place goes on the sender's open SOS case; nothing else to do."""
    return _attach(ctx)


def on_location(msg: BaseMessage, ctx: Context) -> str | None:
    """A location message: onto the open SOS case once (it may repeat the event's place), else as any message."""
    if ctx.staff is None and (request := _sos_case(ctx)) is not None and sos.place_of(ctx.inbound) is not None:
        return _attach(ctx, request)
    return request_handlers.on_message(msg, ctx)


def _attach(ctx: Context, request: ServiceRequest | None = None) -> str | None:
    """Attach the shared place to the SOS case; the thanks the first time it arrives, silence for its repeat."""
    request = request or _sos_case(ctx)
    place = sos.place_of(ctx.inbound)
    if request is None or place is None:
        return None
    if not sos.attach_place(ctx.session, ctx.request_env, request, ctx.user, ctx.inbound, place, ctx.now):
        return None
    return texts.SOS_LOCATION_RECEIVED.format(name=request.assignee.name if request.assignee else texts.SOS_OFFICE)


def _sos_case(ctx: Context) -> ServiceRequest | None:
    """The sender's newest open SOS case (any bound beneficiary's) within the merge window."""
    ids = [link.beneficiary_id for link in binding.active_links(ctx.user)]
    return sos.open_case(ctx.session, ids, ctx.now, ctx.request_env.merge_hours)


def _with_open_case(ctx: Context, beneficiaries: list[Beneficiary]) -> Beneficiary | None:
    """Of several bound, the one whose SOS case is open right now (a second tap needs no question)."""
    hours = ctx.request_env.merge_hours
    with_open = [b for b in beneficiaries if sos.open_case(ctx.session, [b.id], ctx.now, hours) is not None]
    return with_open[0] if len(with_open) == 1 else None


def _raise(ctx: Context, beneficiary: Beneficiary, inbound: InboundMessage) -> str:
    """Open the case (or add the tap to the open one) and answer with the numbers and who is coming."""
    request, opened = sos.raise_sos(ctx.session, ctx.request_env, beneficiary, ctx.user, inbound, ctx.now)
    numbers = sos.numbers_line()
    staff = request.assignee
    if staff is not None:
        handler = texts.SOS_HANDLER.format(name=staff.name, phone=staff.phone)
    else:
        town = beneficiary.village.parent
        handler = texts.SOS_HANDLER_OFFICE.format(town=town.name, office=town.office_phone or "—")
    if not opened:
        return texts.SOS_REPEAT.format(number=request.id, handler=handler, numbers=numbers)
    return texts.SOS_OPENED.format(name=beneficiary.name, number=request.id, numbers=numbers, handler=handler)
