"""What the push outbox costs the message path when nobody has a subscription: the SQLite
store's append_message, in batches as the group commit makes them, timed per message.
Run it against two source trees to compare (PYTHONPATH=<tree>/src python bench/push_overhead.py).

    python bench/push_overhead.py [messages] [rounds]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hubbub.adapters.sqlite import SqliteStore
from hubbub.core.ids import IdGenerator

IN_FLIGHT = 64


async def one_round(messages: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp), IdGenerator(1))
        await store.open()
        try:
            users = [await store.create_user(f"user{i}", "h", f"U{i}") for i in range(100)]
            pairs = [(users[i], users[(i + 1) % 100]) for i in range(100)]
            for a, b in pairs:  # conversations exist first: time the steady state
                await store.append_message(a.user_id, "warm", "x", to_user=b.user_id,
                                           conversation_id=None)  # fmt: skip
            started = time.perf_counter()
            cpu = time.process_time()
            for chunk in range(0, messages, IN_FLIGHT):
                await asyncio.gather(*(
                    store.append_message(
                        pairs[i % 100][0].user_id, f"k{i}", "hello there",
                        to_user=pairs[i % 100][1].user_id, conversation_id=None,
                    )
                    for i in range(chunk, min(chunk + IN_FLIGHT, messages))
                ))  # fmt: skip
            del started
            return (time.process_time() - cpu) / messages * 1e6
        finally:
            await store.close()


def main() -> None:
    messages = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    costs = [asyncio.run(one_round(messages)) for _ in range(rounds)]
    print(f"CPU per message: median {statistics.median(costs):.1f} us "
          f"({', '.join(f'{c:.1f}' for c in costs)})")  # fmt: skip


if __name__ == "__main__":
    main()
