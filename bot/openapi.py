"""The OpenAPI 3.0.3 description of the admin API (bot/api.py), built as a plain dict."""

from __future__ import annotations

from enum import StrEnum

from handlers.services.listing import DEFAULT_PER_PAGE, MAX_PER_PAGE
from models.enums import (
    ActorKind,
    BeneficiaryCategory,
    EventKind,
    OutboxKind,
    OutboxStatus,
    RegionLevel,
    RequestCategory,
    RequestSource,
    RequestStatus,
    StaffRole,
    Urgency,
)

API_PREFIX = "/api/v1"

DESCRIPTION = """\
三直达 admin API: regions, staff, beneficiaries, service requests and the WeChat outbox.

Every operation except `GET /openapi.json` needs `Authorization: Bearer <ADMIN_API_TOKEN>`.

Errors are JSON `{"error", "message", "field"?}`; `message` is Simplified Chinese and never
repeats an ID number.

* 400: the body is not a JSON object (`field` is `body`).
* 401: missing or wrong token (`WWW-Authenticate: Bearer`).
* 404: an id in the path does not exist.
* 409: a unique value is taken (`field` names it: `code`, `staff_no`, `id_number`), or the
  target's state forbids the action (`active`).
* 413: the body is larger than 64 KiB.
* 422: a field or query parameter is invalid, including codes that name nothing
  (`field` names it).

Filters on codes (`parent_code`, `region_code`, `village_code`, `town_code`, `assignee`) that
match nothing give an empty list. Times are ISO 8601 with offset (UTC). Lists are
`{"items", "total", "page", "per_page"}`, newest first where it matters.
"""


def _ref(name: str) -> dict:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def _enum(values: type[StrEnum], description: str | None = None) -> dict:
    """A string schema limited to an enum's values."""
    schema: dict = {"type": "string", "enum": [v.value for v in values]}
    if description:
        schema["description"] = description
    return schema


def _string(description: str | None = None, *, nullable: bool = False, **extra) -> dict:
    """A string schema."""
    schema: dict = {"type": "string", **extra}
    if description:
        schema["description"] = description
    if nullable:
        schema["nullable"] = True
    return schema


def _time(nullable: bool = False) -> dict:
    """An ISO 8601 date-time string."""
    return _string(format="date-time", nullable=nullable)


def _object(properties: dict, required: list[str] | None = None, *, nullable: bool = False) -> dict:
    """An object schema."""
    schema: dict = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if nullable:
        schema["nullable"] = True
    return schema


def _page_of(item: str) -> dict:
    """The paginated list envelope around one item schema."""
    return _object(
        {
            "items": {"type": "array", "items": _ref(item)},
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
        },
        ["items", "total", "page", "per_page"],
    )


def _query(name: str, schema: dict, description: str) -> dict:
    """An optional query parameter."""
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _path_id(name: str, description: str) -> dict:
    """A required integer id in the path."""
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1},
            "description": description}


