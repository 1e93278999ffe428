"""Admin API routes for beneficiaries: create, list, change living alone and the 报平安 plan, replace a bind code."""

from __future__ import annotations

from flask import jsonify

from bot.api import responses
from bot.api.audit import audit
from bot.api.blueprint import bp
from bot.api.errors import (
    MSG_ASSISTANT_UNKNOWN,
    MSG_BENEFICIARY_NOT_FOUND,
    MSG_ID_NUMBER_TAKEN,
    MSG_NOT_A_VILLAGE,
    MSG_VILLAGE_UNKNOWN,
    conflict,
    invalid,
    not_found,
)
from bot.api.schemas import BeneficiaryCreate, BeneficiaryQuery, BeneficiaryUpdate
from bot.api.spec import operation
from bot.deps import db_session, services
from models import Beneficiary
from models.enums import RegionLevel
from services import binding, checkins, listing, roster


@bp.post("/beneficiaries")
@operation("createBeneficiary", "beneficiaries", 201, responses.Beneficiary, 400, 409, 413, 422)
def create_beneficiary(json: BeneficiaryCreate):
    """Add a beneficiary in a village, with a validated, encrypted ID number and an assistant."""
    session, pii = db_session(), services().pii
    now = services().clock()
    village = listing.region_by_code(session, json.village_code)
    if village is None:
        raise invalid("village_code", MSG_VILLAGE_UNKNOWN)
    if village.level != RegionLevel.VILLAGE.value:
        raise invalid("village_code", MSG_NOT_A_VILLAGE)
    assistant = None
    if json.assistant_staff_no is not None:
        assistant = listing.staff_by_no(session, json.assistant_staff_no)
        if assistant is None:
            raise invalid("assistant_staff_no", MSG_ASSISTANT_UNKNOWN)
    number = json.id_number
    if number is not None and listing.beneficiary_with_id_number(session, pii, number) is not None:
        raise conflict("id_number", MSG_ID_NUMBER_TAKEN)
    beneficiary = roster.create_beneficiary(
        session, pii, name=json.name, village=village, categories=json.categories, now=now,
        id_no=number, phone=json.phone, address=json.address, lives_alone=json.lives_alone,
    )
    if json.checkin_plan is not None:
        checkins.set_plan(session, beneficiary, json.checkin_plan.value, staff=None, now=now)
    if assistant is not None:
        try:
            roster.assign_assistant(session, beneficiary, assistant, now, reason="admin-api")
        except roster.RosterError as exc:
            raise invalid("assistant_staff_no", str(exc)) from None
    session.flush()
    audit(session, "beneficiary.create", "beneficiary", beneficiary.id, {
        "village_code": json.village_code,
        "categories": [c.value for c in json.categories],
        "has_id_number": number is not None,
        "assistant_staff_no": json.assistant_staff_no,
        "lives_alone": json.lives_alone,
        "checkin_plan": beneficiary.checkin_plan,
    })
    session.commit()
    return jsonify(listing.beneficiary_detail(session, pii, beneficiary)), 201


@bp.get("/beneficiaries")
@operation("listBeneficiaries", "beneficiaries", 200, responses.BeneficiaryPage, 422)
def list_beneficiaries(query: BeneficiaryQuery):
    """List beneficiaries by village, town and category, a page at a time."""
    page = listing.list_beneficiaries(
        db_session(),
        services().pii,
        query.page_request(),
        village_code=query.village_code,
        town_code=query.town_code,
        category=query.category.value if query.category is not None else None,
    )
    return jsonify(page.as_dict())


@bp.patch("/beneficiaries/<id:beneficiary_id>")
@operation(
    "updateBeneficiary", "beneficiaries", 200, responses.Beneficiary, 400, 404, 413, 422,
    path_params={"beneficiary_id": "The beneficiary's id."},
)
def update_beneficiary(beneficiary_id: int, json: BeneficiaryUpdate):
    """Record whether the beneficiary lives alone, or set their 报平安 plan; fields left out stay as they are."""
    session = db_session()
    beneficiary = session.get(Beneficiary, beneficiary_id)
    if beneficiary is None:
        raise not_found(MSG_BENEFICIARY_NOT_FOUND.format(id=beneficiary_id))
    now = services().clock()
    if json.lives_alone is not None:
        beneficiary.lives_alone = json.lives_alone
        checkins.refresh_default_plan(beneficiary)
    if json.checkin_plan is not None:
        checkins.set_plan(session, beneficiary, json.checkin_plan.value, staff=None, now=now)
    beneficiary.updated_at = now
    # As the office's form records it: the state after the change.
    audit(session, "beneficiary.checkin_plan", "beneficiary", beneficiary.id, {
        "lives_alone": bool(beneficiary.lives_alone), "plan": beneficiary.checkin_plan,
        "plan_by_staff": bool(beneficiary.checkin_plan_by_staff)})
    session.commit()
    return jsonify(listing.beneficiary_detail(session, services().pii, beneficiary))


@bp.post("/beneficiaries/<id:beneficiary_id>/bind-code")
@operation(
    "regenerateBindCode", "beneficiaries", 201, responses.BindCode, 404,
    path_params={"beneficiary_id": "The beneficiary's id."},
)
def new_bind_code(beneficiary_id: int):
    """Replace the beneficiary's bind code (a lost or leaked card); the old code stops working."""
    session = db_session()
    beneficiary = session.get(Beneficiary, beneficiary_id)
    if beneficiary is None:
        raise not_found(MSG_BENEFICIARY_NOT_FOUND.format(id=beneficiary_id))
    code = binding.regenerate_bind_code(session, beneficiary)
    beneficiary.updated_at = services().clock()
    audit(session, "beneficiary.bind_code", "beneficiary", beneficiary.id, {"regenerated": True})
    session.commit()
    return jsonify(beneficiary_id=beneficiary.id, code=code, qr_scene=binding.scene_for(code)), 201
