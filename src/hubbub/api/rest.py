"""REST routes of the contract. Each handler parses, calls one service, shapes the answer.

Every refusal is `{"error": {"code", "message"}}` with a 4xx; an unexpected exception is
logged and answered `internal` (500) without details.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hubbub.adapters.discovery import Discovery, ws_url_of
from hubbub.core.errors import HubbubError, bad_request
from hubbub.core.frames import parse_id
from hubbub.core.model import Conversation, ConversationSummary, Device, Message
from hubbub.gateway.session import Services
from hubbub.metrics import CONTENT_TYPE

log = logging.getLogger("hubbub.api")
# 100,000 astral characters written as JSON escapes (\ud83d\ude42) take 1.2 MB
MAX_BODY_BYTES = 2 << 20
_json = msgspec.json.Encoder()


def json_response(data: Any, status: int = 200) -> Response:
    return Response(_json.encode(data), status, media_type="application/json")


def error_response(
    code: str, message: str, status: int, request: Request | None = None
) -> Response:
    metrics = getattr(request.app.state, "metrics", None) if request is not None else None
    if metrics is not None:
        metrics.errors.labels(code).inc()
    return json_response({"error": {"code": code, "message": message}}, status)


async def read_json(request: Request) -> dict[str, Any]:
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
    try:
        body = msgspec.json.decode(b"".join(chunks))
    except msgspec.DecodeError:
        raise bad_request("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body


def _group(conv: Conversation) -> dict[str, Any]:
    return {
        "group_id": str(conv.conversation_id),
        "conversation_id": str(conv.conversation_id),
        "name": conv.name,
        "owner_id": str(conv.owner_id) if conv.owner_id is not None else None,
        "members": [str(m) for m in conv.member_ids],
    }


def _summary(user_id: int, s: ConversationSummary) -> dict[str, Any]:
    conv = s.conversation
    out: dict[str, Any] = {"conversation_id": str(conv.conversation_id), "kind": conv.kind}
    if conv.kind == "direct":
        out["peer_id"] = str(conv.peer_of(user_id))
    else:
        out["group_id"] = str(conv.conversation_id)
        out["name"] = conv.name
        out["members"] = [str(m) for m in conv.member_ids]
    out["last_message"] = s.last_message
    out["unread_count"] = s.unread_count
    out["read_upto"] = str(s.read_upto) if s.read_upto else None
    out["receipts"] = [
        {
            "user_id": str(member),
            "delivered_upto": str(delivered) if delivered else None,
            "read_upto": str(read) if read else None,
        }
        for member, delivered, read in s.receipts
    ]
    return out


Handler = Callable[[Request], Awaitable[Response]]


def build_routes(s: Services, discovery: Discovery | None = None) -> list[Route]:
    async def auth(request: Request) -> Device:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HubbubError("unauthorized", "send Authorization: Bearer <token>")
        device = await s.accounts.authenticate(token.strip())
        if device is None:
            raise HubbubError("unauthorized", "unknown or logged-out token")
        return device

    async def sign_up(request: Request) -> Response:
        body = await read_json(request)
        user = await s.accounts.sign_up(
            body.get("username"), body.get("password"), body.get("display_name")
        )
        return json_response(user.public(), 201)

    async def log_in(request: Request) -> Response:
        body = await read_json(request)
        token, device = await s.accounts.log_in(
            body.get("username"), body.get("password"), body.get("device_name")
        )
        return json_response(
            {"token": token, "user_id": str(device.user_id), "device_id": str(device.device_id)},
            201,
        )

    async def log_out(request: Request) -> Response:
        await s.accounts.log_out(await auth(request))
        return Response(status_code=204)

    async def me(request: Request) -> Response:
        device = await auth(request)
        user = await s.accounts.user(device.user_id)
        return json_response(
            {
                **user.public(),
                "device_id": str(device.device_id),
                "settings": {"history_retention_days": user.history_retention_days},
            }
        )

    async def update_me(request: Request) -> Response:
        device = await auth(request)
        body = await read_json(request)
        user = await s.accounts.update_profile(device.user_id, body.get("display_name"))
        return json_response(user.public())

    async def put_settings(request: Request) -> Response:
        device = await auth(request)
        body = await read_json(request)
        if "history_retention_days" not in body:
            raise bad_request("history_retention_days is required (null keeps history forever)")
        user = await s.accounts.update_retention(device.user_id, body["history_retention_days"])
        return json_response({"history_retention_days": user.history_retention_days})

    async def get_user(request: Request) -> Response:
        await auth(request)
        user = await s.accounts.user(parse_id(request.path_params["user_id"], "user_id"))
        return json_response(user.public())

    async def find_user(request: Request) -> Response:
        await auth(request)
        username = request.query_params.get("username")
        if not username:
            raise bad_request("give ?username=NAME")
        return json_response((await s.accounts.user_by_name(username)).public())

    async def presence(request: Request) -> Response:
        await auth(request)
        user = await s.accounts.user(parse_id(request.path_params["user_id"], "user_id"))
        online, last_active = await s.presence.status(user.user_id)
        return json_response(
            {
                "user_id": str(user.user_id),
                "status": "online" if online else "offline",
                "last_active_at": last_active,
            }
        )

    async def put_contact(request: Request) -> Response:
        device = await auth(request)
        contact_id = parse_id(request.path_params["user_id"], "user_id")
        await s.store.put_contact(device.user_id, contact_id)
        return Response(status_code=204)

    async def delete_contact(request: Request) -> Response:
        device = await auth(request)
        contact_id = parse_id(request.path_params["user_id"], "user_id")
        await s.store.delete_contact(device.user_id, contact_id)
        return Response(status_code=204)

    async def contacts(request: Request) -> Response:
        device = await auth(request)
        out = []
        for user, stored_last_active in await s.store.contacts(device.user_id):
            online, last_active = await s.presence.status(user.user_id)
            out.append(
                {
                    **user.public(),
                    "status": "online" if online else "offline",
                    "last_active_at": max(last_active, stored_last_active),
                }
            )
        return json_response({"contacts": out})

    async def create_group(request: Request) -> Response:
        device = await auth(request)
        body = await read_json(request)
        conv = await s.chat.create_group(device.user_id, body.get("name"), body.get("members", []))
        return json_response(_group(conv), 201)

    async def get_group(request: Request) -> Response:
        device = await auth(request)
        return json_response(
            _group(await s.chat.group(device.user_id, request.path_params["group_id"]))
        )

    async def add_member(request: Request) -> Response:
        device = await auth(request)
        body = await read_json(request)
        await s.chat.add_member(
            device.user_id, request.path_params["group_id"], body.get("user_id")
        )
        return Response(status_code=204)

    async def remove_member(request: Request) -> Response:
        device = await auth(request)
        await s.chat.remove_member(
            device.user_id, request.path_params["group_id"], request.path_params["user_id"]
        )
        return Response(status_code=204)

    async def direct(request: Request) -> Response:
        device = await auth(request)
        body = await read_json(request)
        peer = body.get("user_id")
        if not isinstance(peer, str):
            raise bad_request("user_id must be a string id")
        conv = await s.chat.direct(device.user_id, peer)
        return json_response(
            {
                "conversation_id": str(conv.conversation_id),
                "kind": "direct",
                "peer_id": str(conv.peer_of(device.user_id)),
            }
        )

    async def conversations(request: Request) -> Response:
        device = await auth(request)
        user = await s.accounts.user(device.user_id)
        summaries = await s.chat.conversations(device.user_id, user.history_retention_days)
        return json_response({"conversations": [_summary(device.user_id, x) for x in summaries]})

    async def history(request: Request) -> Response:
        device = await auth(request)
        user = await s.accounts.user(device.user_id)
        raw_limit = request.query_params.get("limit")
        if raw_limit is not None and not (raw_limit.isascii() and raw_limit.isdigit()):
            raise bad_request("limit must be a positive integer")
        messages: list[Message] = await s.chat.history(
            device.user_id,
            user.history_retention_days,
            request.path_params["conversation_id"],
            request.query_params.get("before") or None,
            int(raw_limit) if raw_limit is not None else None,
        )
        return json_response({"messages": messages})

    async def post_message(request: Request) -> Response:
        device = await auth(request)
        body = await read_json(request)
        client_msg_id, text = body.get("client_msg_id"), body.get("body")
        if not isinstance(client_msg_id, str) or not isinstance(text, str):
            raise bad_request("client_msg_id and body are required strings")
        stored = await s.chat.send(
            device.user_id,
            client_msg_id,
            text,
            conversation_id=request.path_params["conversation_id"],
        )
        if not stored.duplicate:
            s.metrics.messages_stored += 1
            s.chat.deliver(stored)
        return json_response(
            {
                "message_id": str(stored.message_id),
                "conversation_id": str(stored.conversation_id),
                "ts": stored.message.ts,
                "client_msg_id": client_msg_id,
            },
            201,
        )

    async def healthz(request: Request) -> Response:
        return json_response({"status": "ok", "connections": s.hub.connection_count()})

    async def discover(request: Request) -> Response:
        node = await discovery.best() if discovery is not None else None
        if node is None:
            raise HubbubError("unavailable", "no healthy node to connect to")
        # a node without a configured public URL answers the caller's own origin
        http_url = node.get("http_url") or str(request.base_url).rstrip("/")
        ws_url = node.get("ws_url") or ws_url_of(http_url)
        return json_response(
            {"ws_url": ws_url, "http_url": http_url, "node_id": str(node["node_id"])}
        )

    async def metrics(request: Request) -> Response:
        return Response(s.metrics.render(), media_type=CONTENT_TYPE)

    return [
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        Route("/v1/discovery", discover, methods=["GET"]),
        Route("/v1/users", sign_up, methods=["POST"]),
        Route("/v1/users", find_user, methods=["GET"]),
        Route("/v1/users/{user_id}", get_user, methods=["GET"]),
        Route("/v1/users/{user_id}/presence", presence, methods=["GET"]),
        Route("/v1/sessions", log_in, methods=["POST"]),
        Route("/v1/sessions/current", log_out, methods=["DELETE"]),
        Route("/v1/me", me, methods=["GET"]),
        Route("/v1/me", update_me, methods=["PATCH"]),
        Route("/v1/me/settings", put_settings, methods=["PUT"]),
        Route("/v1/contacts", contacts, methods=["GET"]),
        Route("/v1/contacts/{user_id}", put_contact, methods=["PUT"]),
        Route("/v1/contacts/{user_id}", delete_contact, methods=["DELETE"]),
        Route("/v1/groups", create_group, methods=["POST"]),
        Route("/v1/groups/{group_id}", get_group, methods=["GET"]),
        Route("/v1/groups/{group_id}/members", add_member, methods=["POST"]),
        Route("/v1/groups/{group_id}/members/{user_id}", remove_member, methods=["DELETE"]),
        Route("/v1/conversations", conversations, methods=["GET"]),
        Route("/v1/conversations/direct", direct, methods=["POST"]),
        Route("/v1/conversations/{conversation_id}/messages", history, methods=["GET"]),
        Route("/v1/conversations/{conversation_id}/messages", post_message, methods=["POST"]),
    ]


async def on_hubbub_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HubbubError)
    return error_response(exc.code, exc.message, exc.http_status, request)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "bad_request", 401: "unauthorized", 403: "forbidden"}.get(
        exc.status_code, "bad_request"
    )
    status = exc.status_code if exc.status_code < 500 else 400
    return error_response(code, str(exc.detail), status, request)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response("internal", "server error", 500, request)
