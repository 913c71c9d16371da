"""The Web Push provider on its own, with its real parts (aiohttp, py_vapid, http_ece)
against the local push service: private addresses refused at send time (a literal one,
and a name that resolves to one: DNS rebinding), VAPID tokens cached and renewed."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from hubbub.adapters.push.webpush import (
    RENEW_BEFORE_S,
    TOKEN_LIFETIME_S,
    VapidSigner,
    WebPushProvider,
    new_vapid_keys,
)
from hubbub.core.push import Subscription, read_notification
from tests.push_service import PushService, make_ca


def _sub(endpoint: str, service: PushService, name: str) -> Subscription:
    browser = service.new_subscription(name)
    keys = browser.body()["keys"]
    return Subscription(1, 2, 3, "webpush", endpoint, keys["p256dh"], keys["auth"])


def test_private_addresses_are_refused_at_send_time(tmp_path: Path) -> None:
    async def body() -> None:
        ca, ca_file = make_ca(tmp_path)
        service = await PushService(ca).start()
        private_pem, public = new_vapid_keys()
        service.server_key = public
        context = ssl.create_default_context(cafile=str(ca_file))
        signer = VapidSigner(private_pem, "mailto:ops@example.com")
        strict = WebPushProvider(signer, ssl_context=context)
        open_ = WebPushProvider(signer, allow_private=True, ssl_context=context)
        await strict.start()
        await open_.start()
        try:
            note = read_notification(5, 0)
            literal = _sub(f"{service.origin}/push/a", service, "a")
            by_name = _sub(f"https://localhost:{service.port}/push/b", service, "b")
            assert (await strict.send(literal, note)).outcome == "refused"
            result = await strict.send(by_name, note)
            assert result.outcome == "refused", result
            assert service.attempts == {}  # nothing reached the network
            assert (await open_.send(literal, note)).outcome == "sent"
            assert service.violations == []
            (push,) = service.pushes("a")
            assert push.payload == {"type": "read", "conversation_id": "5", "unread": 0}
        finally:
            await strict.stop()
            await open_.stop()
            await service.stop()

    asyncio.run(body())


def test_vapid_tokens_are_cached_per_audience_and_renewed_before_expiry() -> None:
    signer = VapidSigner(new_vapid_keys()[0], "mailto:ops@example.com")
    now = 1_800_000_000.0
    first = signer.authorization("https://push.example", now)
    assert signer.authorization("https://push.example", now + 60) == first
    assert signer.authorization("https://other.example", now) != first
    later = now + TOKEN_LIFETIME_S - RENEW_BEFORE_S + 1
    assert signer.authorization("https://push.example", later) != first
