"""The OpenAPI document at GET /v1/openapi.json, and a viewer for it at /v1/docs: Swagger
UI, served from the swagger-ui-py package's files (nothing from a CDN)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles


def _swagger_ui_dir() -> Path:
    """The swagger-ui-py package's static files, found without importing the package
    (its __init__ pulls in jinja2 and PyYAML, which serving the files does not need)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is missing (pip install swagger-ui-py)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


SWAGGER_UI_DIR = _swagger_ui_dir()
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hubbub API</title>
<link rel="stylesheet" href="/v1/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/v1/docs/assets/swagger-ui-bundle.js"></script>
<script src="/v1/docs/init.js"></script>
</body>
</html>
"""
# a file of its own, not an inline script, so a strict Content-Security-Policy allows it
_INIT = b"""window.ui = SwaggerUIBundle({ url: '/v1/openapi.json', dom_id: '#swagger-ui',
  deepLinking: true, presets: [SwaggerUIBundle.presets.apis] });
"""


def docs_routes(document: dict[str, Any]) -> list[BaseRoute]:
    encoded = msgspec.json.encode(document)

    async def openapi_json(request: Request) -> Response:
        return Response(encoded, media_type="application/json")

    async def page(request: Request) -> Response:
        return HTMLResponse(_PAGE)

    async def init(request: Request) -> Response:
        return Response(_INIT, media_type="text/javascript")

    return [
        Route("/v1/openapi.json", openapi_json, methods=["GET"]),
        Route("/v1/docs", page, methods=["GET"]),
        Route("/v1/docs/init.js", init, methods=["GET"]),
        Mount("/v1/docs/assets", StaticFiles(directory=SWAGGER_UI_DIR), name="swagger-ui"),
    ]
