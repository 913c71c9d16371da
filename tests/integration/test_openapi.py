"""The OpenAPI document (GET /v1/openapi.json) is generated from the route table, so it
cannot drift: every route of the app is documented and nothing else is, the document is
valid OpenAPI 3.1, and a running server answers each operation with a status the document
lists for it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from openapi_spec_validator import validate
from starlette.routing import Route

from hubbub.api.openapi import openapi_document
from hubbub.app import Config, build_app
from tests.support import ServerProcess

# the document itself, and the web client's service worker (not part of the API)
UNDOCUMENTED = {"/v1/openapi.json", "/v1/docs", "/v1/docs/init.js", "/sw.js", "/{path:webpath}"}


def _documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops}


def test_every_route_is_documented_and_the_document_is_valid(tmp_path: Path) -> None:
    app, node = build_app(Config(data_dir=tmp_path))
    routes = {
        (method, r.path)
        for r in app.routes
        if isinstance(r, Route) and r.path not in UNDOCUMENTED
        for method in (r.methods or ()) - {"HEAD"}
    }
    doc = openapi_document(node.endpoints)
    assert routes == _documented(doc)
    validate(doc)  # raises on an invalid OpenAPI 3.1 document
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op["summary"] and op["responses"], path
            params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert params == set(re.findall(r"{(\w+)}", path)), path


def test_a_running_server_answers_every_operation_as_documented(server: ServerProcess) -> None:
    doc = httpx.get(server.url + "/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    with httpx.Client(base_url=server.url) as http:
        for path, ops in doc["paths"].items():
            url = re.sub(r"{\w+}", "1", path)
            for method, op in ops.items():
                body = {} if "requestBody" in op else None
                r = http.request(method.upper(), url, json=body)
                assert str(r.status_code) in op["responses"], (method, path, r.status_code)
                if r.status_code >= 400:
                    assert set(r.json()["error"]) == {"code", "message"}


def test_the_viewer_and_its_assets_are_served_locally(server: ServerProcess) -> None:
    page = httpx.get(server.url + "/v1/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assets = re.findall(r'(?:src|href)="(/v1/docs/[^"]+)"', page.text)
    assert len(assets) == 3
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page.text)  # no CDN
    for asset in assets:
        assert httpx.get(server.url + asset).status_code == 200, asset
