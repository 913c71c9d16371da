"""A local stand-in for Google's OAuth2 token endpoint and the FCM HTTP v1 API, for the
tests: HTTPS (a trustme certificate) with aiohttp, in a thread of its own so one
instance outlives the tests' event loops.

POST /token checks the RS256 assertion as Google does: its signature against the
service account's public key (with `cryptography`), iss = client_email, scope includes
firebase.messaging, aud = the token_uri, iat/exp within an hour and not expired; it
answers {"access_token", "expires_in", "token_type": "Bearer"} or {"error":
"invalid_grant"}. POST /v1/projects/<id>/messages:send checks the bearer (issued here,
not expired: else 401 UNAUTHENTICATED), the project, and the message: a registered token
(404 UNREGISTERED for one marked so; 400 INVALID_ARGUMENT with a field violation on
message.token for an unknown one), `data` with string values only, android.priority
high|normal, android.ttl in seconds ("86400s"), collapse_key; answers in Google's error
JSON. `script[token]`: answers to give in turn once the checks pass, e.g.
[(429, {"Retry-After": "2"}), (401, {})]; with none left 200 {"name": ...}.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import trustme
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
          404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
          503: "UNAVAILABLE"}  # fmt: skip
CODE = {400: "INVALID_ARGUMENT", 401: "THIRD_PARTY_AUTH_ERROR", 403: "SENDER_ID_MISMATCH",
        404: "UNREGISTERED", 429: "QUOTA_EXCEEDED", 500: "INTERNAL",
        503: "UNAVAILABLE"}  # fmt: skip
TTL = re.compile(r"^\d+(\.\d{1,9})?s$")


def b64d(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def google_error(status: int, message: str, *extra: dict[str, Any]) -> web.Response:
    details = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": CODE.get(status, "UNSPECIFIED_ERROR")}, *extra]  # fmt: skip
    if status == 401:
        details = []  # an auth failure has no FcmError detail
    body = {"error": {"code": status, "message": message, "status": STATUS.get(status, ""),
                      "details": details}}  # fmt: skip
    return web.json_response(body, status=status)


@dataclass
class FcmPush:
    token: str
    message: dict[str, Any]
    bearer: str
    at: float


@dataclass
class FcmService:
    ca: trustme.CA
    project_id: str
    client_email: str
    account_key: rsa.RSAPublicKey
    token_lifetime_s: int = 3599
    devices: set[str] = field(default_factory=set)
    unregistered: set[str] = field(default_factory=set)
    script: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    received: list[FcmPush] = field(default_factory=list)
    attempts: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    issued: dict[str, float] = field(default_factory=dict)  # access token -> expiry
    assertions: list[dict[str, Any]] = field(default_factory=list)  # accepted claims
    violations: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def pushes(self, token: str) -> list[FcmPush]:
        return [p for p in self.received if p.token == token]

    def statuses(self, token: str) -> list[int]:
        return [s for _, s in self.attempts.get(token, [])]

    async def wait_for(self, token: str, count: int = 1, timeout: float = 10.0) -> list[FcmPush]:
        deadline = time.monotonic() + timeout
        while len(self.pushes(token)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{token[:10]}: {len(self.pushes(token))} pushes, wanted "
                                     f"{count}; attempts {self.statuses(token)}; "
                                     f"{self.violations}")  # fmt: skip
            await asyncio.sleep(0.02)
        return self.pushes(token)

    def start(self) -> FcmService:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_post("/token", self._token)
            app.router.add_post("/v1/projects/{project}/messages:send", self._send)
            runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(runner.setup())
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fcm-stand-in", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # -- the token endpoint ---------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        try:
            claims = self._check_assertion(form)
        except AssertionError as e:
            self.violations.append(f"token: {e}")
            return web.json_response({"error": "invalid_grant", "error_description": str(e)},
                                     status=400)  # fmt: skip
        self.assertions.append(claims)
        access = "ya29." + secrets.token_urlsafe(32)
        self.issued[access] = time.time() + self.token_lifetime_s
        return web.json_response({"access_token": access, "expires_in": self.token_lifetime_s,
                                  "token_type": "Bearer"})  # fmt: skip

    def _check_assertion(self, form: Any) -> dict[str, Any]:
        assert form.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer", \
            f"grant_type {form.get('grant_type')}"  # fmt: skip
        head_b64, claims_b64, sig_b64 = str(form.get("assertion", "")).split(".")
        header, claims = json.loads(b64d(head_b64)), json.loads(b64d(claims_b64))
        assert header.get("alg") == "RS256", f"alg {header}"
        try:
            self.account_key.verify(b64d(sig_b64), f"{head_b64}.{claims_b64}".encode(),
                                    padding.PKCS1v15(), hashes.SHA256())  # fmt: skip
        except InvalidSignature:
            raise AssertionError("Invalid JWT Signature.") from None
        now = time.time()
        assert claims.get("iss") == self.client_email, f"iss {claims.get('iss')}"
        assert SCOPE in str(claims.get("scope", "")).split(), f"scope {claims.get('scope')}"
        assert claims.get("aud") == self.token_uri, f"aud {claims.get('aud')}"
        iat, exp = claims.get("iat", 0), claims.get("exp", 0)
        assert iat <= now + 60 and now < exp and exp - iat <= 3600, f"iat {iat} exp {exp}"
        return dict(claims)

    # -- messages:send ---------------------------------------------------------------------

    async def _send(self, request: web.Request) -> web.Response:
        scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or self.issued.get(bearer, 0) < time.time():
            return google_error(401, "Request had invalid authentication credentials.")
        if request.match_info["project"] != self.project_id:
            return google_error(403, "Permission denied on the project.")
        try:
            message = (await request.json())["message"]
            token = message["token"]
            self._check_message(message)
        except (ValueError, KeyError, TypeError, AssertionError) as e:
            self.violations.append(f"send: {e!r}")
            return google_error(400, f"Invalid JSON payload received. {e}")
        if token in self.unregistered:
            self.attempts.setdefault(token, []).append((time.time(), 404))
            return google_error(404, "Requested entity was not found.")
        if token not in self.devices:
            self.attempts.setdefault(token, []).append((time.time(), 400))
            violation = {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations":
                         [{"field": "message.token", "description": "Invalid registration token"}]}
            return google_error(400, "The registration token is not a valid FCM registration "
                                "token", violation)  # fmt: skip
        answers = self.script.get(token) or []
        status, headers = answers.pop(0) if answers else (200, {})
        self.attempts.setdefault(token, []).append((time.time(), status))
        if status == 401:
            self.issued.pop(bearer, None)  # as if it had expired early
        if status != 200:
            response = google_error(status, "scripted failure")
            response.headers.update(headers)
            return response
        self.received.append(FcmPush(token, message, bearer, time.time()))
        return web.json_response({"name": f"projects/{self.project_id}/messages/0:"
                                  f"{secrets.randbelow(10**16)}"})  # fmt: skip

    def _check_message(self, message: dict[str, Any]) -> None:
        allowed = {"token", "data", "notification", "android", "apns", "webpush", "fcm_options"}
        assert set(message) <= allowed, f"unknown fields {set(message) - allowed}"
        data = message.get("data", {})
        assert all(isinstance(v, str) for v in data.values()), "data values must be strings"
        reserved = {"from", "notification", "message_type"}
        assert not any(k in reserved or k.startswith(("google", "gcm")) for k in data), \
            "reserved data key"  # fmt: skip
        android = message.get("android", {})
        assert str(android.get("priority", "normal")).lower() in ("high", "normal"), "priority"
        assert TTL.fullmatch(str(android.get("ttl", "0s"))), f"ttl {android.get('ttl')}"
        assert isinstance(android.get("collapse_key", ""), str), "collapse_key"
