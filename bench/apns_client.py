"""The APNs provider's own cost: N pushes through ApnsProvider (httpx over HTTP/2, one
multiplexed connection) to the local APNs stand-in (tests/apns_service.py, in its own
thread, verifying each JWT and header), `concurrency` in flight. Prints the wall time and
the CPU of the provider's thread alone (time.thread_time), per push.
Run: PYTHONPATH=. .venv/bin/python bench/apns_client.py [N] [CONCURRENCY]"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from tests.apns_service import ApnsService
from tests.push_service import make_ca

from hubbub.adapters.push.apns import ApnsProvider, ProviderToken
from hubbub.core.push import Subscription, message_notification


async def main(n: int, concurrency: int) -> None:
    ca, ca_file = make_ca(Path(tempfile.mkdtemp()))
    key = ec.generate_private_key(ec.SECP256R1())
    service = ApnsService(ca, "ABC123DEFG", "DEF123GHIJ", key.public_key()).start()
    os.environ["SSL_CERT_FILE"] = str(ca_file)
    provider = ApnsProvider(ProviderToken(key, "ABC123DEFG", "DEF123GHIJ"), service.url)
    await provider.start()
    subs = [Subscription(i + 1, 1, 1, "apns", token=service.register(os.urandom(32).hex(),
            "com.example.app"), topic="com.example.app") for i in range(64)]  # fmt: skip
    note = message_notification("full", conversation_id=7, kind="direct", message_id=9,
                                seq=1, sender_id=2, unread=3, sender_name="Ann",
                                body="hello " * 10)  # fmt: skip
    slots = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with slots:
            result = await provider.send(subs[i % len(subs)], note)
            assert result.outcome == "sent", result

    await one(0)  # connect first
    wall, cpu = time.perf_counter(), time.thread_time()
    await asyncio.gather(*(one(i) for i in range(n)))
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    await provider.stop()
    service.stop()
    print(f"{n} pushes, {concurrency} in flight: {n / wall:,.0f}/s wall, "
          f"provider CPU {cpu / n * 1e6:,.0f} us per push")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    asyncio.run(main(*(args + [2000, 32][len(args):])))
