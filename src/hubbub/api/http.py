"""The REST edge's machinery. An `Endpoint` is one row of the route table (api/routes.py):
method, path, handler, and the types of its body and answer. From a row this module
makes the Starlette route (authenticate, decode the body once into its struct, call the
handler, encode its answer) and api/openapi.py makes the OpenAPI operation, so the two
cannot disagree.

Every refusal is `{"error": {"code", "message"}}` with its status; an unexpected
exception is logged and answered `internal` (500) without details.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from hubbub.core.addresses import TrustedProxies
from hubbub.core.decoding import explain
from hubbub.core.errors import ErrorCode, HubbubError, bad_request
from hubbub.core.frames import parse_id
from hubbub.core.model import Device

log = logging.getLogger("hubbub.api")
# 100,000 astral characters written as JSON escapes (\ud83d\ude42) take 1.2 MB
MAX_BODY_BYTES = 2 << 20
JSON = "application/json"
_encode = msgspec.json.Encoder().encode
Authenticate = Callable[[str], Awaitable[Device | None]]
CountRefusal = Callable[[str], None]


class Call:
    """One request as a handler sees it: the caller's device, the decoded body, and the
    path and query parameters."""

    __slots__ = ("_device", "_trusted", "body", "request")

    def __init__(
        self, request: Request, device: Device | None, body: Any, trusted: TrustedProxies
    ) -> None:
        self.request = request
        self._device = device
        self._trusted = trusted
        self.body = body

    @property
    def address(self) -> str:
        """The client's address (X-Forwarded-For counts only from a trusted proxy)."""
        peer = self.request.client.host if self.request.client else "unknown"
        return self._trusted.client_address(peer, self.request.headers.get("x-forwarded-for"))

    @property
    def device(self) -> Device:
        """The authenticated caller (only on endpoints that require authentication)."""
        if self._device is None:
            raise HubbubError("unauthorized", "send Authorization: Bearer <token>")
        return self._device

    @property
    def user_id(self) -> int:
        return self.device.user_id

    def path_id(self, name: str) -> int:
        return parse_id(self.request.path_params[name], name)

    def query(self, name: str) -> str | None:
        return self.request.query_params.get(name)


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Query:
    """A query parameter, for the OpenAPI document."""

    name: str
    description: str
    schema: dict[str, Any]
    required: bool = False


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type | None = None  # a msgspec Struct the JSON body decodes into
    answer: type | None = None  # what the handler returns (encoded as JSON); None: 204
    status: int = 200
    authenticated: bool = True
    errors: tuple[ErrorCode, ...] = ()  # beyond those every endpoint of its kind may give
    query: tuple[Query, ...] = ()
    media_type: str = JSON  # of the answer
    raw_body: bool = False  # the body is bytes the handler streams itself (an upload)
    more_statuses: tuple[int, ...] = ()  # answers beyond `status` and the errors (206, 304)


def json_response(data: Any, status: int = 200) -> Response:
    return Response(_encode(data), status, media_type=JSON)


