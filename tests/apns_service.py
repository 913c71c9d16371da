"""A local stand-in for Apple's APNs provider API, for the tests: HTTP/2 only (ALPN h2,
over TLS with a trustme certificate), served with the `h2` state machine on asyncio, in
a thread of its own so one instance outlives the tests' event loops.

It checks each request as APNs does and answers with Apple's status codes and reasons
({"reason": "BadDeviceToken"}, 410 {"reason": "Unregistered", "timestamp": ms}, ...):
- POST /3/device/<hex token> (MethodNotAllowed, BadPath, BadDeviceToken for a token
  that is not hex or not registered here; Unregistered for one marked so);
- `authorization: bearer <JWT>`: alg ES256 with kid = the key id, signature verified
  with the team key's public half (checked with `cryptography`, not with the library the
  server signs with), iss = the team id, iat not in the future and under an hour old
  (MissingProviderToken, InvalidProviderToken, ExpiredProviderToken); a provider that
  renews its token more than once in 20 minutes without being told to gets
  TooManyProviderTokenUpdates;
- apns-topic (MissingTopic, DeviceTokenNotForTopic), apns-push-type (InvalidPushType),
  apns-priority (BadPriority), apns-expiration (BadExpirationDate), apns-collapse-id
  <= 64 bytes (BadCollapseId), duplicate headers (DuplicateHeaders), the body: present
  (PayloadEmpty), <= 4096 bytes (PayloadTooLarge), JSON with an `aps` dictionary.
Apple's rules it does not answer with an error (a background push: priority 5 and an
`aps` of content-available only; an alert push: an `alert`) are recorded in
`violations`, which the tests assert empty.

`script[token]`: answers to give in turn once the checks pass, e.g.
[(429, "TooManyRequests"), (403, "ExpiredProviderToken")]; with none left: 200.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import ssl
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import trustme
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

PUSH_TYPES = {"alert", "background", "voip", "complication", "fileprovider", "mdm",
              "location", "liveactivity", "pushtotalk", "widgets", "controls"}  # fmt: skip
TOKEN = re.compile(r"^[0-9a-f]{64,200}$")
MAX_PAYLOAD = 4096
TOKEN_MAX_AGE_S = 3600
MIN_RENEW_S = 20 * 60


def b64d(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@dataclass
class Push:
    token: str
    headers: dict[str, str]
    payload: dict[str, Any]
    jwt_claims: dict[str, Any]
    bearer: str
    at: float


@dataclass
class Refusal(Exception):
    status: int
    reason: str


@dataclass
class ApnsService:
    ca: trustme.CA
    key_id: str
    team_id: str
    team_key: ec.EllipticCurvePublicKey
    devices: dict[str, str] = field(default_factory=dict)  # token -> topic (bundle id)
    unregistered: dict[str, int] = field(default_factory=dict)  # token -> ms
    script: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    received: list[Push] = field(default_factory=list)
    attempts: dict[str, list[tuple[float, int, str]]] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    bearers: list[str] = field(default_factory=list)  # distinct provider tokens, in order
    port: int = 0
    _told_to_renew: bool = False
    _last_renew: float = 0.0
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def register(self, token: str, topic: str) -> str:
        self.devices[token] = topic
        return token

    def pushes(self, token: str) -> list[Push]:
        return [p for p in self.received if p.token == token]

    def statuses(self, token: str) -> list[tuple[int, str]]:
        return [(s, r) for _, s, r in self.attempts.get(token, [])]

    async def wait_for(self, token: str, count: int = 1, timeout: float = 10.0) -> list[Push]:
        """Until `token` has received `count` pushes (checked every 20 ms, with a deadline)."""
        deadline = time.monotonic() + timeout
        while len(self.pushes(token)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{token[:8]}: {len(self.pushes(token))} pushes, wanted {count}; attempts "
                    f"{self.statuses(token)}; violations {self.violations}"
                )
            await asyncio.sleep(0.02)
        return self.pushes(token)

    # -- serving ------------------------------------------------------------------------

    def start(self) -> ApnsService:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
            context.set_alpn_protocols(["h2"])
            self._server = loop.run_until_complete(
                asyncio.start_server(self._connection, "127.0.0.1", 0, ssl=context)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            self._server.close()
            loop.run_until_complete(self._server.wait_closed())
            loop.close()

        self._thread = threading.Thread(target=serve, name="apns-stand-in", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ssl_object = writer.get_extra_info("ssl_object")
        if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
            self.violations.append("a connection without HTTP/2 (ALPN h2)")
            writer.close()
            return
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        streams: dict[int, tuple[list[tuple[str, str]], bytearray]] = {}
        try:
            while data := await reader.read(65536):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        streams[event.stream_id] = ([(str(k), str(v)) for k, v in
                                                     event.headers or []], bytearray())  # fmt: skip
                    elif isinstance(event, h2.events.DataReceived):
                        streams[event.stream_id][1].extend(event.data or b"")
                        conn.acknowledge_received_data(
                            event.flow_controlled_length or 0, event.stream_id or 0
                        )
                    elif isinstance(event, h2.events.StreamEnded):
                        headers, body = streams.pop(event.stream_id or 0)
                        status, answer = self._answer(headers, bytes(body))
                        out = [(":status", str(status)), ("apns-id", str(uuid.uuid4()))]
                        if answer:
                            out.append(("content-type", "application/json"))
                        conn.send_headers(event.stream_id or 0, out, end_stream=not answer)
                        if answer:
                            conn.send_data(event.stream_id or 0, answer, end_stream=True)
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        return
                writer.write(conn.data_to_send())
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    # -- one request ---------------------------------------------------------------------

    def _answer(self, raw: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
        h = dict(raw)
        token = h.get(":path", "").removeprefix("/3/device/")
        try:
            push = self._check(raw, h, token, body)
        except Refusal as r:
            self.attempts.setdefault(token, []).append((time.time(), r.status, r.reason))
            answer: dict[str, Any] = {"reason": r.reason}
            if r.status == 410:
                answer["timestamp"] = self.unregistered.get(token, int(time.time() * 1000))
            return r.status, json.dumps(answer).encode()
        answers = self.script.get(token) or []
        status, reason = answers.pop(0) if answers else (200, "")
        self.attempts.setdefault(token, []).append((time.time(), status, reason))
        if status != 200:
            if reason in ("ExpiredProviderToken", "InvalidProviderToken"):
                self._told_to_renew = True
            return status, json.dumps({"reason": reason}).encode()
        self.received.append(push)
        return 200, b""

    def _check(  # noqa: PLR0912 - one branch per reason APNs answers, in Apple's order
        self, raw: list[tuple[str, str]], h: dict[str, str], token: str, body: bytes
    ) -> Push:
        if h.get(":method") != "POST":
            raise Refusal(405, "MethodNotAllowed")
        if not h.get(":path", "").startswith("/3/device/"):
            raise Refusal(404, "BadPath")
        names = Counter(k for k, _ in raw)
        if any(n > 1 for n in names.values()):
            raise Refusal(400, "DuplicateHeaders")
        claims, bearer = self._check_jwt(h.get("authorization", ""))
        if not token:
            raise Refusal(400, "MissingDeviceToken")
        topic = h.get("apns-topic")
        if not topic:
            raise Refusal(400, "MissingTopic")
        if token in self.unregistered:
            raise Refusal(410, "Unregistered")
        if not TOKEN.fullmatch(token) or len(token) % 2 or token not in self.devices:
            raise Refusal(400, "BadDeviceToken")
        if self.devices[token] != topic:
            raise Refusal(400, "DeviceTokenNotForTopic")
        push_type = h.get("apns-push-type", "")
        if push_type not in PUSH_TYPES:
            raise Refusal(400, "InvalidPushType")
        if h.get("apns-priority", "10") not in ("10", "5", "1"):
            raise Refusal(400, "BadPriority")
        expiration = h.get("apns-expiration", "0")
        if not expiration.isdigit():
            raise Refusal(400, "BadExpirationDate")
        if len(h.get("apns-collapse-id", "").encode()) > 64:
            raise Refusal(400, "BadCollapseId")
        if "apns-id" in h and not re.fullmatch(r"[0-9a-fA-F-]{36}", h["apns-id"]):
            raise Refusal(400, "BadMessageId")
        if not body:
            raise Refusal(400, "PayloadEmpty")
        if len(body) > MAX_PAYLOAD:
            raise Refusal(413, "PayloadTooLarge")
        try:
            payload = json.loads(body)
            assert isinstance(payload, dict) and isinstance(payload.get("aps"), dict)
        except (ValueError, AssertionError):
            self.violations.append(f"{token[:8]}: body is not JSON with an aps dictionary")
            raise Refusal(400, "BadPayload") from None
        self._check_rules(token, h, push_type, payload)
        return Push(token, h, payload, claims, bearer, time.time())

    def _check_rules(self, token: str, h: dict[str, str], push_type: str,
                     payload: dict[str, Any]) -> None:  # fmt: skip
        aps, where = payload["aps"], token[:8]
        if push_type == "background":
            if h.get("apns-priority") != "5":
                self.violations.append(f"{where}: a background push must have priority 5")
            if aps != {"content-available": 1}:
                self.violations.append(f"{where}: a background aps is content-available only")
        elif push_type == "alert" and not isinstance(aps.get("alert"), (dict, str)):
            self.violations.append(f"{where}: an alert push without an alert")
        expires = int(h.get("apns-expiration", "0"))
        if expires and not time.time() < expires <= time.time() + 30 * 86_400:
            self.violations.append(f"{where}: apns-expiration {expires} is not ahead")

    def _check_jwt(self, authorization: str) -> tuple[dict[str, Any], str]:
        scheme, _, bearer = authorization.partition(" ")
        if scheme.lower() != "bearer" or not bearer:
            raise Refusal(403, "MissingProviderToken")
        try:
            head_b64, claims_b64, sig_b64 = bearer.split(".")
            header = json.loads(b64d(head_b64))
            claims = json.loads(b64d(claims_b64))
            sig = b64d(sig_b64)
        except ValueError:
            raise Refusal(403, "InvalidProviderToken") from None
        if header.get("alg") != "ES256" or header.get("kid") != self.key_id or len(sig) != 64:
            raise Refusal(403, "InvalidProviderToken")
        der = encode_dss_signature(int.from_bytes(sig[:32]), int.from_bytes(sig[32:]))
        try:
            self.team_key.verify(der, f"{head_b64}.{claims_b64}".encode(),
                                 ec.ECDSA(hashes.SHA256()))  # fmt: skip
        except InvalidSignature:
            raise Refusal(403, "InvalidProviderToken") from None
        iat, now = claims.get("iat"), time.time()
        if claims.get("iss") != self.team_id or not isinstance(iat, int) or iat > now + 60:
            raise Refusal(403, "InvalidProviderToken")
        if now - iat > TOKEN_MAX_AGE_S:
            raise Refusal(403, "ExpiredProviderToken")
        if bearer not in self.bearers:
            if self.bearers and not self._told_to_renew and now - self._last_renew < MIN_RENEW_S:
                raise Refusal(429, "TooManyProviderTokenUpdates")
            self.bearers.append(bearer)
            self._told_to_renew, self._last_renew = False, now
        return claims, bearer
