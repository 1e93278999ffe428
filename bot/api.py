"""The admin JSON API under /api/v1: regions, staff, beneficiaries, requests and the outbox.

Every route but /api/v1/openapi.json needs `Authorization: Bearer <ADMIN_API_TOKEN>`.
Status codes: 400 when the body is not a JSON object, 422 when a field or query parameter is
invalid (the JSON names it in `field`), 404 for unknown ids in the path, 409 when a unique
value is taken. Writes add an audit entry and commit once, at the end of the view.
"""

from __future__ import annotations

import hmac
import logging
import re
from enum import StrEnum

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.app import db_session, services
from bot.openapi import openapi_document
from handlers.policy import id_number
from handlers.policy.validate import PHONE_PATTERN, REGION_CODE_PATTERN, STAFF_NO_PATTERN
from handlers.services import binding, listing, roster
from handlers.services.listing import MAX_PER_PAGE, PageRequest
from models import AuditEntry, Beneficiary, Staff
from models.enums import (
    ActorKind,
    BeneficiaryCategory,
    OutboxStatus,
    RegionLevel,
    RequestStatus,
    StaffRole,
    Urgency,
)

logger = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Admin payloads are a few fields; anything bigger is a mistake or an attack.
MAX_BODY_BYTES = 64 * 1024
AUDIT_LABEL = "admin-api"

# What the caller reads, in one place.
MSG_UNAUTHORIZED = "缺少或错误的访问令牌"
MSG_BODY_NOT_JSON = "请求体应为 JSON 对象"
MSG_REQUIRED = "{field} 不能为空"
MSG_NOT_TEXT = "{field} 应为文字"
MSG_TOO_LONG = "{field} 不能超过 {max_len} 个字符"
MSG_NOT_BOOL = "{field} 应为 true 或 false"
MSG_NOT_ONE_OF = "{field} 应为以下之一：{choices}"
MSG_BAD_PHONE = "{field} 应为11位手机号或带区号的座机号（如 0716-1234567）"
MSG_BAD_REGION_CODE = "区域代码应为数字（行政区划代码）"
MSG_BAD_STAFF_NO = "工号只能包含字母、数字和连字符，最长32位"
MSG_CITY_HAS_NO_PARENT = "市级区域不能填写上级区域"
MSG_PARENT_REQUIRED = "乡镇和村（社区）必须填写上级区域代码"
MSG_PARENT_UNKNOWN = "没有找到这个上级区域"
MSG_REGION_UNKNOWN = "没有找到这个区域"
MSG_VILLAGE_UNKNOWN = "没有找到这个村（社区）"
MSG_NOT_A_VILLAGE = "服务对象应属于村或社区"
MSG_CATEGORIES = "categories 应为非空列表，每项为：{choices}"
MSG_ASSISTANT_UNKNOWN = "没有找到这个工号"
MSG_PAGE = "page 应为不小于1的整数"
MSG_PER_PAGE = "per_page 应为1到{max}之间的整数"
MSG_CODE_TAKEN = "区域代码已存在"
MSG_STAFF_NO_TAKEN = "工号已存在"
MSG_ID_NUMBER_TAKEN = "该身份证号已登记在其他服务对象名下"
MSG_STAFF_INACTIVE = "该工作人员已停用，不能发放邀请码"
MSG_STAFF_NOT_FOUND = "没有找到编号 {id} 的工作人员"
MSG_BENEFICIARY_NOT_FOUND = "没有找到编号 {id} 的服务对象"
MSG_REQUEST_NOT_FOUND = "没有找到编号 {id} 的求助"
MSG_CONFLICT = "{field} 与已有记录重复"
MSG_SERVER_ERROR = "服务暂时出错，请稍后再试"

# (table, column) of each unique constraint a racing insert can hit -> the API field it came from.
UNIQUE_FIELDS = {
    ("regions", "code"): "code",
    ("staff", "staff_no"): "staff_no",
    ("beneficiaries", "id_number_hash"): "id_number",
    ("beneficiaries", "bind_code"): "bind_code",
}