def error_response(
    code: str, message: str, status: int, retry_after_ms: int | None = None
) -> Response:
    response = json_response({"error": {"code": code, "message": message}}, status)
    if retry_after_ms is not None:  # whole seconds, rounded up (RFC 9110 Retry-After)
        response.headers["retry-after"] = str(max(1, -(-retry_after_ms // 1000)))
    return response


async def read_body(request: Request, decoder: msgspec.json.Decoder[Any]) -> Any:
    """The JSON body decoded into its struct; bounded in size while it is read. Only a
    JSON content type (or none) is read as JSON: a form or text/plain body is not JSON,
    and a cross-site form can send nothing else."""
    content_type = request.headers.get("content-type")
    if content_type is not None and not is_json(content_type):
        raise HubbubError(
            "bad_request", "send the body as Content-Type: application/json", status=415
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HubbubError("too_large", f"request body over {MAX_BODY_BYTES} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HubbubError("too_large", f"request body over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return decode_body(b"".join(chunks), decoder)


def is_json(content_type: str) -> bool:
    """application/json or application/*+json, with or without parameters."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == JSON or (media.startswith("application/") and media.endswith("+json"))


def decode_body(raw: bytes, decoder: msgspec.json.Decoder[Any]) -> Any:
    """One msgspec pass: valid JSON of the struct's shape, or bad_request saying why."""
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as e:
        raise bad_request(explain(e, "the request body")) from None
    except msgspec.DecodeError:
        raise bad_request("the request body is not valid JSON") from None
    except RecursionError:
        raise bad_request("the request body is nested too deeply") from None


def to_routes(
    endpoints: list[Endpoint], authenticate: Authenticate, trusted: TrustedProxies
) -> list[Route]:
    """One Starlette route per path, serving each of its methods (so a 405 lists them all
    in `Allow`), in the table's order."""
    by_path: dict[str, dict[str, Callable[[Request], Awaitable[Response]]]] = {}
    for e in endpoints:
        by_path.setdefault(e.path, {})[e.method] = _runner(e, authenticate, trusted)
    # a literal path is not a value of a parameter route's parameter: PATCH
    # /v1/conversations/direct is a wrong method of that path (405), not a PATCH of
    # /v1/conversations/{conversation_id}
    literal = {
        path: ", ".join(sorted({*runners, *(["HEAD"] if "GET" in runners else [])}))
        for path, runners in by_path.items()
        if "{" not in path
    }
    return [_path_route(path, runners, literal) for path, runners in by_path.items()]


def _path_route(
    path: str,
    runners: dict[str, Callable[[Request], Awaitable[Response]]],
    literal: dict[str, str],
) -> Route:
    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        allow = literal.get(request.url.path) if "{" in path else None
        if allow is not None:
            raise HTTPException(405, headers={"Allow": allow})
        return await runners[method](request)

    return Route(path, dispatch, methods=list(runners))


def _runner(
    endpoint: Endpoint, authenticate: Authenticate, trusted: TrustedProxies
) -> Callable[[Request], Awaitable[Response]]:
    decoder: msgspec.json.Decoder[Any] | None = (
        msgspec.json.Decoder(endpoint.body) if endpoint.body is not None else None
    )

    async def run(request: Request) -> Response:
        device = await _bearer(request, authenticate) if endpoint.authenticated else None
        body = await read_body(request, decoder) if decoder is not None else None
        answer = await endpoint.handler(Call(request, device, body, trusted))
        if isinstance(answer, Response):
            return answer
        if answer is None:
            return Response(status_code=204)
        return Response(_encode(answer), endpoint.status, media_type=endpoint.media_type)

    return run


async def _bearer(request: Request, authenticate: Authenticate) -> Device:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HubbubError("unauthorized", "send Authorization: Bearer <token>")
    device = await authenticate(token.strip())
    if device is None:
        raise HubbubError("unauthorized", "unknown or logged-out token")
    return device


def exception_handlers(
    count_refusal: CountRefusal,
) -> dict[Any, Callable[[Request, Exception], Awaitable[Response]]]:
    """Refusals become the contract's error body; anything else is a logged 500."""

    async def on_hubbub_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HubbubError)
        count_refusal(exc.code)
        return error_response(exc.code, exc.message, exc.http_status, exc.retry_after_ms)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "bad_request", 401: "unauthorized", 403: "forbidden"}.get(
            exc.status_code, "bad_request"
        )
        status = exc.status_code if exc.status_code < 500 else 400
        count_refusal(code)
        response = error_response(code, str(exc.detail), status)
        if exc.headers:  # 405 names the methods that are allowed (Allow)
            response.headers.update(exc.headers)
        return response

    async def on_gone(request: Request, exc: Exception) -> Response:
        return Response(status_code=499)  # the client left (or the edge cut it off): unsent

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        count_refusal("internal")
        return error_response("internal", "server error", 500)

    return {
        HubbubError: on_hubbub_error,
        HTTPException: on_http_error,
        ClientDisconnect: on_gone,
        Exception: on_unexpected,
    }
