"""PushProvider for Web Push: payloads encrypted with aes128gcm (RFC 8291, http_ece on
`cryptography`), requests signed with VAPID (RFC 8292, py_vapid), sent with aiohttp.

VAPID tokens are cached per push service origin (the JWT's `aud`) and made again an
hour before they expire (they live 12 hours; push services refuse over 24). Requests are
bounded: a total timeout per request, and at most `concurrency` in flight (the
connector's limit). Unless private endpoints are allowed, the connector's resolver drops
private addresses and literal private hosts are refused before any connection, checked
at each send (a name that resolved to a public address at subscribe time may not now).
"""

from __future__ import annotations

import json
import ssl
import time
from urllib.parse import urlsplit

import aiohttp
import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from hubbub.adapters.push.resolver import PrivateAddressError, PublicOnlyResolver
from hubbub.core.push import (
    Notification,
    PushKind,
    PushResult,
    Subscription,
    b64url,
    b64url_decode,
    is_public_address,
    literal_address,
    origin,
    retry_after_s,
)

TOKEN_LIFETIME_S = 12 * 3600
RENEW_BEFORE_S = 3600
REQUEST_TIMEOUT_S = 10.0


def new_vapid_keys() -> tuple[str, str]:
    """A fresh VAPID key pair: (the private key as PKCS#8 PEM, the public key as
    base64url of its uncompressed point, as GET /v1/push/vapid-public-key answers it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, public_key_of(key)


def public_key_of(key: ec.EllipticCurvePrivateKey) -> str:
    return b64url(
        key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


class VapidSigner:
    """`Authorization: vapid t=<JWT>, k=<public key>` per audience, cached."""

    def __init__(self, private_pem: str, contact: str) -> None:
        self._vapid = Vapid02.from_pem(private_pem.encode())
        self.contact = contact
        self._cache: dict[str, tuple[str, float]] = {}

    def authorization(self, audience: str, now: float | None = None) -> str:
        now = time.time() if now is None else now
        cached = self._cache.get(audience)
        if cached and cached[1] - now > RENEW_BEFORE_S:
            return cached[0]
        exp = int(now) + TOKEN_LIFETIME_S
        header = self._vapid.sign({"aud": audience, "exp": exp, "sub": self.contact})
        value = str(header["Authorization"])
        self._cache[audience] = (value, float(exp))
        return value


def encrypt(sub: Subscription, payload: bytes) -> bytes:
    """The aes128gcm body for the subscription's keys (a new sender key each time)."""
    assert sub.p256dh is not None and sub.auth is not None
    return bytes(
        http_ece.encrypt(
            payload,
            private_key=ec.generate_private_key(ec.SECP256R1()),
            dh=b64url_decode(sub.p256dh, "p256dh"),
            auth_secret=b64url_decode(sub.auth, "auth"),
            version="aes128gcm",
        )
    )


class WebPushProvider:
    kind: PushKind = "webpush"

    def __init__(
        self,
        signer: VapidSigner | None = None,
        *,
        allow_private: bool = False,
        concurrency: int = 64,
        timeout_s: float = REQUEST_TIMEOUT_S,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.signer = signer
        self.allow_private = allow_private
        self.concurrency = concurrency
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(5.0, timeout_s))
        self.ssl_context = ssl_context
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self.concurrency,
            resolver=None if self.allow_private else PublicOnlyResolver(),
            ssl=self.ssl_context or ssl.create_default_context(),
        )
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self.timeout, trust_env=False
        )

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, sub: Subscription, note: Notification) -> PushResult:
        assert self._session is not None and self.signer is not None, "keys and start() first"
        endpoint = sub.endpoint or ""
        host = urlsplit(endpoint).hostname or ""
        literal = literal_address(host)
        if not self.allow_private and literal is not None and not is_public_address(literal):
            return PushResult("refused", detail="private endpoint address")
        body = encrypt(sub, json.dumps(note.payload, separators=(",", ":")).encode())
        headers = {
            "Authorization": self.signer.authorization(origin(endpoint)),
            "TTL": str(note.ttl),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Topic": note.topic,
            "Urgency": note.urgency,
        }
        try:
            async with self._session.post(endpoint, data=body, headers=headers) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
                await response.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            if isinstance(getattr(error, "os_error", error), PrivateAddressError):
                return PushResult("refused", detail="the endpoint resolves to a private address")
            return PushResult("retry", detail=f"{type(error).__name__}: {error}")
        return result_of(status, retry_after)


def result_of(status: int, retry_after: str | None) -> PushResult:
    """A push service's answer as a PushResult (RFC 8030 and the services' practice)."""
    if status in (200, 201, 202):
        return PushResult("sent", status)
    if status in (404, 410, 401, 403):
        return PushResult("gone", status)
    if status == 413:
        return PushResult("too_large", status)
    if status == 429:
        return PushResult("throttled", status, retry_after_s(retry_after))
    if status >= 500:
        return PushResult("retry", status, retry_after_s(retry_after, 0.0))
    return PushResult("failed", status)
