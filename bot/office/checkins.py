"""The beneficiary page's 报平安 form: whether they live alone, and their check-in plan (每天/每周/关闭,
or back to the default their categories and living alone give)."""

from __future__ import annotations

import logging

from flask import abort, flash, g, redirect, request, url_for

from bot.deps import db_session, services
from bot.office.common import bp, record_audit, require_writer, signed_in
from models.enums import CHECKIN_PLAN_NAMES, CheckinPlan
from services import checkins, dashboard
from services.errors import DomainError
from services.policy import checkin as checkin_policy
from services.policy import permissions

logger = logging.getLogger(__name__)

# The form's choice for "follow the categories and living alone again".
DEFAULT = "default"
PLAN_CHOICES = frozenset({DEFAULT, *(p.value for p in CheckinPlan)})
LIVES_ALONE = {"1": True, "0": False}
MSG_BAD_PLAN = "报平安计划只能选：按类别默认、每天、每周或关闭"
MSG_BAD_LIVES_ALONE = "请选择是否独居：是或否"


@bp.post("/beneficiaries/<id:beneficiary_id>/checkin-plan")
@signed_in()
def set_checkin_plan(beneficiary_id: int):
    """Set living alone and the 报平安 plan; whoever may reassign the beneficiary may, audited."""
    require_writer()
    db = db_session()
    person = dashboard.beneficiary_detail(db, g.scope, beneficiary_id)
    if person is None:
        abort(404, description="没有这位服务对象，或不在您的范围内")
    town = person.village.parent
    if not permissions.may_reassign(g.staff.role, g.staff.region_id, town.id, town.parent_id):
        abort(403, description="您不能修改这位服务对象的报平安计划")
    plan, alone = request.form.get("plan", ""), request.form.get("lives_alone", "")
    if plan not in PLAN_CHOICES:
        abort(400, description=MSG_BAD_PLAN)
    if alone not in LIVES_ALONE:
        abort(400, description=MSG_BAD_LIVES_ALONE)
    before = _state(person)
    now = services().clock()
    person.lives_alone = LIVES_ALONE[alone]
    if plan == DEFAULT:
        # Back to the default: the plan follows the categories and living alone again.
        person.checkin_plan_by_staff = False
    checkins.refresh_default_plan(person)
    try:
        if plan != DEFAULT and (not person.checkin_plan_by_staff or person.checkin_plan != plan):
            checkins.set_plan(db, person, plan, staff=g.staff, now=now)
    except DomainError as refused:
        db.rollback()
        abort(400, description=refused.message)
    after = _state(person)
    back = redirect(url_for("office.beneficiary", beneficiary_id=beneficiary_id))
    if after == before:
        db.rollback()
        flash("没有改动。", "ok")
        return back
    person.updated_at = now
    record_audit("beneficiary.checkin_plan", ("beneficiary", person.id), after)
    db.commit()
    logger.info("office=checkin_plan beneficiary=%s plan=%s by_staff=%s", person.id, person.checkin_plan,
                person.checkin_plan_by_staff)
    how = "工作人员设定" if person.checkin_plan_by_staff else "按类别默认"
    flash(f"已保存：{person.name}报平安计划为{CHECKIN_PLAN_NAMES[person.checkin_plan]}（{how}）。", "ok")
    return back


@bp.app_template_filter("default_checkin_plan")
def default_checkin_plan(person) -> str:
    """The plan the beneficiary's categories and living alone give (what 按类别默认 would set)."""
    return checkin_policy.default_plan(person.category_names, person.lives_alone)


def _state(person) -> dict:
    """What the form changes, as the audit detail records it."""
    return {"lives_alone": person.lives_alone, "plan": person.checkin_plan,
            "plan_by_staff": person.checkin_plan_by_staff}