class ApiError(Exception):
    """A refused API call: HTTP status, machine-readable error, Chinese message, the field at fault."""

    def __init__(self, status: int, error: str, message: str, field: str | None = None):
        """Keep the parts the error handler turns into the response."""
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.field = field


def invalid(field: str, message: str) -> ApiError:
    """A 422 naming the field that failed validation."""
    return ApiError(422, "invalid", message, field)


def conflict(field: str, message: str) -> ApiError:
    """A 409: the field's value is already taken."""
    return ApiError(409, "conflict", message, field)


def not_found(message: str) -> ApiError:
    """A 404 for an unknown id in the path."""
    return ApiError(404, "not_found", message)


# --- auth and errors --------------------------------------------------------------------------------


@bp.before_request
def authenticate():
    """Refuse every route but the OpenAPI document without the admin bearer token."""
    request.max_content_length = MAX_BODY_BYTES
    if request.endpoint == "api.openapi":
        return None
    expected = services().settings.admin_api_token
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    # An unset token must never mean "open": settings refuse it in production, this refuses it here.
    ok = bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode("utf-8"), expected.encode("utf-8")
    )
    if not ok:
        logger.warning("api=unauthorized path=%s remote=%s", request.path, request.remote_addr)
        raise ApiError(401, "unauthorized", MSG_UNAUTHORIZED)
    return None


@bp.errorhandler(ApiError)
def api_error(exc: ApiError):
    """Roll back anything the view did and answer with the error as JSON."""
    db_session().rollback()
    body = {"error": exc.error, "message": exc.message}
    if exc.field is not None:
        body["field"] = exc.field
    response = jsonify(body)
    response.status_code = exc.status
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="sanzhida-admin"'
    return response


@bp.errorhandler(IntegrityError)
def integrity_error(exc: IntegrityError):
    """A unique value taken by a concurrent write: 409 naming the field; anything else is a 500."""
    db_session().rollback()
    text = str(exc.orig)
    for (table, column), field in UNIQUE_FIELDS.items():
        # SQLite names `table.column`, PostgreSQL the constraint `uq_table_column`.
        if f"{table}.{column}" in text or f"uq_{table}_{column}" in text:
            logger.warning("api=conflict field=%s path=%s", field, request.path)
            return api_error(conflict(field, MSG_CONFLICT.format(field=field)))
    logger.exception("api=integrity_error path=%s", request.path)
    return jsonify(error="Internal Server Error", message=MSG_SERVER_ERROR), 500


# --- reading the request ----------------------------------------------------------------------------


