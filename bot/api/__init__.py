"""The admin JSON API under /api/v1: regions, staff, beneficiaries, requests, the outbox and the 包联 chain.

Every route but /api/v1/openapi.json needs `Authorization: Bearer <ADMIN_API_TOKEN>`.
Status codes: 400 when the body is not a JSON object, 422 when a field or query parameter is
invalid (the JSON names it in `field`), 404 for unknown ids in the path, 409 when a unique
value is taken. Request bodies and query strings are pydantic models (bot.api.schemas) that
spectree validates; the OpenAPI document is generated from the same models. Writes add an
audit entry and commit once, at the end of the view.
"""

from __future__ import annotations

import hmac
import logging

from flask import jsonify, request
from sqlalchemy.exc import IntegrityError

# Importing the resource modules adds their routes to the blueprint.
from bot.api import beneficiaries, regions, requests, responsibility, staff  # noqa: F401
from bot.api.blueprint import bp
from bot.api.errors import MSG_CONFLICT, MSG_SERVER_ERROR, MSG_UNAUTHORIZED, MSG_UNREADABLE, ApiError, conflict, invalid
from bot.api.fields import unencodable_field
from bot.api.responses import OpenApiDocument
from bot.api.spec import document, operation
from bot.deps import db_session, services

__all__ = ["bp"]

logger = logging.getLogger(__name__)

# Admin payloads are a few fields; anything bigger is a mistake or an attack.
MAX_BODY_BYTES = 64 * 1024

# (table, column) of each unique constraint a racing insert can hit -> the API field it came from.
UNIQUE_FIELDS = {
    ("regions", "code"): "code",
    ("staff", "staff_no"): "staff_no",
    ("beneficiaries", "id_number_hash"): "id_number",
    ("beneficiaries", "bind_code"): "bind_code",
}


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


@bp.before_request
def refuse_unencodable_body():
    """A 422 for a JSON body with half a UTF-16 pair (`"\\ud800"`): no reply or row could hold it."""
    field = unencodable_field(request.get_json(silent=True))
    if field is not None:
        raise invalid(field, MSG_UNREADABLE.format(field=field))


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


@bp.get("/openapi.json")
@operation("getOpenApi", "meta", 200, OpenApiDocument, public=True)
def openapi():
    """This OpenAPI 3.1 document, generated from the validating models (no token needed)."""
    return jsonify(document())
