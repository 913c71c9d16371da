"""PushProvider for Apple Push Notification service: HTTP/2 (httpx with h2), token-based
authentication (an ES256 JWT signed with the team's .p8 key, pyjwt on `cryptography`).

The provider token is made once and reused for every request until it is RENEW_AFTER_S
old (Apple refuses tokens over an hour old, and answers TooManyProviderTokenUpdates to a
provider that renews more often than every 20 minutes); an ExpiredProviderToken or
InvalidProviderToken answer renews it at once (only if it is still the token that was
refused, so concurrent refusals renew once) and the push is resent once. Requests are
bounded in time (a total deadline per request) and multiplexed on one HTTP/2 connection.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hubbub.core.mobile_push import (
    APNS_MAX_PAYLOAD,
    APNS_STALE_TOKEN,
    apns_body,
    apns_headers,
    apns_reason,
    apns_result,
)
from hubbub.core.push import Notification, PushKind, PushResult, Subscription

PRODUCTION_URL = "https://api.push.apple.com"
SANDBOX_URL = "https://api.sandbox.push.apple.com"
RENEW_AFTER_S = 50 * 60
MIN_FORCED_RENEW_S = 20 * 60  # Apple's TooManyProviderTokenUpdates bound
REQUEST_TIMEOUT_S = 10.0


def load_signing_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The .p8 file Apple hands out (a PKCS#8 PEM P-256 key); ValueError saying what is
    wrong otherwise."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ValueError(f"{path} is not an unencrypted PEM private key (.p8)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError(f"{path} is not a P-256 (ES256) key")
    return key


class ProviderToken:
    """`authorization: bearer <JWT>` with kid = key id, iss = team id, iat = when made."""

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey,
        key_id: str,
        team_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key, self.key_id, self.team_id, self.clock = key, key_id, team_id, clock
        self._token = ""
        self._made_at = 0.0
        self._forced = False  # the current token was made because APNs refused the last

    def current(self) -> str:
        now = self.clock()
        if not self._token or now - self._made_at >= RENEW_AFTER_S:
            self._make(now)
        return self._token

    def refused(self, token: str) -> None:
        """APNs refused `token` as expired or invalid: make a new one, unless that was
        done already (another request's refusal came first), or unless the refused one
        was itself such a replacement made under 20 minutes ago (a wrong key or team id
        then renews once, not on every push, and APNs does not lock the provider out)."""
        now = self.clock()
        if token != self._token or (self._forced and now - self._made_at < MIN_FORCED_RENEW_S):
            return
        self._make(now)
        self._forced = True

    def _make(self, now: float) -> None:
        self._forced = False
        claims = {"iss": self.team_id, "iat": int(now)}
        self._token = jwt.encode(claims, self.key, algorithm="ES256",
                                 headers={"kid": self.key_id})  # fmt: skip
        self._made_at = now


class ApnsProvider:
    kind: PushKind = "apns"

    def __init__(
        self,
        token: ProviderToken,
        base_url: str = PRODUCTION_URL,
        *,
        timeout_s: float = REQUEST_TIMEOUT_S,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.token = token
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.ssl_context = ssl_context
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            http2=True,
            verify=self.ssl_context or ssl.create_default_context(),
            timeout=httpx.Timeout(self.timeout_s, connect=min(5.0, self.timeout_s)),
            trust_env=False,
        )

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(self, sub: Subscription, note: Notification) -> PushResult:
        assert self._client is not None, "start() first"
        body = apns_body(note)
        if len(body) > APNS_MAX_PAYLOAD:
            return PushResult("too_large", 413, detail="over 4096 bytes (not sent)")
        headers = apns_headers(sub.topic or "", note, time.time())
        url = f"{self.base_url}/3/device/{(sub.token or '').lower()}"
        bearer = self.token.current()
        response = await self._post(url, body, headers, bearer)
        if isinstance(response, PushResult):
            return response
        if response.status_code == 403 and apns_reason(response.content) in APNS_STALE_TOKEN:
            self.token.refused(bearer)  # renew, and resend once with the new token
            if (renewed := self.token.current()) != bearer:
                response = await self._post(url, body, headers, renewed)
                if isinstance(response, PushResult):
                    return response
        return apns_result(
            response.status_code, response.content, response.headers.get("retry-after")
        )

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str], bearer: str
    ) -> httpx.Response | PushResult:
        """The answer, or a `retry` result for a network error or the deadline."""
        assert self._client is not None, "start() first"
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._client.post(
                    url, content=body, headers={**headers, "authorization": f"bearer {bearer}"}
                )
        except (TimeoutError, httpx.HTTPError, OSError) as error:
            return PushResult("retry", detail=f"{type(error).__name__}: {error}")
