"""Micro-benchmark of the JSON codec on Hubbub's hot frames: decode+validate a `send`
frame, and encode a `message` frame. Run: .venv/bin/python bench/json_codecs.py"""

from __future__ import annotations

import json
import timeit

import msgspec
import orjson

from hubbub.core.frames import decode_client_frame, encode
from hubbub.core.model import Message

RAW = json.dumps(
    {"type": "send", "client_msg_id": "3f2c9a1e5b7d4c8e9f0a1b2c3d4e5f60",
     "to": "383408467785809920", "body": "x" * 64}
).encode()
MESSAGE = Message("383408468515618816", "383408468490452992", "direct", "383408467785809920",
                  "x" * 64, 1763942400000, "3f2c9a1e5b7d4c8e9f0a1b2c3d4e5f60")
AS_DICT = msgspec.structs.asdict(MESSAGE)


def orjson_decode_and_validate() -> None:
    frame = orjson.loads(RAW)
    if not isinstance(frame, dict) or frame.get("type") != "send":
        raise ValueError
    for key in ("client_msg_id", "body"):
        if not isinstance(frame.get(key), str):
            raise ValueError
    to = frame.get("to")
    if to is not None and not isinstance(to, str):
        raise ValueError


def main() -> None:
    cases = {
        "decode+validate send: msgspec typed (core.frames)": lambda: decode_client_frame(RAW),
        "decode+validate send: orjson + hand checks": orjson_decode_and_validate,
        "decode send: stdlib json (no checks)": lambda: json.loads(RAW),
        "encode message: msgspec Struct": lambda: encode(MESSAGE),
        "encode message: orjson dict": lambda: orjson.dumps(AS_DICT),
        "encode message: stdlib json dict": lambda: json.dumps(AS_DICT).encode(),
    }
    n = 200_000
    for name, fn in cases.items():
        best = min(timeit.repeat(fn, number=n, repeat=5)) / n * 1e9
        print(f"{best:8.0f} ns  {name}")


if __name__ == "__main__":
    main()
