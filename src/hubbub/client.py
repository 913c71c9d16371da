"""A small asyncio client for Hubbub: REST calls and a device's WebSocket.

    async with HubbubClient("http://127.0.0.1:8080") as api:
        await api.sign_up("alice", "correct horse 1")
        await api.log_in("alice", "correct horse 1")
        async with await api.connect(since=0) as ws:
            sent = await ws.send_message("hi", to=bob_id)
            frame = await ws.expect("message")

It keeps the connection alive with `ping` at the server's heartbeat interval, and keys
every send by a `client_msg_id`, so a resend after a reconnect is never stored twice.
Run `python -m hubbub.client URL USER PASSWORD PEER` for a tiny chat in the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import websockets

Frame = dict[str, Any]


class ApiError(Exception):
    """A refusal from the server: `code` is the contract's error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def _raise_for(r: httpx.Response) -> None:
    try:
        error = r.json()["error"]
        code, message = error["code"], error["message"]
    except (ValueError, KeyError, TypeError):
        raise ApiError(r.status_code, "internal", r.text) from None
    raise ApiError(r.status_code, code, message)


async def _file_chunks(path: Path, size: int = 1 << 20) -> AsyncIterator[bytes]:
    with open(path, "rb") as f:  # noqa: ASYNC230 - a client helper; reads are small
        while chunk := await asyncio.to_thread(f.read, size):
            yield chunk


class HubbubClient:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.user_id: str | None = None
        self.device_id: str | None = None
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def __aenter__(self) -> HubbubClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http", "ws", 1) + "/v1/ws"

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers.update(kwargs.pop("headers", None) or {})
        r = await self._http.request(method, path, headers=headers, **kwargs)
        if r.status_code >= 400:
            _raise_for(r)
        return r.json() if r.content else None

    # -- accounts
    async def sign_up(self, username: str, password: str, display_name: str | None = None) -> Frame:
        body = {"username": username, "password": password}
        if display_name is not None:
            body["display_name"] = display_name
        result: Frame = await self.request("POST", "/v1/users", json=body)
        return result

    async def log_in(self, username: str, password: str, device_name: str = "python") -> Frame:
        session: Frame = await self.request(
            "POST",
            "/v1/sessions",
            json={"username": username, "password": password, "device_name": device_name},
        )
        self.token, self.user_id, self.device_id = (
            session["token"],
            session["user_id"],
            session["device_id"],
        )
        return session

    async def log_out(self) -> None:
        await self.request("DELETE", "/v1/sessions/current")

    async def me(self) -> Frame:
        result: Frame = await self.request("GET", "/v1/me")
        return result

    async def set_retention(self, days: int | None) -> Frame:
        result: Frame = await self.request(
            "PUT", "/v1/me/settings", json={"history_retention_days": days}
        )
        return result

    async def set_avatar(self, media_id: str | None) -> Frame:
        """`PATCH /v1/me {avatar}`: one of your own image uploads as your profile picture
        (None removes it). Returns your user object."""
        result: Frame = await self.request("PATCH", "/v1/me", json={"avatar": media_id})
        return result

    # -- people
    async def find_user(self, username: str) -> Frame:
        result: Frame = await self.request("GET", "/v1/users", params={"username": username})
        return result

    async def presence(self, user_id: str) -> Frame:
        result: Frame = await self.request("GET", f"/v1/users/{user_id}/presence")
        return result

    async def add_contact(self, user_id: str) -> None:
        await self.request("PUT", f"/v1/contacts/{user_id}")

    async def contacts(self) -> list[Frame]:
        return list((await self.request("GET", "/v1/contacts"))["contacts"])

    # -- conversations
    async def direct(self, user_id: str) -> Frame:
        result: Frame = await self.request(
            "POST", "/v1/conversations/direct", json={"user_id": user_id}
        )
        return result

    async def create_group(self, name: str, members: list[str]) -> Frame:
        result: Frame = await self.request(
            "POST", "/v1/groups", json={"name": name, "members": members}
        )
        return result

    async def add_member(self, group_id: str, user_id: str) -> None:
        await self.request("POST", f"/v1/groups/{group_id}/members", json={"user_id": user_id})

    async def remove_member(self, group_id: str, user_id: str) -> None:
        await self.request("DELETE", f"/v1/groups/{group_id}/members/{user_id}")

    async def conversations(self) -> list[Frame]:
        return list((await self.request("GET", "/v1/conversations"))["conversations"])

    async def history(
        self, conversation_id: str, before: str | None = None, limit: int | None = None
    ) -> list[Frame]:
        params: dict[str, Any] = {}
        if before:
            params["before"] = before
        if limit:
            params["limit"] = limit
        data = await self.request(
            "GET", f"/v1/conversations/{conversation_id}/messages", params=params
        )
        return list(data["messages"])

    async def post_message(
        self,
        conversation_id: str,
        body: str,
        client_msg_id: str | None = None,
        attachments: list[str] | None = None,
    ) -> Frame:
        payload: Frame = {"client_msg_id": client_msg_id or uuid.uuid4().hex, "body": body}
        if attachments is not None:
            payload["attachments"] = attachments
        result: Frame = await self.request(
            "POST", f"/v1/conversations/{conversation_id}/messages", json=payload
        )
        return result

    # -- attachments
    async def upload(
        self,
        data: bytes | str | Path,
        *,
        content_type: str = "application/octet-stream",
        filename: str | None = None,
    ) -> Frame:
        """`POST /v1/media`: bytes, or a file's path (streamed from disk). Returns
        {media_id, sha256, size, content_type, ...}: attach it with `attachments=[id]`."""
        params = {"filename": filename} if filename is not None else None
        if isinstance(data, bytes):
            content: Any = data
        else:
            path = Path(data)
            params = params or {"filename": path.name}
            content = _file_chunks(path)
        result: Frame = await self.request(
            "POST", "/v1/media", content=content, params=params,
            headers={"Content-Type": content_type},
        )  # fmt: skip
        return result

    async def download(
        self, media_id: str, *, thumbnail: bool = False, byte_range: str | None = None
    ) -> httpx.Response:
        """`GET /v1/media/{id}` (or its thumbnail): the whole response, for its headers
        too; raises ApiError for a refusal. `byte_range`: a Range value (bytes=0-99)."""
        path = f"/v1/media/{media_id}" + ("/thumbnail" if thumbnail else "")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if byte_range is not None:
            headers["Range"] = byte_range
        r = await self._http.get(path, headers=headers)
        if r.status_code >= 400 and r.status_code != 416:
            _raise_for(r)
        return r

    # -- the device's socket
    async def discover(self) -> Frame | None:
        """`GET /v1/discovery`: the node to connect to ({ws_url, http_url, node_id}), or
        None when the server has no answer (an older server, 503, a network error)."""
        try:
            r = await self._http.get("/v1/discovery", timeout=5.0)
            answer = r.json() if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None
        if not isinstance(answer, dict) or not isinstance(answer.get("ws_url"), str):
            return None
        return answer

    async def connect(
        self, since: int = 0, *, heartbeat: bool = True, discover: bool = True
    ) -> Connection:
        """Open the device's socket: on the node `/v1/discovery` names (when `discover`),
        else, or when that fails, on this client's own server."""
        if not self.token:
            raise RuntimeError("log in first")
        found = await self.discover() if discover else None
        url = found["ws_url"] if found is not None else self.ws_url
        if url != self.ws_url:
            try:
                return await Connection.open(url, self.token, since, heartbeat=heartbeat)
            except (OSError, TimeoutError, websockets.InvalidURI, websockets.InvalidHandshake):
                pass  # that node is gone or unreachable from here: use our own
        return await Connection.open(self.ws_url, self.token, since, heartbeat=heartbeat)


