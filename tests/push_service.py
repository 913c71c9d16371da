"""A local Web Push service for the tests, over HTTPS (a trustme certificate), that
checks each request as a real push service does and decrypts it as the browser would.

Checked on every request: `Authorization: vapid t=<JWT>, k=<key>` with k the server's
VAPID public key (from GET /v1/push/vapid-public-key) and the JWT's ES256 signature made
by it; `aud` = this service's origin, `exp` in the future and within 24 h, `sub` a
mailto: or https: URL; a `TTL` header; `Content-Encoding: aes128gcm`; a valid Topic
(<= 32 characters of the URL-safe base64 alphabet) and Urgency. The body is decrypted
with the subscription's private key and auth secret (made here, as a browser makes
them). A request failing a check is answered 400 and recorded in `violations`.

Each endpoint path can be given answers to give in turn (`script`), e.g. [503, 201] or
[(429, {"Retry-After": "2"})]; with none left it answers 201.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import http_ece
import trustme
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

TOPIC = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")
URGENCIES = {"very-low", "low", "normal", "high"}


def b64d(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class BrowserSubscription:
    """What PushManager.subscribe() makes: a key pair and an auth secret."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def body(self) -> dict[str, Any]:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "kind": "webpush",
            "endpoint": self.endpoint,
            "keys": {"p256dh": b64e(point), "auth": b64e(self.auth)},
        }


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    payload: dict[str, Any]
    at: float  # time.time()


def make_ca(tmp: Path) -> tuple[trustme.CA, Path]:
    """A throwaway CA and its PEM file (the server trusts it through SSL_CERT_FILE)."""
    ca = trustme.CA()
    ca_file = tmp / "push-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return ca, ca_file


class PushService:
    def __init__(self, ca: trustme.CA) -> None:
        self.ca = ca
        self.server_key: str | None = None  # the hubbub server's VAPID key, once known
        self.subscriptions: dict[str, BrowserSubscription] = {}
        self.script: dict[str, list[int | tuple[int, dict[str, str]]]] = {}
        self.received: list[Received] = []  # accepted (2xx) pushes, decrypted
        self.attempts: dict[str, list[tuple[float, int]]] = {}  # every request: (time, status)
        self.violations: list[str] = []
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._arrived = asyncio.Event()
        self._verified: dict[tuple[str, str], dict[str, Any]] = {}  # (JWT, k) -> its claims
        self._held: dict[str, asyncio.Event] = {}  # path -> set when its requests may go on
        self.holding: dict[str, int] = {}  # path -> requests waiting on a hold now

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def new_subscription(self, name: str) -> BrowserSubscription:
        sub = BrowserSubscription(f"{self.origin}/push/{name}")
        self.subscriptions[f"/push/{name}"] = sub
        return sub

    async def start(self) -> PushService:
        app = web.Application()
        app.router.add_post("/push/{name}", self._push)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def pushes(self, name: str) -> list[Received]:
        return [r for r in self.received if r.path == f"/push/{name}"]

    async def wait_for(self, name: str, count: int = 1, timeout: float = 10.0) -> list[Received]:
        """Wait until `name` has received `count` pushes (polling with a deadline)."""
        deadline = time.monotonic() + timeout
        while len(self.pushes(name)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{name}: {len(self.pushes(name))} pushes, wanted {count};"
                    f" attempts {self.attempts.get('/push/' + name)}; {self.violations}"
                )
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), 0.1)
        return self.pushes(name)

    def hold(self, name: str) -> asyncio.Event:
        """Requests to `name` wait (unanswered, like a slow push service) until the
        returned event is set; then they get their scripted answers."""
        gate = self._held[f"/push/{name}"] = asyncio.Event()
        return gate

    async def wait_held(self, name: str, timeout: float = 10.0) -> None:
        """Wait until a request to `name` is waiting on its hold."""
        deadline = time.monotonic() + timeout
        while not self.holding.get(f"/push/{name}"):
            if time.monotonic() > deadline:
                raise AssertionError(f"{name}: no request arrived to hold")
            await asyncio.sleep(0.02)

    async def _push(self, request: web.Request) -> web.Response:
        path = request.path
        body = await request.read()
        gate = self._held.get(path)
        if gate is not None and not gate.is_set():
            self.holding[path] = self.holding.get(path, 0) + 1
            await gate.wait()
            self.holding[path] -= 1
        try:
            payload = self._check(request, body)
        except AssertionError as e:
            self.violations.append(f"{path}: {e}")
            self.attempts.setdefault(path, []).append((time.time(), 400))
            return web.Response(status=400, text=str(e))
        answers = self.script.get(path) or []
        answer = answers.pop(0) if answers else 201
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        self.attempts.setdefault(path, []).append((time.time(), status))
        if status < 300:
            self.received.append(Received(path, dict(request.headers), payload, time.time()))
            self._arrived.set()
        return web.Response(status=status, headers=headers)

    def _verify(self, token: str, key: str) -> dict[str, Any]:
        """The JWT's signature checked once per token (a real push service caches too;
        the claims are still checked on every request)."""
        head_b64, claims_b64, sig_b64 = token.split(".")
        header = json.loads(b64d(head_b64))
        assert header.get("alg") == "ES256", f"alg {header}"
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64d(key))
        sig = b64d(sig_b64)
        assert len(sig) == 64, "an ES256 signature is r || s, 64 bytes"
        der = encode_dss_signature(int.from_bytes(sig[:32]), int.from_bytes(sig[32:]))
        try:
            public.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise AssertionError("bad JWT signature") from None
        claims: dict[str, Any] = json.loads(b64d(claims_b64))
        self._verified[(token, key)] = claims
        return claims

    def _check(self, request: web.Request, body: bytes) -> dict[str, Any]:
        h = request.headers
        scheme, _, params = h.get("Authorization", "").partition(" ")
        assert scheme.lower() == "vapid", f"Authorization scheme {scheme!r}"
        parts = dict(p.strip().split("=", 1) for p in params.split(","))
        token, key = parts.get("t", ""), parts.get("k", "")
        assert self.server_key is not None and key == self.server_key, "k is not the server's key"
        claims = self._verified.get((token, key)) or self._verify(token, key)
        assert claims.get("aud") == self.origin, f"aud {claims.get('aud')} != {self.origin}"
        now = time.time()
        assert now < claims["exp"] <= now + 86_400, f"exp {claims['exp'] - now:.0f} s away"
        assert re.match(r"^(mailto:|https:)", claims.get("sub", "")), f"sub {claims.get('sub')}"
        assert h.get("TTL", "").isdigit(), "TTL header"
        assert h.get("Content-Encoding") == "aes128gcm", "Content-Encoding"
        assert TOPIC.fullmatch(h.get("Topic", "")), f"Topic {h.get('Topic')!r}"
        assert h.get("Urgency") in URGENCIES, f"Urgency {h.get('Urgency')!r}"
        sub = self.subscriptions.get(request.path)
        assert sub is not None, "unknown subscription"
        plain = http_ece.decrypt(body, private_key=sub.key, auth_secret=sub.auth,
                                 version="aes128gcm")  # fmt: skip
        decoded: dict[str, Any] = json.loads(plain)
        return decoded
