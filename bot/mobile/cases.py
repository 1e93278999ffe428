"""The phone case page `/m/cases/<n>` a task push opens, its actions, and its media files.

A member of staff signed in through WeChat (`bot.mobile.signin`) sees one case within their
scope: who asked, the voice to play with its words, the photos, the place, the timeline, and
buttons that do what the chat commands 接单 / 回复 / 完成 / 转派 do, through the same casework
functions and so the same permission checks and events. Every view and every file is audited.
"""

from __future__ import annotations

import logging

from flask import flash, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm import Session

from bot import media_files
from bot.deps import db_session, services
from bot.mobile.signin import SIGN_IN_HOURS, notice, staff_only
from bot.mobile.views import PRIVATE_HEADERS, bp
from models import Beneficiary, Staff
from models.enums import CHANNEL_NAMES, CHECKIN_PLAN_NAMES, OPEN_STATUSES, MediaKind
from services import audit, case_media, casework, checkin_views, dashboard, media, on_behalf, texts
from services.errors import DomainError
from services.policy import permissions, recency
from services.scope import city_of_town

logger = logging.getLogger(__name__)

# The page posts its own forms and plays and shows its own files; it still loads nothing from elsewhere.
CASE_HEADERS = {
    **PRIVATE_HEADERS,
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; media-src 'self'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
}
EVENT_NAMES = {
    "created": "提交求助", "message": "补充消息", "acknowledged": "接单", "reply": "回复", "resolved": "办好",
    "closed": "办结", "cancelled": "取消", "rated": "评价", "escalated": "督办提醒", "reassigned": "转派",
    "supervised": "市级督办", "comment": "备注", "transcript": "语音转文字",
}
ACTIONS = ("accept", "reply", "resolve", "reassign")
NOT_IN_SCOPE = ("没有这件求助", "编号不对，或这件求助不在您的职责范围内。")