class Connection:
    """One device's WebSocket. Frames are kept in arrival order; `expect` takes the first
    that matches and leaves the others for later calls."""

    def __init__(self, ws: Any, ready: Frame, heartbeat: bool, url: str = "") -> None:
        self.ws = ws
        self.url = url  # the WebSocket URL it is connected to
        self.ready = ready
        self.close_code: int | None = None
        self._backlog: deque[Frame] = deque()
        self._arrived = asyncio.Condition()
        self._waiting: dict[str, asyncio.Future[Frame]] = {}
        self._reader = asyncio.create_task(self._read())
        self._beat: asyncio.Task[None] | None = None
        if heartbeat:
            self._beat = asyncio.create_task(self._heartbeat(float(ready["heartbeat_interval"])))

    @classmethod
    async def open(
        cls,
        url: str,
        token: str,
        since: int = 0,
        *,
        heartbeat: bool = True,
        timeout: float = 10.0,
    ) -> Connection:
        ws = await websockets.connect(url, max_size=None, open_timeout=timeout)
        await ws.send(json.dumps({"type": "hello", "token": token, "since": since}))
        try:
            first = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        except websockets.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
            if code == 4001:
                raise ApiError(401, "unauthorized", "unknown or logged-out token") from e
            if code in (1011, 1013):  # the server is busy or its storage away: retry later
                why = f"closed with {code} before ready: {e.rcvd.reason if e.rcvd else ''}"
                raise ApiError(503, "unavailable", why) from e
            raise ApiError(400, "bad_request", f"closed with {code} before ready") from e
        if first.get("type") != "ready":
            await ws.close()
            raise ApiError(400, "bad_request", f"expected ready, got {first}")
        return cls(ws, first, heartbeat, url)

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def head(self) -> int:
        return int(self.ready["head"])

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                cmid = frame.get("client_msg_id")
                if frame.get("type") in ("sent", "error") and cmid in self._waiting:
                    future = self._waiting.pop(cmid)
                    if not future.done():
                        future.set_result(frame)
                async with self._arrived:
                    self._backlog.append(frame)
                    self._arrived.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError(f"socket closed ({self.close_code})"))
                    future.exception()  # a caller may never await it: don't log it as lost
            async with self._arrived:
                self._backlog.append({"type": "__closed__", "code": self.close_code})
                self._arrived.notify_all()

    async def _heartbeat(self, interval: float) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await asyncio.sleep(interval)
                await self.ws.send('{"type":"ping"}')

    async def send_frame(self, frame: Frame | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    def _send_frame(
        self,
        body: str,
        to: str | None,
        conversation_id: str | None,
        client_msg_id: str,
        attachments: list[str] | None = None,
    ) -> Frame:
        frame: Frame = {"type": "send", "client_msg_id": client_msg_id, "body": body}
        if to is not None:
            frame["to"] = to
        if conversation_id is not None:
            frame["conversation_id"] = conversation_id
        if attachments is not None:
            frame["attachments"] = attachments
        return frame

    async def submit(
        self,
        body: str,
        *,
        to: str | None = None,
        conversation_id: str | None = None,
        client_msg_id: str | None = None,
        attachments: list[str] | None = None,
    ) -> asyncio.Future[Frame]:
        """Send without waiting: the future completes with the `sent` (or `error`) frame.
        `attachments`: media ids from HubbubClient.upload (then the body may be "")."""
        cmid = client_msg_id or uuid.uuid4().hex
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._waiting[cmid] = future
        await self.send_frame(self._send_frame(body, to, conversation_id, cmid, attachments))
        return future

    async def send_message(
        self,
        body: str,
        *,
        to: str | None = None,
        conversation_id: str | None = None,
        client_msg_id: str | None = None,
        timeout: float = 10.0,
        attachments: list[str] | None = None,
    ) -> Frame:
        """Send and wait for `sent`; raises ApiError for an `error` frame."""
        future = await self.submit(
            body, to=to, conversation_id=conversation_id, client_msg_id=client_msg_id,
            attachments=attachments,
        )  # fmt: skip
        frame = await asyncio.wait_for(future, timeout)
        if frame["type"] == "error":
            raise ApiError(400, frame["code"], frame["message"])
        return frame

    async def ack(self, seq: int) -> None:
        await self.send_frame({"type": "ack", "seq": seq})

    async def read(self, conversation_id: str, message_id: str) -> None:
        await self.send_frame(
            {"type": "read", "conversation_id": conversation_id, "message_id": message_id}
        )

    async def typing(self, conversation_id: str) -> None:
        await self.send_frame({"type": "typing", "conversation_id": conversation_id})

    async def expect(
        self,
        type_: str,
        timeout: float = 5.0,
        where: Callable[[Frame], bool] | None = None,
        **match: Any,
    ) -> Frame:
        """The first frame of that type whose fields equal `match` (and satisfy `where`)."""

        def fits(frame: Frame) -> bool:
            return (
                frame.get("type") == type_
                and all(frame.get(k) == v for k, v in match.items())
                and (where is None or where(frame))
            )

        async def wait() -> Frame:
            async with self._arrived:
                while True:
                    for frame in self._backlog:
                        if fits(frame):
                            self._backlog.remove(frame)
                            return frame
                        if frame.get("type") == "__closed__" and type_ != "__closed__":
                            raise ConnectionError(f"socket closed ({frame.get('code')})")
                    await self._arrived.wait()

        return await asyncio.wait_for(wait(), timeout)

    async def collect(self, seconds: float) -> list[Frame]:
        """Everything that arrived so far plus within `seconds`, taken off the backlog."""
        await asyncio.sleep(seconds)
        async with self._arrived:
            frames = list(self._backlog)
            self._backlog.clear()
        return frames

    async def close(self) -> None:
        if self._beat:
            self._beat.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(self._reader, 5)


async def _chat(url: str, username: str, password: str, peer: str) -> None:
    async with HubbubClient(url) as api:
        await api.log_in(username, password, "terminal")
        peer_id = (await api.find_user(peer))["user_id"]
        async with await api.connect(since=0) as ws:

            async def show() -> None:
                while True:
                    frame = await ws.expect("message", timeout=3600)
                    await ws.ack(frame["seq"])
                    who = "me" if frame["sender_id"] == api.user_id else peer
                    print(f"[{who}] {frame['body']}")

            printer = asyncio.create_task(show())
            loop = asyncio.get_running_loop()
            while line := await loop.run_in_executor(None, sys.stdin.readline):
                if line.strip():
                    await ws.send_message(line.rstrip("\n"), to=peer_id)
            printer.cancel()


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit("usage: python -m hubbub.client URL USERNAME PASSWORD PEER_USERNAME")
    asyncio.run(_chat(*sys.argv[1:5]))