def json_body() -> dict:
    """The request body as a JSON object, or a 400."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "invalid", MSG_BODY_NOT_JSON, "body")
    return data


def text_field(data: dict, field: str, *, max_len: int, required: bool = True) -> str | None:
    """A trimmed string field; blank counts as missing."""
    value = data.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise invalid(field, MSG_REQUIRED.format(field=field))
        return None
    if not isinstance(value, str):
        raise invalid(field, MSG_NOT_TEXT.format(field=field))
    value = value.strip()
    if len(value) > max_len:
        raise invalid(field, MSG_TOO_LONG.format(field=field, max_len=max_len))
    return value


def bool_field(data: dict, field: str, default: bool) -> bool:
    """A JSON boolean (not a string or number that looks like one)."""
    value = data.get(field, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(field, MSG_NOT_BOOL.format(field=field))
    return value


def choice(value: str | None, field: str, enum: type[StrEnum], *, required: bool = True) -> str | None:
    """A value of a fixed vocabulary."""
    if value is None or value == "":
        if required:
            raise invalid(field, MSG_REQUIRED.format(field=field))
        return None
    if not isinstance(value, str) or value not in {member.value for member in enum}:
        raise invalid(field, MSG_NOT_ONE_OF.format(field=field, choices="、".join(m.value for m in enum)))
    return value


def phone_field(data: dict, field: str, *, required: bool) -> str | None:
    """A mainland mobile or landline number, spaces removed."""
    value = text_field(data, field, max_len=32, required=required)
    if value is None:
        return None
    value = re.sub(r"\s+", "", value)
    if not PHONE_PATTERN.match(value):
        raise invalid(field, MSG_BAD_PHONE.format(field=field))
    return value


def region_code_field(data: dict, field: str, *, required: bool = True) -> str | None:
    """An administrative division code."""
    value = text_field(data, field, max_len=20, required=required)
    if value is not None and not REGION_CODE_PATTERN.match(value):
        raise invalid(field, MSG_BAD_REGION_CODE)
    return value


def staff_no_field(data: dict, field: str, *, required: bool = True) -> str | None:
    """A 工号, upper-cased as the chat commands look it up."""
    value = text_field(data, field, max_len=32, required=required)
    if value is None:
        return None
    value = value.upper()
    if not STAFF_NO_PATTERN.match(value):
        raise invalid(field, MSG_BAD_STAFF_NO)
    return value


def categories_field(data: dict) -> list[BeneficiaryCategory]:
    """One or more beneficiary categories, duplicates dropped."""
    value = data.get("categories")
    allowed = {c.value for c in BeneficiaryCategory}
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item in allowed for item in value)
    ):
        raise invalid("categories", MSG_CATEGORIES.format(choices="、".join(sorted(allowed))))
    return [BeneficiaryCategory(item) for item in dict.fromkeys(value)]


def arg(name: str) -> str | None:
    """A query parameter; empty counts as absent."""
    value = request.args.get(name, "").strip()
    return value or None


def bool_arg(name: str) -> bool | None:
    """A true/false query parameter, or None when absent."""
    value = arg(name)
    if value is None:
        return None
    lowered = value.lower()
    if lowered not in {"true", "false", "1", "0"}:
        raise invalid(name, MSG_NOT_BOOL.format(field=name))
    return lowered in {"true", "1"}


def page_args() -> PageRequest:
    """`page` (from 1) and `per_page` (1 to MAX_PER_PAGE) from the query string."""
    page, per_page = arg("page") or "1", arg("per_page") or str(listing.DEFAULT_PER_PAGE)
    if not page.isdigit() or int(page) < 1:
        raise invalid("page", MSG_PAGE)
    if not per_page.isdigit() or not 1 <= int(per_page) <= MAX_PER_PAGE:
        raise invalid("per_page", MSG_PER_PAGE.format(max=MAX_PER_PAGE))
    return PageRequest(page=int(page), per_page=int(per_page))


def audit(session: Session, action: str, target_type: str, target_id: int, detail: dict) -> None:
    """Record an admin write; `detail` must never hold ID numbers, phone numbers or codes."""
    session.add(
        AuditEntry(
            at=services().clock(),
            actor_kind=ActorKind.ADMIN_API.value,
            actor_label=AUDIT_LABEL,
            action=action,
            target_type=target_type,
            target_id=target_id,
            detail=detail,
            ip=request.remote_addr,
        )
    )
    logger.info("api=%s target=%s:%s", action, target_type, target_id)


# --- regions ----------------------------------------------------------------------------------------


@bp.post("/regions")
def create_region():
    """Add a city, a town under the city, or a village/community under a town."""
    data = json_body()
    code = region_code_field(data, "code")
    name = text_field(data, "name", max_len=64)
    level = RegionLevel(choice(data.get("level"), "level", RegionLevel))
    parent_code = region_code_field(data, "parent_code", required=False)
    is_community = bool_field(data, "is_community", default=False)
    office_phone = phone_field(data, "office_phone", required=False)
    if level is RegionLevel.CITY and parent_code is not None:
        raise invalid("parent_code", MSG_CITY_HAS_NO_PARENT)
    if level is not RegionLevel.CITY and parent_code is None:
        raise invalid("parent_code", MSG_PARENT_REQUIRED)
    session = db_session()
    parent = None
    if parent_code is not None:
        parent = listing.region_by_code(session, parent_code)
        if parent is None:
            raise invalid("parent_code", MSG_PARENT_UNKNOWN)
    if listing.region_by_code(session, code) is not None:
        raise conflict("code", MSG_CODE_TAKEN)
    try:
        region = roster.create_region(
            session, code=code, name=name, level=level, parent=parent, now=services().clock(),
            is_community=is_community, office_phone=office_phone,
        )
    except roster.RosterError as exc:
        # The only rule left to the roster is which level may sit under which.
        raise invalid("parent_code", str(exc)) from None
    session.flush()
    audit(session, "region.create", "region", region.id, {"code": code, "level": level.value})
    session.commit()
    return jsonify(listing.region_view(region)), 201


@bp.get("/regions")
def list_regions():
    """Regions, optionally of one level or under one parent."""
    level = choice(arg("level"), "level", RegionLevel, required=False)
    items = listing.list_regions(db_session(), level=level, parent_code=arg("parent_code"))
    return jsonify(items=items, total=len(items))


# --- staff ------------------------------------------------------------------------------------------


@bp.post("/staff")
def create_staff():
    """Add a member of staff in a region matching their role."""
    data = json_body()
    staff_no = staff_no_field(data, "staff_no")
    name = text_field(data, "name", max_len=64)
    phone = phone_field(data, "phone", required=True)
    role = StaffRole(choice(data.get("role"), "role", StaffRole))
    region_code = region_code_field(data, "region_code")
    session = db_session()
    region = listing.region_by_code(session, region_code)
    if region is None:
        raise invalid("region_code", MSG_REGION_UNKNOWN)
    if listing.staff_by_no(session, staff_no) is not None:
        raise conflict("staff_no", MSG_STAFF_NO_TAKEN)
    try:
        staff = roster.create_staff(
            session, staff_no=staff_no, name=name, phone=phone, role=role, region=region, now=services().clock()
        )
    except roster.RosterError as exc:
        raise invalid("region_code", str(exc)) from None
    session.flush()
    audit(session, "staff.create", "staff", staff.id, {"staff_no": staff_no, "role": role.value,
                                                       "region_code": region_code})
    session.commit()
    return jsonify(listing.staff_view(staff)), 201


@bp.get("/staff")
def list_staff():
    """Staff by role, region and whether active, a page at a time."""
    page = listing.list_staff(
        db_session(),
        page_args(),
        role=choice(arg("role"), "role", StaffRole, required=False),
        region_code=arg("region_code"),
        active=bool_arg("active"),
    )
    return jsonify(page.as_dict())


@bp.post("/staff/<int:staff_id>/invite")
def invite_staff(staff_id: int):
    """A one-time code with which the member of staff binds their WeChat account."""
    session = db_session()
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise not_found(MSG_STAFF_NOT_FOUND.format(id=staff_id))
    if not staff.active:
        raise conflict("active", MSG_STAFF_INACTIVE)
    code, expires = binding.issue_invite(session, services().pii, staff, services().clock())
    # The code itself is a credential: only its hash is stored, and the audit omits it.
    audit(session, "staff.invite", "staff", staff.id, {"staff_no": staff.staff_no,
                                                       "expires_at": listing.iso(expires)})
    session.commit()
    return jsonify(staff_no=staff.staff_no, code=code, expires_at=listing.iso(expires)), 201


# --- beneficiaries ----------------------------------------------------------------------------------


@bp.post("/beneficiaries")
def create_beneficiary():
    """Add a beneficiary in a village, with a validated, encrypted ID number and an assistant."""
    data = json_body()
    name = text_field(data, "name", max_len=64)
    village_code = region_code_field(data, "village_code")
    categories = categories_field(data)
    number = text_field(data, "id_number", max_len=32, required=False)
    if number is not None:
        error = id_number.validation_error(number)
        if error:
            # The message describes what is wrong without repeating the number.
            raise invalid("id_number", error)
    phone = phone_field(data, "phone", required=False)
    address = text_field(data, "address", max_len=255, required=False)
    assistant_no = staff_no_field(data, "assistant_staff_no", required=False)
    session, pii = db_session(), services().pii
    now = services().clock()
    village = listing.region_by_code(session, village_code)
    if village is None:
        raise invalid("village_code", MSG_VILLAGE_UNKNOWN)
    if village.level != RegionLevel.VILLAGE.value:
        raise invalid("village_code", MSG_NOT_A_VILLAGE)
    assistant = None
    if assistant_no is not None:
        assistant = listing.staff_by_no(session, assistant_no)
        if assistant is None:
            raise invalid("assistant_staff_no", MSG_ASSISTANT_UNKNOWN)
    if number is not None and listing.beneficiary_with_id_number(session, pii, number) is not None:
        raise conflict("id_number", MSG_ID_NUMBER_TAKEN)
    beneficiary = roster.create_beneficiary(
        session, pii, name=name, village=village, categories=categories, now=now,
        id_no=number, phone=phone, address=address,
    )
    if assistant is not None:
        try:
            roster.assign_assistant(session, beneficiary, assistant, now, reason="admin-api")
        except roster.RosterError as exc:
            raise invalid("assistant_staff_no", str(exc)) from None
    session.flush()
    audit(session, "beneficiary.create", "beneficiary", beneficiary.id, {
        "village_code": village_code,
        "categories": [c.value for c in categories],
        "has_id_number": number is not None,
        "assistant_staff_no": assistant_no,
    })
    session.commit()
    return jsonify(listing.beneficiary_detail(session, pii, beneficiary)), 201


@bp.get("/beneficiaries")
def list_beneficiaries():
    """Beneficiaries by village, town and category, a page at a time."""
    page = listing.list_beneficiaries(
        db_session(),
        services().pii,
        page_args(),
        village_code=arg("village_code"),
        town_code=arg("town_code"),
        category=choice(arg("category"), "category", BeneficiaryCategory, required=False),
    )
    return jsonify(page.as_dict())


@bp.post("/beneficiaries/<int:beneficiary_id>/bind-code")
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


# --- service requests and the outbox ----------------------------------------------------------------


@bp.get("/requests")
def list_requests():
    """Service requests by status, place, assignee, urgency and lateness, newest first."""
    assignee = arg("assignee")
    page = listing.list_requests(
        db_session(),
        services().clock(),
        page_args(),
        status=choice(arg("status"), "status", RequestStatus, required=False),
        town_code=arg("town_code"),
        village_code=arg("village_code"),
        assignee_no=assignee.upper() if assignee else None,
        urgency=choice(arg("urgency"), "urgency", Urgency, required=False),
        overdue=bool_arg("overdue"),
    )
    return jsonify(page.as_dict())


@bp.get("/requests/<int:request_id>")
def get_request(request_id: int):
    """One service request with its timeline."""
    detail = listing.request_detail(db_session(), request_id, services().clock())
    if detail is None:
        raise not_found(MSG_REQUEST_NOT_FOUND.format(id=request_id))
    return jsonify(detail)


@bp.get("/outbox")
def list_outbox():
    """Pushes waiting, in flight, sent or dead, newest first; payloads are left out."""
    page = listing.list_outbox(
        db_session(), page_args(), status=choice(arg("status"), "status", OutboxStatus, required=False)
    )
    return jsonify(page.as_dict())


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.0.3 description of this API (public: it holds no data)."""
    return jsonify(openapi_document())