def _when(moment) -> str:
    """A stored UTC time as staff read it: 12月1日 09:05, in the deployment's time zone."""
    if moment is None:
        return "—"
    local = moment.astimezone(services().settings.tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _who(event, staff_names) -> str:
    """Who did this, in a word or two."""
    if event.actor_staff_id and event.actor_staff_id in staff_names:
        return staff_names[event.actor_staff_id].name
    return {"wechat_user": "求助人", "system": "系统"}.get(event.actor_kind, "工作人员")


def _checkin_facts(session: Session, item) -> dict:
    """The beneficiary's 报平安 plan and last check-in for the header, and why a 联系 case exists."""
    svc = services()
    now, tz, person = svc.clock(), svc.settings.tz, item.beneficiary
    return {
        "plan": CHECKIN_PLAN_NAMES[person.checkin_plan],
        "last": recency.since(person.last_checkin_at, now, tz) if person.last_checkin_at else "还没有报过",
        "why": checkin_views.silence_reason(session, item, now, tz),
    }


def loggable_person(session: Session, staff: Staff, beneficiary_id: int | None) -> Beneficiary | None:
    """The active beneficiary `staff` may log a request for (代办, the service's own check), else None."""
    if beneficiary_id is None:
        return None
    try:
        return on_behalf.find_beneficiary(session, staff, beneficiary_id)
    except DomainError:
        return None


@bp.get("/cases/<id:number>")
@staff_only()
def case(number: int):
    """One case within the viewer's scope, with its voice, photos, place, timeline and actions."""
    db, svc = db_session(), services()
    item = dashboard.case_detail(db, g.scope, number)
    if item is None:
        logger.info("mobile=case_refused staff=%s case=%s", g.staff.id, number)
        return notice(404, *NOT_IN_SCOPE)
    events = [e for e in dashboard.events_for(item) if e.kind != "push"]
    staff_names = dashboard.staff_names(db, [e.actor_staff_id for e in events] + [item.raised_by_staff_id])
    files = media.for_request(db, item.id)
    open_case = item.status in {s.value for s in OPEN_STATUSES}
    staff, city_id = g.staff, city_of_town(db, item.town_id)
    audit.record(db, svc.clock(), "mobile.case", staff=staff, target=("service_request", item.id),
                 detail={"media": len(files)}, ip=request.remote_addr)
    db.commit()
    logger.info("mobile=case staff=%s case=%s", staff.id, item.id)
    page = render_template(
        "mobile/case.html", item=item, events=events, who={e.id: _who(e, staff_names) for e in events},
        event_names=EVENT_NAMES, status_name=texts.STATUS_NAMES[item.status],
        channel_name=CHANNEL_NAMES.get(item.channel, item.channel), raised_by=staff_names.get(item.raised_by_staff_id),
        may_log=loggable_person(db, staff, item.beneficiary_id) is not None, checkin=_checkin_facts(db, item),
        voices=[m for m in files if m.kind == MediaKind.VOICE.value],
        photos=[m for m in files if m.kind == MediaKind.IMAGE.value],
        videos=[m for m in files if m.kind in (MediaKind.VIDEO.value, MediaKind.SHORTVIDEO.value)],
        places=case_media.locations(events), hours=SIGN_IN_HOURS, when=_when,
        may_handle=open_case and permissions.may_handle(staff.role, staff.id, staff.region_id,
                                                        item.assignee_staff_id, item.town_id, city_id),
        may_reassign=open_case and permissions.may_reassign(staff.role, staff.region_id, item.town_id, city_id),
    )
    return page, 200, CASE_HEADERS


@bp.post("/cases/<id:number>/<action>")
@staff_only()
def case_action(number: int, action: str):
    """接单, 回复, 完成 or 转派 from the page, exactly as the chat command would do it."""
    db, svc = db_session(), services()
    item = dashboard.case_detail(db, g.scope, number) if action in ACTIONS else None
    if item is None:
        return notice(404, *NOT_IN_SCOPE)
    env, now, text = svc.request_env, svc.clock(), (request.form.get("text") or "").strip()
    try:
        if action == "accept":
            message = casework.acknowledge(db, env, item, g.staff, now)
        elif action == "reply":
            message = casework.reply(db, env, item, g.staff, text, now)
        elif action == "resolve":
            message = casework.resolve(db, env, item, g.staff, text, now)
        else:
            message = casework.reassign(db, env, item, g.staff, request.form.get("staff_no", ""), now)
    except DomainError as refused:
        db.rollback()
        logger.info("mobile=case_action_refused staff=%s case=%s action=%s", g.staff.id, number, action)
        flash(refused.message, "error")
        return redirect(url_for("mobile.case", number=number), 303)
    audit.record(db, now, f"mobile.case.{action}", staff=g.staff, target=("service_request", number),
                 ip=request.remote_addr)
    db.commit()
    logger.info("mobile=case_action staff=%s case=%s action=%s", g.staff.id, number, action)
    flash(message, "ok")
    return redirect(url_for("mobile.case", number=number), 303)


@bp.get("/media/<id:item_id>")
@staff_only(sign_in=False)
def media_file(item_id: int):
    """A voice, photo or video of a case in the viewer's scope (`?playable=1`: a voice's MP3)."""
    db = db_session()
    item = case_media.item_in_scope(db, g.scope, item_id)
    if item is None:
        logger.info("mobile=media_refused staff=%s item=%s", g.staff.id, item_id)
        return media_files.notice(404, "没有这个文件，或不在您的职责范围内。")
    playable = request.args.get("playable") == "1"
    if media_files.opens_the_file():
        audit.record(db, services().clock(), "mobile.media", staff=g.staff, target=("media_item", item.id),
                     detail={"request": item.request_id, "playable": playable}, ip=request.remote_addr)
        db.commit()
    return media_files.answer(item, playable=playable)


@bp.errorhandler(CSRFError)
def form_expired(_exc: CSRFError):
    """A form without its token (or an old one): say so kindly, never the generic refusal."""
    return notice(400, "页面已过期", "请返回，刷新页面后再试一次。")
