"""The OpenAPI 3.1 document, generated from the route table and the schema types (so it
cannot drift from the routes: tests/integration/test_openapi.py also checks it against
the app's routes and against a running server)."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from hubbub import __version__
from hubbub.api.http import JSON, Endpoint
from hubbub.api.schemas import ID_PATTERN, RULES_ACROSS_FIELDS, ErrorOut
from hubbub.core.errors import HTTP_STATUS, ErrorCode

_PATH_PARAM = re.compile(r"{(\w+)}")
_REF = "#/components/schemas/{name}"
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "The request is malformed or breaks a rule (`bad_request`)",
    401: "No token, or an unknown or logged-out one (`unauthorized`)",
    403: "Not allowed (`forbidden`)",
    404: "Not found, or not visible to the caller (`not_found`)",
    409: "Conflicts with the current state (`conflict`, `group_full`)",
    408: "The request's head or body did not arrive in time (`bad_request`)",
    413: "Too large (`too_large`)",
    206: "Partial Content (the `Range` asked for)",
    304: "Not Modified (`If-None-Match` names the current ETag)",
    416: "Range Not Satisfiable (`Content-Range: bytes */size` gives the size)",
    415: "The body's type is not accepted: not Content-Type: application/json"
    " (`bad_request`), or an upload whose bytes are not what it claims (`unsupported_media`)",
    429: "Rate limited (`rate_limited`); see Retry-After",
    431: "The request line and headers are too large (`too_large`)",
    500: "Server error (`internal`)",
    503: "Storage or the cluster is unavailable (`unavailable`); retry later",
}


def openapi_document(endpoints: list[Endpoint]) -> dict[str, Any]:
    types = sorted(
        {t for e in endpoints for t in (e.body, e.answer) if _is_struct(t)} | {ErrorOut},
        key=lambda t: str(getattr(t, "__name__", "")),
    )
    _, components = msgspec.json.schema_components(types, ref_template=_REF)
    for name, rewrite in RULES_ACROSS_FIELDS.items():
        if name in components:
            components[name] = rewrite(components[name])
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Hubbub",
            "version": __version__,
            "description": "The Hubbub chat service's REST API. The WebSocket protocol "
            "(GET /v1/ws) and the rules behind both are in docs/protocol.md.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "A device token"}
            },
        },
    }


def _is_struct(t: object) -> bool:
    return isinstance(t, type) and issubclass(t, msgspec.Struct)


def _operation(e: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{e.tag}_{e.handler.__name__}",
        "summary": e.summary,
        "tags": [e.tag],
    }
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": ID_PATTERN},
        }
        for name in _PATH_PARAM.findall(e.path)
    ] + [
        {
            "name": q.name,
            "in": "query",
            "required": q.required,
            "description": q.description,
            "schema": q.schema,
        }
        for q in e.query
    ]
    if parameters:
        op["parameters"] = parameters
    if e.authenticated:
        op["security"] = [{"bearer": []}]
    if e.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": {"$ref": _REF.format(name=e.body.__name__)}}},
        }
    if e.raw_body:
        op["requestBody"] = {
            "required": False,  # no body is an empty file
            "description": "The file's bytes; Content-Type is a hint (the bytes decide)",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    op["responses"] = {str(e.status if e.answer is not None else 204): _success(e)}
    for status in e.more_statuses:
        op["responses"][str(status)] = {"description": _STATUS_TEXT[status]}
    # any request may be cut off by the edge: a head too large (431), too slow (408)
    statuses = (
        {HTTP_STATUS[code] for code in _errors(e)} | {408, 431} | ({415} if e.body else set())
    )
    for status in sorted(statuses):
        op["responses"][str(status)] = {
            "description": _STATUS_TEXT[status],
            "content": {JSON: {"schema": {"$ref": _REF.format(name="ErrorOut")}}},
        }
    return op


def _success(e: Endpoint) -> dict[str, Any]:
    if e.answer is None:
        return {"description": _STATUS_TEXT[204]}
    if _is_struct(e.answer):
        schema: dict[str, Any] = {"$ref": _REF.format(name=e.answer.__name__)}
    elif e.answer is bytes:
        schema = {"type": "string", "format": "binary"}
    else:
        schema = {"type": "string"}
    return {
        "description": _STATUS_TEXT.get(e.status, "OK"),
        "content": {e.media_type: {"schema": schema}},
    }


def _errors(e: Endpoint) -> set[ErrorCode]:
    """What the endpoint may answer: its own errors and those of every endpoint of its
    kind (a body can be malformed or too large, a token unknown, storage away)."""
    # any request may meet a rate limit (or the per-address connection cap)
    codes: set[ErrorCode] = {*e.errors, "internal", "rate_limited"}
    if e.path.startswith("/v1/") and e.path != "/v1/discovery":
        codes.add("unavailable")
    if e.body is not None or e.raw_body:
        codes |= {"bad_request", "too_large"}
    if e.query or _PATH_PARAM.search(e.path):
        codes.add("bad_request")
    if e.authenticated:
        codes.add("unauthorized")
    return codes
