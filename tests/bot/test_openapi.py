"""The admin API's OpenAPI document: public, valid OpenAPI 3.1, complete, and in step with validation."""

from __future__ import annotations

import json
import re

import pytest

from bot.api.spec import DESCRIPTION
from services import listing

AUTH = {"Authorization": "Bearer test-admin-token"}
OPENAPI_RULE = "/api/v1/openapi.json"
METHODS = {"get", "post", "put", "patch", "delete"}

# One valid body per documented request body, with every documented field (checked below).
VALID_BODIES = {
    "/api/v1/regions": {"code": "420000", "name": "示范市", "level": "city", "parent_code": None,
                        "is_community": False, "office_phone": "0716-1234000"},
    "/api/v1/staff": {"staff_no": "A0001", "name": "李敏", "phone": "13800000000", "role": "admin",
                      "region_code": "420000"},
    "/api/v1/beneficiaries": {"name": "王秀英", "village_code": "420101", "categories": ["低保"],
                              "id_number": "11010519491231002X", "phone": "13912345678", "address": "东湾村",
                              "assistant_staff_no": "A0001", "lives_alone": True, "checkin_plan": "weekly"},
    "/api/v1/duty-shifts": {"staff_no": "C0001", "starts_at": "2026-12-01T17:30:00+08:00",
                            "ends_at": "2026-12-02T08:30:00+08:00"},
}
# The same for PUT bodies (every field is documented; the required ones are refused when absent).
VALID_PUT_BODIES = {
    "/api/v1/villages/{code}/officers": {"responsible_staff_no": "T0001", "deputy_staff_no": "T0002"},
    "/api/v1/departments/{code}": {"name": "市卫健委", "liaison_staff_no": "C0001", "deputy_staff_no": "C0002",
                                   "city_code": "420000"},
}


@pytest.fixture
def doc(client) -> dict:
    """The served document, fetched without a token."""
    response = client.get(OPENAPI_RULE)
    assert response.status_code == 200
    return json.loads(response.get_data(as_text=True))


def api_routes(app) -> dict[str, set[str]]:
    """Every /api/v1 route but the document's own, as an OpenAPI path template, with its methods."""
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.rule == OPENAPI_RULE:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routes.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    return routes


def operations(doc: dict):
    """(path, method, operation) for every documented operation."""
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def schema(doc: dict, node: dict) -> dict:
    """A schema with its $ref (if any) resolved inside the document."""
    while "$ref" in node:
        assert node["$ref"].startswith("#/"), node["$ref"]
        target = doc
        for part in node["$ref"][2:].split("/"):
            assert part in target, f"unresolved {node['$ref']}"
            target = target[part]
        node = target
    return node