def _json(schema: dict, description: str) -> dict:
    """A JSON response with a schema."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str) -> dict:
    """References to the shared error responses (401 always included)."""
    return {code: {"$ref": f"#/components/responses/{_RESPONSE_NAMES[code]}"} for code in ("401", *codes)}


_RESPONSE_NAMES = {
    "400": "BadRequest",
    "401": "Unauthorized",
    "404": "NotFound",
    "409": "Conflict",
    "413": "TooLarge",
    "422": "Invalid",
}

PHONE_PATTERN = r"^(?:1[3-9]\d{9}|0\d{2,3}-\d{7,8})$"


def _schemas() -> dict:
    """Every component schema."""
    region_ref = _object({"code": _string(), "name": _string()}, ["code", "name"], nullable=True)
    contact = _object(
        {"staff_no": _string(), "name": _string(), "phone": _string()}, ["staff_no", "name", "phone"], nullable=True
    )
    return {
        "Error": _object(
            {
                "error": _string("Machine-readable kind: unauthorized, invalid, not_found, conflict …"),
                "message": _string("What went wrong, in Simplified Chinese."),
                "field": _string("The body field or query parameter at fault."),
            },
            ["error", "message"],
        ),
        "RegionRef": region_ref,
        "Contact": contact,
        "RegionCreate": _object(
            {
                "code": _string("行政区划代码, digits, unique.", pattern=r"^\d{1,20}$", maxLength=20),
                "name": _string(maxLength=64),
                "level": _enum(RegionLevel),
                "parent_code": _string("Required for town and village; must be empty for city.", maxLength=20),
                "is_community": {"type": "boolean", "default": False},
                "office_phone": _string(pattern=PHONE_PATTERN),
            },
            ["code", "name", "level"],
        ),
        "Region": _object(
            {
                "id": {"type": "integer"},
                "code": _string(),
                "name": _string(),
                "level": _enum(RegionLevel),
                "parent_code": _string(nullable=True),
                "is_community": {"type": "boolean"},
                "office_phone": _string(nullable=True),
                "created_at": _time(),
            },
            ["id", "code", "name", "level", "parent_code", "is_community", "created_at"],
        ),
        "RegionList": _object(
            {"items": {"type": "array", "items": _ref("Region")}, "total": {"type": "integer"}}, ["items", "total"]
        ),
        "StaffCreate": _object(
            {
                "staff_no": _string("工号; stored upper-case.", pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"),
                "name": _string(maxLength=64),
                "phone": _string("Mainland mobile or landline with area code.", pattern=PHONE_PATTERN),
                "role": _enum(StaffRole, "assistant: village; town_officer: town; city_supervisor, admin: city."),
                "region_code": _string(),
            },
            ["staff_no", "name", "phone", "role", "region_code"],
        ),
        "Staff": _object(
            {
                "id": {"type": "integer"},
                "staff_no": _string(),
                "name": _string(),
                "phone": _string(),
                "role": _enum(StaffRole),
                "region": _object(
                    {"code": _string(), "name": _string(), "level": _enum(RegionLevel)}, ["code", "name", "level"]
                ),
                "active": {"type": "boolean"},
                "wechat_bound": {"type": "boolean"},
                "created_at": _time(),
                "updated_at": _time(),
            },
            ["id", "staff_no", "name", "phone", "role", "region", "active", "wechat_bound"],
        ),
        "StaffPage": _page_of("Staff"),
        "Invite": _object(
            {
                "staff_no": _string(),
                "code": _string("One-time code; the staff member sends `绑定 <code>` in WeChat."),
                "expires_at": _time(),
            },
            ["staff_no", "code", "expires_at"],
        ),
        "BeneficiaryCreate": _object(
            {
                "name": _string(maxLength=64),
                "village_code": _string("Code of a village-level region."),
                "categories": {"type": "array", "minItems": 1, "items": _enum(BeneficiaryCategory)},
                "id_number": _string("18-character resident ID number (GB 11643 check digit); stored encrypted."),
                "phone": _string(pattern=PHONE_PATTERN),
                "address": _string(maxLength=255),
                "assistant_staff_no": _string("工号 of an active assistant."),
            },
            ["name", "village_code", "categories"],
        ),
        "Beneficiary": _object(
            {
                "id": {"type": "integer"},
                "name": _string(),
                "village": _ref("RegionRef"),
                "town": _ref("RegionRef"),
                "categories": {"type": "array", "items": _enum(BeneficiaryCategory)},
                "phone": _string(nullable=True),
                "address": _string(nullable=True),
                "id_number_masked": _string("e.g. 110***********002X; the full number is never returned.",
                                            nullable=True),
                "bind_code": _string(nullable=True),
                "active": {"type": "boolean"},
                "assistant": _ref("Contact"),
                "created_at": _time(),
            },
            ["id", "name", "village", "categories", "id_number_masked", "bind_code", "assistant"],
        ),
        "BeneficiaryPage": _page_of("Beneficiary"),
        "BindCode": _object(
            {
                "beneficiary_id": {"type": "integer"},
                "code": _string("The new bind code; the previous one stops working."),
                "qr_scene": _string("Scene string for a parametric QR code, `bind:<code>`."),
            },
            ["beneficiary_id", "code", "qr_scene"],
        ),
        "ServiceRequest": _object(
            {
                "id": {"type": "integer"},
                "status": _enum(RequestStatus),
                "category": _enum(RequestCategory),
                "urgency": _enum(Urgency),
                "source": _enum(RequestSource),
                "summary": _string(),
                "beneficiary": _object({"id": {"type": "integer"}, "name": _string()}, ["id", "name"]),
                "village": _ref("RegionRef"),
                "town": _ref("RegionRef"),
                "assignee": _ref("Contact"),
                "escalation_level": {"type": "integer"},
                "overdue": {"type": "boolean", "description": "Past its accept or resolve deadline while open."},
                "accept_deadline": _time(nullable=True),
                "resolve_deadline": _time(nullable=True),
                "created_at": _time(),
                "updated_at": _time(),
                "acknowledged_at": _time(nullable=True),
                "resolved_at": _time(nullable=True),
                "closed_at": _time(nullable=True),
                "cancelled_at": _time(nullable=True),
                "resolution_note": _string(nullable=True),
                "rating": {"type": "integer", "minimum": 1, "maximum": 5, "nullable": True},
                "rating_comment": _string(nullable=True),
            },
            ["id", "status", "category", "urgency", "beneficiary", "overdue", "created_at"],
        ),
        "RequestEvent": _object(
            {
                "id": {"type": "integer"},
                "kind": _enum(EventKind),
                "actor_kind": _enum(ActorKind),
                "actor_staff_id": {"type": "integer", "nullable": True},
                "body": _string(nullable=True),
                "data": {"type": "object", "nullable": True, "additionalProperties": True},
                "created_at": _time(),
            },
            ["id", "kind", "actor_kind", "created_at"],
        ),
        "ServiceRequestDetail": {
            "allOf": [
                _ref("ServiceRequest"),
                _object({"events": {"type": "array", "items": _ref("RequestEvent")}}, ["events"]),
            ]
        },
        "RequestPage": _page_of("ServiceRequest"),
        "OutboxMessage": _object(
            {
                "id": {"type": "integer"},
                "idempotency_key": _string(),
                "recipient_openid": _string(),
                "kind": _enum(OutboxKind),
                "status": _enum(OutboxStatus),
                "attempts": {"type": "integer"},
                "next_attempt_at": _time(),
                "last_error": _string(nullable=True),
                "created_at": _time(),
                "sent_at": _time(nullable=True),
            },
            ["id", "idempotency_key", "recipient_openid", "kind", "status", "attempts", "created_at"],
        ),
        "OutboxPage": _page_of("OutboxMessage"),
    }


def _responses() -> dict:
    """The shared error responses."""
    error = {"application/json": {"schema": _ref("Error")}}
    return {
        "BadRequest": {"description": "The body is not a JSON object.", "content": error},
        "Unauthorized": {
            "description": "Missing or wrong bearer token.",
            "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer …`"}},
            "content": error,
        },
        "NotFound": {"description": "No such id.", "content": error},
        "Conflict": {"description": "A unique value is taken; `field` names it.", "content": error},
        "TooLarge": {"description": "The body is larger than 64 KiB.", "content": error},
        "Invalid": {"description": "A field or query parameter is invalid; `field` names it.", "content": error},
    }


def _paths() -> dict:
    """Every path of the API, relative to the server URL."""
    pages = [{"$ref": "#/components/parameters/page"}, {"$ref": "#/components/parameters/per_page"}]
    write_errors = _errors("400", "409", "413", "422")
    return {
        "/regions": {
            "get": {
                "operationId": "listRegions",
                "tags": ["regions"],
                "summary": "List regions, ordered by code",
                "parameters": [
                    _query("level", _enum(RegionLevel), "Only this level."),
                    _query("parent_code", _string(), "Only the children of this region."),
                ],
                "responses": {"200": _json(_ref("RegionList"), "The regions."), **_errors("422")},
            },
            "post": {
                "operationId": "createRegion",
                "tags": ["regions"],
                "summary": "Add a city, a town under the city, or a village under a town",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("RegionCreate")}}},
                "responses": {"201": _json(_ref("Region"), "The new region."), **write_errors},
            },
        },
        "/staff": {
            "get": {
                "operationId": "listStaff",
                "tags": ["staff"],
                "summary": "List staff by 工号",
                "parameters": [
                    _query("role", _enum(StaffRole), "Only this role."),
                    _query("region_code", _string(), "Only staff of this region."),
                    _query("active", {"type": "boolean"}, "Only active (true) or inactive (false) staff."),
                    *pages,
                ],
                "responses": {"200": _json(_ref("StaffPage"), "A page of staff."), **_errors("422")},
            },
            "post": {
                "operationId": "createStaff",
                "tags": ["staff"],
                "summary": "Add a member of staff",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("StaffCreate")}}},
                "responses": {"201": _json(_ref("Staff"), "The new member of staff."), **write_errors},
            },
        },
        "/staff/{staff_id}/invite": {
            "parameters": [_path_id("staff_id", "The member of staff's id.")],
            "post": {
                "operationId": "inviteStaff",
                "tags": ["staff"],
                "summary": "Issue a one-time WeChat binding code (valid 7 days)",
                "responses": {"201": _json(_ref("Invite"), "The invite."), **_errors("404", "409")},
            },
        },
        "/beneficiaries": {
            "get": {
                "operationId": "listBeneficiaries",
                "tags": ["beneficiaries"],
                "summary": "List beneficiaries",
                "parameters": [
                    _query("village_code", _string(), "Only this village."),
                    _query("town_code", _string(), "Only villages of this town."),
                    _query("category", _enum(BeneficiaryCategory), "Only this category."),
                    *pages,
                ],
                "responses": {"200": _json(_ref("BeneficiaryPage"), "A page of beneficiaries."), **_errors("422")},
            },
            "post": {
                "operationId": "createBeneficiary",
                "tags": ["beneficiaries"],
                "summary": "Add a beneficiary, optionally assigning an assistant",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("BeneficiaryCreate")}},
                },
                "responses": {"201": _json(_ref("Beneficiary"), "The new beneficiary."), **write_errors},
            },
        },
        "/beneficiaries/{beneficiary_id}/bind-code": {
            "parameters": [_path_id("beneficiary_id", "The beneficiary's id.")],
            "post": {
                "operationId": "regenerateBindCode",
                "tags": ["beneficiaries"],
                "summary": "Replace the beneficiary's bind code (the old card stops working)",
                "responses": {"201": _json(_ref("BindCode"), "The new code."), **_errors("404")},
            },
        },
        "/requests": {
            "get": {
                "operationId": "listRequests",
                "tags": ["requests"],
                "summary": "List service requests, newest first",
                "parameters": [
                    _query("status", _enum(RequestStatus), "Only this status."),
                    _query("town_code", _string(), "Only requests raised in this town."),
                    _query("village_code", _string(), "Only requests raised in this village."),
                    _query("assignee", _string(), "Only requests assigned to this 工号."),
                    _query("urgency", _enum(Urgency), "Only this urgency."),
                    _query(
                        "overdue",
                        {"type": "boolean"},
                        "true: open past accept_deadline, or open/acknowledged past resolve_deadline; "
                        "false: all others.",
                    ),
                    *pages,
                ],
                "responses": {"200": _json(_ref("RequestPage"), "A page of requests."), **_errors("422")},
            },
        },
        "/requests/{request_id}": {
            "parameters": [_path_id("request_id", "The request's number.")],
            "get": {
                "operationId": "getRequest",
                "tags": ["requests"],
                "summary": "One service request with its timeline, oldest event first",
                "responses": {"200": _json(_ref("ServiceRequestDetail"), "The request."), **_errors("404")},
            },
        },
        "/outbox": {
            "get": {
                "operationId": "listOutbox",
                "tags": ["outbox"],
                "summary": "List WeChat pushes, newest first (payloads left out)",
                "parameters": [_query("status", _enum(OutboxStatus), "Only this status."), *pages],
                "responses": {"200": _json(_ref("OutboxPage"), "A page of outbox rows."), **_errors("422")},
            },
        },
        "/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "tags": ["meta"],
                "summary": "This document (no token needed)",
                "security": [],
                "responses": {"200": {"description": "The OpenAPI document.",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}},
            },
        },
    }


def openapi_document() -> dict:
    """The whole OpenAPI 3.0.3 document; paths are relative to the `/api/v1` server."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "三直达 admin API", "version": "1.0.0", "description": DESCRIPTION},
        "servers": [{"url": API_PREFIX}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": name} for name in ("regions", "staff", "beneficiaries", "requests", "outbox", "meta")],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "The ADMIN_API_TOKEN."}
            },
            "parameters": {
                "page": {"name": "page", "in": "query", "required": False,
                         "schema": {"type": "integer", "minimum": 1, "default": 1}, "description": "From 1."},
                "per_page": {"name": "per_page", "in": "query", "required": False,
                             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE,
                                        "default": DEFAULT_PER_PAGE},
                             "description": f"At most {MAX_PER_PAGE}."},
            },
            "schemas": _schemas(),
            "responses": _responses(),
        },
    }
