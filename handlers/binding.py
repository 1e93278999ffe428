"""Chat handlers for binding: `绑定 码`, scanning a care card's QR, the relation answer, 解绑, notices."""

from __future__ import annotations

import re

from wechatpy.messages import BaseMessage

from handlers.context import Context
from services import binding, identity, roster, texts
from services.policy.commands import split_command


def on_bind_command(msg: BaseMessage, ctx: Context) -> str:
    """`绑定 K7P3QX`: a beneficiary's code (then the relation question) or a staff invite."""
    code = split_command(msg.content, "绑定")
    return binding.start_binding(ctx.session, ctx.pii, ctx.bind_guard, ctx.user, code, ctx.now, ctx.local_day)


def on_follow_or_scan(msg: BaseMessage, ctx: Context) -> str:
    """A follow, or a care card's QR scanned (by a new or an existing follower)."""
    if msg.event in ("subscribe", "subscribe_scan"):
        identity.note_subscribe(ctx.user, ctx.now)
    code = binding.code_from_scene(getattr(msg, "scene_id", None))
    if code is None:
        # A follower scanning a code that binds nobody (a poster's plain QR) is not new here.
        if msg.event == "scan":
            return texts.WELCOME_BACK if ctx.is_bound else texts.HOW_TO_BIND
        return texts.WELCOME
    return binding.start_binding(ctx.session, ctx.pii, ctx.bind_guard, ctx.user, code, ctx.now, ctx.local_day)


def on_relation_answer(msg: BaseMessage, ctx: Context) -> str:
    """The answer to "what is your relation": links the user to the beneficiary."""
    answer = msg.content if msg.type == "text" else (msg._data.get("Recognition") or "")
    link, beneficiary = binding.finish_binding(ctx.session, ctx.user, answer, ctx.now)
    assignment = roster.current_assignment(ctx.session, beneficiary)
    if assignment is None:
        return texts.BOUND_FAMILY_NO_ASSISTANT.format(name=beneficiary.name, relation=link.relation)
    staff = assignment.staff
    return texts.BOUND_FAMILY.format(
        name=beneficiary.name, relation=link.relation, assistant=f"{staff.name}，电话 {staff.phone}"
    )


def on_unbind(msg: BaseMessage, ctx: Context) -> str:
    """`解绑` or `解绑 2`: end a binding (cases keep their history)."""
    choice = re.sub(r"\D", "", split_command(msg.content, "解绑")) if msg.type == "text" else ""
    return binding.unbind(ctx.session, ctx.user, int(choice) if choice else None, ctx.now)


def on_notices_off(msg: BaseMessage, ctx: Context) -> str:
    """`退订通知`: no more visit and resolution notices."""
    return binding.set_notices(ctx.session, ctx.user, enabled=False)


def on_notices_on(msg: BaseMessage, ctx: Context) -> str:
    """`订阅通知`: visit and resolution notices again."""
    return binding.set_notices(ctx.session, ctx.user, enabled=True)