def refs(node):
    """Every $ref in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def body_schema(doc: dict, path: str, method: str = "post") -> dict:
    """The resolved JSON request-body schema of `method` `path`."""
    operation = doc["paths"][path][method]
    return schema(doc, operation["requestBody"]["content"]["application/json"]["schema"])


def post(client, path: str, body: dict):
    """POST a JSON body with the admin token."""
    return client.post(path, json=body, headers=AUTH)


# --- the document itself ----------------------------------------------------------------------------


def test_the_document_is_public_openapi_3_1(doc):
    """No token needed; it validates as OpenAPI 3.1 and keeps the error-code summary as its description."""
    from openapi_spec_validator import validate

    validate(doc)
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["description"] == DESCRIPTION
    assert doc["info"]["title"] and doc["info"]["version"]


def test_every_api_route_and_method_is_documented_as_served(app, doc):
    """Each /api/v1 rule is a path with each of its methods; nothing outside /api/v1 is described."""
    routes = api_routes(app)
    assert len(routes) == 14
    for path, methods in routes.items():
        assert path in doc["paths"], path
        assert methods <= set(doc["paths"][path]), (path, methods)
    documented = {path: {m for m in item if m in METHODS} for path, item in doc["paths"].items()}
    assert documented == {**routes, OPENAPI_RULE: {"get"}}
    assert all(path.startswith("/api/v1/") for path in doc["paths"])


def test_the_document_is_well_formed(doc):
    """Refs resolve, path ids are declared, operation ids are unique, and only the document is public."""
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "The ADMIN_API_TOKEN."
    }
    assert doc["security"] == [{"bearerAuth": []}]
    for ref in set(refs(doc)):
        schema(doc, {"$ref": ref})
    operation_ids = []
    for path, method, operation in operations(doc):
        operation_ids.append(operation["operationId"])
        declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
        assert declared == set(re.findall(r"{([^}]+)}", path)), path
        public = operation.get("security") == []
        assert public == (path == OPENAPI_RULE)
        if not public:
            assert "401" in operation["responses"], (path, method)
        assert ("201" if method == "post" else "200") in operation["responses"], (path, method)
    assert len(operation_ids) == len(set(operation_ids))
    # Sensitive things the document must not promise.
    schemas = json.dumps(doc["components"]["schemas"])
    assert "password_hash" not in schemas and "payload" not in schemas


# --- the document and validation agree --------------------------------------------------------------


def test_the_staff_body_requires_what_validation_requires(client, doc):
    """POST /api/v1/staff documents its five required fields, and leaving out any one is a 422 naming it."""
    required = body_schema(doc, "/api/v1/staff")["required"]
    assert set(required) == {"staff_no", "name", "phone", "role", "region_code"}
    for field in required:
        body = {k: v for k, v in VALID_BODIES["/api/v1/staff"].items() if k != field}
        response = post(client, "/api/v1/staff", body)
        assert response.status_code == 422, (field, response.get_json())
        assert response.get_json()["field"] == field


@pytest.mark.parametrize("path", sorted(VALID_BODIES))
def test_every_request_body_matches_its_validation(client, doc, path):
    """Required fields are refused when absent, first one first; optional ones are not."""
    body_doc = body_schema(doc, path)
    valid = VALID_BODIES[path]
    assert set(body_doc["properties"]) == set(valid), "add the new field to VALID_BODIES"
    required = body_doc["required"]
    # Fields are checked in the documented order, so an empty body names the first required one.
    assert post(client, path, {}).get_json()["field"] == required[0]
    for field in body_doc["properties"]:
        response = post(client, path, {k: v for k, v in valid.items() if k != field})
        if field in required:
            assert (response.status_code, response.get_json()["field"]) == (422, field)
        else:
            assert response.get_json().get("field") != field, (field, response.get_json())


@pytest.mark.parametrize("path", sorted(VALID_PUT_BODIES))
def test_every_put_body_documents_its_fields_and_requirements(client, doc, path):
    """PUT bodies document every field they read; a required one left out is a 422 naming it."""
    body_doc = body_schema(doc, path, "put")
    valid = VALID_PUT_BODIES[path]
    assert set(body_doc["properties"]) == set(valid)
    target = path.replace("{code}", "420101" if "villages" in path else "health")
    for field in body_doc.get("required", []):
        response = client.put(target, json={k: v for k, v in valid.items() if k != field}, headers=AUTH)
        assert (response.status_code, response.get_json()["field"]) == (422, field)


@pytest.mark.parametrize("path", ["/api/v1/regions", "/api/v1/staff", "/api/v1/beneficiaries", "/api/v1/requests",
                                  "/api/v1/outbox", "/api/v1/departments", "/api/v1/duty-shifts"])
def test_documented_query_parameters_are_the_validated_ones(client, doc, path):
    """Every documented filter is accepted when empty; a typed one (enum, number, boolean) refuses nonsense."""
    parameters = [p for p in doc["paths"][path]["get"]["parameters"] if p["in"] == "query"]
    assert parameters
    for parameter in parameters:
        name = parameter["name"]
        assert client.get(path, query_string={name: ""}, headers=AUTH).status_code == 200, name
        options = schema(doc, parameter["schema"]).get("anyOf", [parameter["schema"]])
        typed = [schema(doc, option) for option in options if option.get("type") != "null"]
        if any("enum" in s or s.get("type") in {"integer", "boolean"} for s in typed):
            response = client.get(path, query_string={name: "nonsense"}, headers=AUTH)
            assert (response.status_code, response.get_json()["field"]) == (422, name)


def test_paging_limits_are_documented_as_enforced(client, doc):
    """per_page's documented maximum is the one validation applies."""
    per_page = next(p for p in doc["paths"]["/api/v1/staff"]["get"]["parameters"] if p["name"] == "per_page")
    maximum = per_page["schema"]["maximum"]
    assert maximum == listing.MAX_PER_PAGE
    assert client.get("/api/v1/staff", query_string={"per_page": maximum}, headers=AUTH).status_code == 200
    too_many = client.get("/api/v1/staff", query_string={"per_page": maximum + 1}, headers=AUTH)
    assert (too_many.status_code, too_many.get_json()["field"]) == (422, "per_page")


# --- responses are checked against their models -----------------------------------------------------


def test_a_response_that_drifts_from_its_model_fails_loudly_outside_production(client, monkeypatch):
    """Outside production a view answering off-model is a 500 (so tests catch it), never a pydantic dump."""
    monkeypatch.setattr(listing, "list_regions", lambda *_args, **_kwargs: [{"id": "not a number"}])
    response = client.get("/api/v1/regions", headers=AUTH)
    assert response.status_code == 500
    assert response.get_json() == {"error": "Internal Server Error", "message": "服务暂时出错，请稍后再试"}


def test_a_response_that_drifts_from_its_model_is_served_in_production(make_app, monkeypatch):
    """In production the answer goes out as the view made it; the mismatch is only logged."""
    monkeypatch.setattr(listing, "list_regions", lambda *_args, **_kwargs: [{"id": "not a number"}])
    client = make_app(env="production").test_client()
    response = client.get("/api/v1/regions", headers=AUTH)
    assert response.status_code == 200
    assert response.get_json() == {"items": [{"id": "not a number"}], "total": 1}
