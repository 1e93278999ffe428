"""The spectree instance that validates the admin API's input and generates its OpenAPI document."""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import current_app, request
from pydantic import ValidationError
from spectree import Response, SecurityScheme, SecuritySchemeData, SpecTree
from spectree.plugins.flask_plugin import FlaskPlugin
from spectree.plugins.werkzeug_utils import werkzeug_parse_rule

from bot.api.errors import MSG_INVALID, MSG_REQUIRED, ApiError, bad_body, invalid
from bot.api.responses import ErrorBody
from bot.deps import services
from bot.inputs import MAX_ID

logger = logging.getLogger(__name__)

DESCRIPTION = """\
三直达 admin API: regions, staff, beneficiaries, service requests, the WeChat outbox, and the 包联
chain (each village's responsible town officers, the city's departments and their liaisons, the
duty rota).

Every operation except `GET /api/v1/openapi.json` needs `Authorization: Bearer <ADMIN_API_TOKEN>`.

Errors are JSON `{"error", "message", "field"?}`; `message` is Simplified Chinese and never
repeats an ID number.

* 400: the body is not a JSON object (`field` is `body`).
* 401: missing or wrong token (`WWW-Authenticate: Bearer`).
* 404: an id or code in the path does not exist.
* 409: a unique value is taken (`field` names it: `code`, `staff_no`, `id_number`), the
  target's state forbids the action (`active`), or a duty shift overlaps another of the same
  person (`starts_at`).
* 413: the body is larger than 64 KiB.
* 422: a field or query parameter is invalid, including codes that name nothing
  (`field` names it).

Filters on codes (`parent_code`, `region_code`, `village_code`, `town_code`, `assignee`) that
match nothing give an empty list. Times are ISO 8601 with offset (UTC). Lists are
`{"items", "total", "page", "per_page"}`, newest first where it matters.
"""

ERROR_DESCRIPTIONS = {
    400: "The body is not a JSON object.",
    401: "Missing or wrong bearer token.",
    404: "No such id or code.",
    409: "A unique value is taken, or the target's state forbids the action; `field` names it.",
    413: "The body is larger than 64 KiB.",
    422: "A field or query parameter is invalid; `field` names it.",
}


class _Plugin(FlaskPlugin):
    """spectree's Flask plugin, lenient about response shapes in production."""

    def parse_path(self, route, path_parameter_descriptions):
        """spectree's path parameters, an `<id:…>` documented as the integers it accepts."""
        path, parameters = super().parse_path(route, path_parameter_descriptions)
        ids = {name for converter, _args, name in werkzeug_parse_rule(str(route)) if converter == "id"}
        for parameter in parameters:
            if parameter["name"] in ids:
                parameter["schema"] = {"type": "integer", "format": "int32", "minimum": 1, "maximum": MAX_ID}
        return path, parameters

    def validate_response(self, resp, resp_model, skip_validation, force_resp_serialize):
        """Check the view's answer against its response model; a mismatch is a bug in the model or the view."""
        response, error = super().validate_response(resp, resp_model, skip_validation, force_resp_serialize)
        if error is None:
            return response, None
        # Only where and what kind, never the values: they may be phone or ID numbers.
        where = [(e["loc"], e["type"]) for e in error.errors(include_input=False)]
        if services().settings.is_production:
            # A model that lags behind the view must not turn a good answer into a 500.
            logger.error("api=response_mismatch path=%s errors=%s", request.path, where)
            return super().validate_response(resp, resp_model, True, force_resp_serialize)[0], None
        raise RuntimeError(f"response of {request.path} does not match its model: {where}")


def first_error(error: ValidationError) -> ApiError:
    """The 422 for the first failing field (pydantic reports them in declaration order)."""
    detail = error.errors()[0]
    context = detail.get("ctx") or {}
    field = context.get("field") or (str(detail["loc"][0]) if detail["loc"] else "body")
    if "message" in context:
        return invalid(field, context["message"])
    if detail["type"] == "missing":
        return invalid(field, MSG_REQUIRED.format(field=field))
    return invalid(field, MSG_INVALID.format(field=field))


def _refuse_invalid_input(req, _response, error: ValidationError | None, _instance, _adapter) -> None:
    """spectree's before-hook: a 400 for a body that is not a JSON object, else a 422 for a bad field."""
    metadata = spec.get_function_metadata(current_app.view_functions[req.endpoint])
    # spectree validates a missing or broken body as {}; the API has always refused it outright.
    if metadata is not None and metadata.json is not None and not isinstance(req.get_json(silent=True), dict):
        raise bad_body()
    if error is not None:
        raise first_error(error)


spec = SpecTree(
    "flask",
    backend=_Plugin,
    before=_refuse_invalid_input,
    title="三直达 admin API",
    version="1.0.0",
    description=DESCRIPTION,
    # Only views declared with `operation` below; the webhook and office pages are not this API.
    mode="strict",
    # Plain names: the models live in one package, so there is nothing to disambiguate.
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
    validation_error_model=ErrorBody,
    security_schemes=[
        SecurityScheme(
            name="bearerAuth",
            data=SecuritySchemeData(type="http", scheme="bearer", description="The ADMIN_API_TOKEN."),
        )
    ],
    security={"bearerAuth": []},
)


def operation(
    operation_id: str,
    tag: str,
    status: int,
    model: type,
    *errors: int,
    public: bool = False,
    path_params: dict[str, str] | None = None,
):
    """Declare a view to spectree: its success model, the errors it can answer besides 401, its path ids."""
    responses: dict[str, Any] = {f"HTTP_{status}": model}
    for code in errors if public else (401, *errors):
        responses[f"HTTP_{code}"] = (ErrorBody, ERROR_DESCRIPTIONS[code])
    return spec.validate(
        resp=Response(**responses),
        tags=[tag],
        operation_id=operation_id,
        path_parameter_descriptions=path_params,
        security={} if public else None,
        # spectree documents its validation-error status on every route; a route that takes no
        # input names a status it already documents, so no 422 appears that it cannot answer.
        validation_error_status=422 if 422 in errors else status,
    )


_document_lock = threading.Lock()


def document() -> dict:
    """The OpenAPI document, generated once from the app's routes and their models."""
    # spectree builds it lazily and rewrites its model cache while doing so: one builder at a time.
    with _document_lock:
        return spec.spec
