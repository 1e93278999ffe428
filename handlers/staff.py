"""Chat handlers for staff: 任务, 接单, 回复, 完成, 转派, 督办, 走访, 代办."""

from __future__ import annotations

from wechatpy.messages import BaseMessage

from handlers.context import Context
from models import Staff
from models.enums import RequestChannel, StaffRole
from services import binding, casework, on_behalf, request_lists, texts, visits
from services import requests as service
from services.errors import DomainError
from services.policy.commands import parse_number_and_rest, parse_on_behalf, parse_visit


def _staff(ctx: Context) -> Staff:
    if ctx.staff is None:
        raise DomainError(texts.STAFF_ONLY)
    return ctx.staff


def on_tasks(msg: BaseMessage, ctx: Context) -> str:
    """`任务`: open requests first (urgent first), then visits due, short enough for a phone."""
    staff = _staff(ctx)
    rows, total = request_lists.tasks_for_staff(ctx.session, staff)
    lines = [texts.TASKS_HEADER.format(count=total)] if rows else [texts.TASKS_NONE]
    for r in rows:
        lines.append(texts.TASK_LINE.format(
            number=r.id, urgency="【急】" if r.urgency == "urgent" else "", category=r.category,
            name=r.beneficiary.name, village=r.beneficiary.village.name, status=texts.STATUS_NAMES[r.status],
        ))
    if total > len(rows):
        lines.append(texts.TASKS_MORE.format(count=total - len(rows)))
    if staff.role == StaffRole.ASSISTANT.value:
        today = ctx.now.astimezone(ctx.tz).date()
        due, due_total = visits.visits_due(ctx.session, staff, today, ctx.tz)
        if due:
            lines.append(texts.VISITS_DUE_HEADER.format(count=due_total))
            for item in due:
                late = (today - item.due).days
                lines.append(texts.VISIT_DUE_LINE.format(
                    id=item.beneficiary.id, name=item.beneficiary.name, village=item.beneficiary.village.name,
                    when=f"超期{late}天" if late else "今天到期",
                ))
            if due_total > len(due):
                lines.append(texts.TASKS_MORE.format(count=due_total - len(due)))
    return "\n".join(lines)


def on_accept(msg: BaseMessage, ctx: Context) -> str:
    """`接单 12`."""
    staff = _staff(ctx)
    number, _ = parse_number_and_rest(msg.content, "接单", "接单 求助编号，例如：接单 12")
    return casework.acknowledge(ctx.session, ctx.request_env, service.get_request(ctx.session, number), staff, ctx.now)


def on_reply(msg: BaseMessage, ctx: Context) -> str:
    """`回复 12 下午三点上门`: relayed to the requester."""
    staff = _staff(ctx)
    number, text = parse_number_and_rest(msg.content, "回复", "回复 求助编号 内容，例如：回复 12 下午三点上门")
    request = service.get_request(ctx.session, number)
    return casework.reply(ctx.session, ctx.request_env, request, staff, text, ctx.now)


def on_resolve(msg: BaseMessage, ctx: Context) -> str:
    """`完成 12 已送药上门`: resolved; the requester is asked to rate."""
    staff = _staff(ctx)
    number, note = parse_number_and_rest(msg.content, "完成", "完成 求助编号 办理结果，例如：完成 12 已送药上门")
    request = service.get_request(ctx.session, number)
    return casework.resolve(ctx.session, ctx.request_env, request, staff, note, ctx.now)


def on_reassign(msg: BaseMessage, ctx: Context) -> str:
    """`转派 12 A0031`: a town officer or above hands the request to another member of staff."""
    staff = _staff(ctx)
    number, staff_no = parse_number_and_rest(msg.content, "转派", "转派 求助编号 工号，例如：转派 12 A0031")
    if not staff_no:
        raise DomainError("请写上要转给的工号，例如：转派 12 A0031")
    request = service.get_request(ctx.session, number)
    return casework.reassign(ctx.session, ctx.request_env, request, staff, staff_no.split()[0], ctx.now)


def on_supervise(msg: BaseMessage, ctx: Context) -> str:
    """`督办 12`: city supervisors press a request."""
    staff = _staff(ctx)
    number, _ = parse_number_and_rest(msg.content, "督办", "督办 求助编号，例如：督办 12")
    return casework.supervise(ctx.session, ctx.request_env, service.get_request(ctx.session, number), staff, ctx.now)


def on_visit(msg: BaseMessage, ctx: Context) -> str:
    """`走访 15 医:缺降压药 帮:购物`: record a 四查四帮 visit."""
    staff = _staff(ctx)
    report = parse_visit(msg.content)
    return visits.record_visit(ctx.session, ctx.request_env, staff, report, ctx.now)


def on_log(msg: BaseMessage, ctx: Context) -> str:
    """`代办 15 电话 家里停水`: log a request for a beneficiary; without content, the next voice or text is it."""
    staff = _staff(ctx)
    number, word, content = parse_on_behalf(msg.content)
    channel = on_behalf.channel_from_word(word) if word else on_behalf.DEFAULT_CHANNEL
    if not content:
        # Checked now, so a wrong number is said before anyone records a voice for it.
        beneficiary = on_behalf.find_beneficiary(ctx.session, staff, number)
        ctx.user.dialog = {"kind": "on_behalf", "beneficiary_id": number, "channel": channel.value}
        ctx.user.dialog_expires_at = ctx.now + binding.DIALOG_TTL
        return texts.LOG_WAITING_CONTENT.format(name=beneficiary.name)
    request = on_behalf.log_on_behalf(ctx.session, ctx.request_env, staff, beneficiary_id=number, channel=channel,
                                      content=content, now=ctx.now)
    return on_behalf.logged_reply(request)


def on_log_content(msg: BaseMessage, ctx: Context) -> str:
    """The voice or text that follows `代办 15`: it becomes the request's content."""
    staff = _staff(ctx)
    pending = dict(ctx.user.dialog)
    binding.clear_dialog(ctx.user)
    request = on_behalf.log_on_behalf(
        ctx.session, ctx.request_env, staff, beneficiary_id=pending["beneficiary_id"],
        channel=RequestChannel(pending["channel"]), content="", now=ctx.now, inbound=ctx.inbound,
    )
    return on_behalf.logged_reply(request)
