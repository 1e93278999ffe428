"""The service map, village and beneficiary pages, reassigning a beneficiary's assistant, and 代办."""

from __future__ import annotations

import logging

from flask import abort, flash, g, redirect, render_template, request, url_for

from bot.deps import db_session, read_session, services
from bot.inputs import id_arg
from bot.office.common import bp, record_audit, require_writer, signed_in
from models import Staff
from models.enums import CHANNEL_NAMES, CHECKIN_PLAN_NAMES, RequestChannel
from services import dashboard, on_behalf, roster
from services import service_map as map_picture
from services.errors import DomainError
from services.policy import id_number, recency

logger = logging.getLogger(__name__)


# --- the service map -------------------------------------------------------------------------------


@bp.get("/map")
@signed_in()
def service_map():
    """City > towns > villages as a picture (sized by people, coloured by gaps) and a table (replica)."""
    svc = services()
    now = svc.clock()
    data = dashboard.service_map(read_session(), g.scope, now, svc.settings.tz)
    tree = map_picture.picture(data, g.scope, city_name=g.staff.region.name).as_json()
    _link_villages(tree)
    # A whole province lists its towns; the villages of a city show once that city is chosen.
    return render_template("office/map.html", data=data, threshold=dashboard.LOAD_THRESHOLD, tree=tree,
                           gap_labels=map_picture.gap_labels(), today=now.astimezone(svc.settings.tz).date(),
                           villages=not g.scope.is_province)


def _link_villages(node: dict) -> None:
    """Give each village of the picture the address of its page, which a click on it opens."""
    if node["kind"] == "village":
        node["url"] = url_for("office.village", village_id=node["regionId"])
    for child in node.get("children", ()):
        _link_villages(child)


@bp.get("/villages/<id:village_id>")
@signed_in()
def village(village_id: int):
    """One village: assistants and their beneficiaries (prints on A4), filtered by 报平安 plan if asked."""
    plan, silent = request.args.get("plan") or None, request.args.get("silent") == "1"
    if plan is not None and plan not in CHECKIN_PLAN_NAMES:
        abort(400, description="报平安计划只能选：每天、每周或关闭")
    svc = services()
    midnight = recency.local_midnight(svc.clock(), svc.settings.tz)
    detail = dashboard.village_detail(db_session(), g.scope, village_id, plan=plan,
                                      silent_before=midnight if silent else None)
    if detail is None:
        abort(404, description="没有这个村（社区），或不在您的范围内")
    return render_template("office/village.html", detail=detail, plan=plan, silent=silent)


@bp.get("/beneficiaries/<id:beneficiary_id>")
@signed_in()
def beneficiary(beneficiary_id: int):
    """One beneficiary: details (ID masked), assignment history, cases and visits."""
    return _beneficiary_page(beneficiary_id, full_id=None)


def _beneficiary_page(beneficiary_id: int, full_id: str | None):
    db = db_session()
    person = dashboard.beneficiary_detail(db, g.scope, beneficiary_id)
    if person is None:
        abort(404, description="没有这位服务对象，或不在您的范围内")
    pii = services().pii
    masked = id_number.mask(pii.decrypt(person.id_number_encrypted)) if person.id_number_encrypted else "—"
    history = sorted(person.assignments, key=lambda a: a.started_at, reverse=True)
    staff = dashboard.staff_names(db, [a.staff_id for a in history])
    return render_template(
        "office/beneficiary.html", person=person, masked=masked, full_id=full_id, history=history, staff=staff,
        cases=dashboard.recent_cases(db, person.id), visits=dashboard.recent_visits(db, person.id),
        assistants=dashboard.village_assistants(db, person.village_id),
        current=roster.current_assignment(db, person),
        channels={value: name for value, name in CHANNEL_NAMES.items() if value != RequestChannel.WECHAT.value},
    )


@bp.post("/beneficiaries/<id:beneficiary_id>/reveal-id")
@signed_in()
def reveal_id(beneficiary_id: int):
    """Show the full ID number once; every display is audited."""
    require_writer()
    db = db_session()
    person = dashboard.beneficiary_detail(db, g.scope, beneficiary_id)
    if person is None or not person.id_number_encrypted:
        abort(404, description="没有这位服务对象，或不在您的范围内")
    record_audit("beneficiary.id_number.view", ("beneficiary", person.id))
    db.commit()
    return _beneficiary_page(beneficiary_id, full_id=services().pii.decrypt(person.id_number_encrypted))


@bp.post("/beneficiaries/<id:beneficiary_id>/reassign")
@signed_in()
def reassign_beneficiary(beneficiary_id: int):
    """Make another assistant of the village responsible: one action, audited, card marked outdated."""
    require_writer()
    db = db_session()
    person = dashboard.beneficiary_detail(db, g.scope, beneficiary_id)
    if person is None:
        abort(404, description="没有这位服务对象，或不在您的范围内")
    target_id = id_arg(request.form, "staff_id")
    target = db.get(Staff, target_id) if target_id else None
    if target is None or target.region_id != person.village_id:
        flash("请选择本村（社区）的协理员", "error")
        return redirect(url_for("office.beneficiary", beneficiary_id=beneficiary_id))
    previous = roster.current_assignment(db, person)
    try:
        roster.assign_assistant(db, person, target, services().clock(), by=g.staff,
                                reason=request.form.get("reason") or "网页调整")
    except roster.RosterError as refused:
        flash(str(refused), "error")
        return redirect(url_for("office.beneficiary", beneficiary_id=beneficiary_id))
    record_audit("beneficiary.reassign", ("beneficiary", person.id),
           {"from_staff_id": previous.staff_id if previous else None, "to_staff_id": target.id})
    db.commit()
    flash(f"已改由{target.name}负责{person.name}，请重新打印关爱服务电话卡。", "ok")
    return redirect(url_for("office.beneficiary", beneficiary_id=beneficiary_id))


@bp.post("/beneficiaries/<id:beneficiary_id>/log-request")
@signed_in()
def log_request(beneficiary_id: int):
    """代办登记: log a request the beneficiary made by phone, at home or at the office, as the chat does."""
    db = db_session()
    back = url_for("office.beneficiary", beneficiary_id=beneficiary_id)
    if not g.scope.can_write:
        flash("协理员请在微信里发送“代办 对象编号 内容”登记。", "error")
        return redirect(back)
    channel = on_behalf.channel_from_word(CHANNEL_NAMES.get(request.form.get("channel") or "", ""))
    if channel is None:
        flash("请选择渠道：电话、上门、来访或其他。", "error")
        return redirect(back)
    svc = services()
    try:
        logged = on_behalf.log_on_behalf(db, svc.request_env, g.staff, beneficiary_id=beneficiary_id, channel=channel,
                                         content=(request.form.get("text") or "")[:500], now=svc.clock())
    except DomainError as refused:
        db.rollback()
        flash(refused.message, "error")
        # Out of scope: the page itself would say nothing more, so the board is the way back.
        in_scope = dashboard.beneficiary_detail(db, g.scope, beneficiary_id) is not None
        return redirect(back if in_scope else url_for("office.cases"))
    record_audit("case.log", ("service_request", logged.id), {"beneficiary_id": beneficiary_id,
                                                              "channel": channel.value})
    message = on_behalf.logged_reply(logged)
    db.commit()
    flash(message, "ok")
    return redirect(url_for("office.case", number=logged.id))
