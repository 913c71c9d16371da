"""PushProvider for Firebase Cloud Messaging, HTTP v1 API, authorised as a service
account: an RS256 JWT assertion (pyjwt on `cryptography`) exchanged at the account's
token_uri for an OAuth2 access token (RFC 7523), cached until REFRESH_BEFORE_S before its
`expires_in` runs out; a 401 renews it and the push is resent once. httpx sends both,
each request bounded by a total deadline.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hubbub.core.mobile_push import fcm_message, fcm_result
from hubbub.core.push import Notification, PushKind, PushResult, Subscription

FCM_URL = "https://fcm.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME_S = 3600  # Google's maximum
REFRESH_BEFORE_S = 300
REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ServiceAccount:
    project_id: str
    client_email: str
    private_key: rsa.RSAPrivateKey
    private_key_id: str
    token_uri: str


def load_service_account(path: Path) -> ServiceAccount:
    """The JSON key file of a service account; ValueError saying what is wrong."""
    try:
        info = json.loads(path.read_text())
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from None
    except ValueError:
        raise ValueError(f"{path} is not JSON") from None
    fields = ("project_id", "client_email", "private_key", "token_uri")
    missing = [f for f in fields if not isinstance(info, dict) or not isinstance(info.get(f), str)]
    if missing:
        raise ValueError(f"{path} is not a service account key file (no {', '.join(missing)})")
    try:
        key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError(f"{path}: private_key is not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path}: private_key is not an RSA key")
    if not info["token_uri"].startswith("https://"):
        raise ValueError(f"{path}: token_uri is not an https URL")
    return ServiceAccount(info["project_id"], info["client_email"], key,
                          str(info.get("private_key_id", "")), info["token_uri"])  # fmt: skip


class AccessToken:
    """The OAuth2 access token for FCM, fetched once and shared until it nears expiry."""

    def __init__(self, account: ServiceAccount, clock: Callable[[], float] = time.time) -> None:
        self.account = account
        self.clock = clock
        self._token = ""
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def assertion(self) -> str:
        now = int(self.clock())
        claims = {"iss": self.account.client_email, "scope": SCOPE, "aud": self.account.token_uri,
                  "iat": now, "exp": now + ASSERTION_LIFETIME_S}  # fmt: skip
        headers = {"kid": self.account.private_key_id} if self.account.private_key_id else None
        return jwt.encode(claims, self.account.private_key, algorithm="RS256", headers=headers)

    async def current(self, client: httpx.AsyncClient) -> str:
        async with self._lock:
            if self._token and self.clock() < self._expires_at - REFRESH_BEFORE_S:
                return self._token
            response = await client.post(
                self.account.token_uri,
                data={"grant_type": GRANT_TYPE, "assertion": self.assertion()},
            )
            answer: Any = response.json() if response.content else {}
            if response.status_code != 200 or not isinstance(answer, dict):
                raise httpx.HTTPStatusError(
                    f"token endpoint answered {response.status_code}: {response.text[:200]}",
                    request=response.request, response=response,
                )  # fmt: skip
            self._token = str(answer["access_token"])
            self._expires_at = self.clock() + float(answer.get("expires_in", 3600))
            return self._token

    def refused(self, token: str) -> None:
        """FCM answered 401 for `token`: fetch another next time (once per token)."""
        if token == self._token:
            self._token = ""


class FcmProvider:
    kind: PushKind = "fcm"

    def __init__(
        self,
        account: ServiceAccount,
        base_url: str = FCM_URL,
        *,
        timeout_s: float = REQUEST_TIMEOUT_S,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.account = account
        self.access = AccessToken(account)
        self.send_url = f"{base_url.rstrip('/')}/v1/projects/{account.project_id}/messages:send"
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
        body = json.dumps(fcm_message(sub.token or "", note), separators=(",", ":")).encode()
        result = await self._send_once(body)
        if isinstance(result, str):  # 401: the access token was refused; renew, resend once
            self.access.refused(result)
            result = await self._send_once(body)
        return result if isinstance(result, PushResult) else PushResult("retry", 401)

    async def _send_once(self, body: bytes) -> PushResult | str:
        """The result, or the refused access token after a 401."""
        assert self._client is not None, "start() first"
        try:
            async with asyncio.timeout(self.timeout_s):
                bearer = await self.access.current(self._client)
                response = await self._client.post(self.send_url, content=body, headers={
                    "authorization": f"Bearer {bearer}",
                    "content-type": "application/json; charset=UTF-8",
                })  # fmt: skip
        except (TimeoutError, httpx.HTTPError, OSError, KeyError, ValueError) as error:
            return PushResult("retry", detail=f"{type(error).__name__}: {error}")
        if response.status_code == 401:
            return bearer
        return fcm_result(response.status_code, response.content,
                          response.headers.get("retry-after"))  # fmt: skip
