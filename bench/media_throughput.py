"""Upload and download throughput of attachments on one embedded node.

C clients (each its own account and HTTP connection) upload files one at a time, each
waiting for its 201 before the next (a person sends one photo after another), for
`--duration` seconds; then the same clients download what was uploaded, one file at a
time, whole. Reported: files/s and MB/s, latency per file (p50/p99), and the server's
CPU per file and per MB. Kinds of file:

- `file`: random bytes (`--size`, default 4 MiB): the path of any document: stream to the
  staging file while hashing, sniff, rename into the blob store, fsync, commit the rows.
- `photo`: a JPEG camera photo (`--width`x`--height`, default 4032x3024, 12 MP, with EXIF
  orientation 6 and a GPS position), a different original every upload: the same plus the
  bounded decode, rotation, metadata stripped by re-encoding, and a 320 px thumbnail in
  the worker pool.
- `dup`: the same random file every time: dedupe (hash, then one row, no new blob).

    .venv/bin/python bench/media_throughput.py --kind file --clients 8 --duration 15
    .venv/bin/python bench/media_throughput.py --kind photo --clients 4 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

from loadgen.accounts import create_accounts, tag  # noqa: E402
from loadgen.measure import cpu_report, latency_ms, meter  # noqa: E402
from loadgen.server import default_log_path, hubbub_server, say  # noqa: E402

from hubbub.client import HubbubClient  # noqa: E402


def photo(width: int, height: int, seed: int) -> bytes:
    from PIL import ExifTags, Image  # noqa: PLC0415

    rng = random.Random(seed)
    # noise compresses like a real photo (a flat colour would be a few KB)
    noise = rng.randbytes((width // 8) * (height // 8) * 3)
    small = Image.frombytes("RGB", (width // 8, height // 8), noise)
    img = small.resize((width, height), Image.Resampling.BILINEAR)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 31.0, 12.0)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, exif=exif)
    return buf.getvalue()


async def run(a: argparse.Namespace, url: str, pid: int) -> dict[str, Any]:
    accounts = await create_accounts(url, [f"{tag()}m{i}" for i in range(a.clients)])
    clients = [HubbubClient(url, acc.token, timeout=120) for acc in accounts]
    if a.kind == "photo":
        files = [photo(a.width, a.height, i) for i in range(8)]
        content_type = "image/jpeg"
    elif a.kind == "dup":
        files = [os.urandom(a.size)]
        content_type = "application/octet-stream"
    else:
        files = None
        content_type = "application/octet-stream"
    uploaded: list[tuple[HubbubClient, str, int]] = []
    up_lat: list[int] = []
    sent_bytes = 0
    stop_at = time.monotonic() + a.duration

    async def uploader(i: int, api: HubbubClient) -> None:
        nonlocal sent_bytes
        n = 0
        while time.monotonic() < stop_at:
            data = files[(i + n) % len(files)] if files else os.urandom(a.size)
            if a.kind == "photo":  # a new original each time (bytes after the JPEG's end
                data += os.urandom(16)  # marker: decoders ignore them), so each is cleaned
            n += 1
            t0 = time.perf_counter_ns()
            up = await api.upload(data, content_type=content_type, filename="f")
            up_lat.append(time.perf_counter_ns() - t0)
            sent_bytes += len(data)
            uploaded.append((api, up["media_id"], up["size"]))

    start = meter(pid)
    t0 = time.monotonic()
    await asyncio.gather(*(uploader(i, c) for i, c in enumerate(clients)))
    up_s = time.monotonic() - t0
    mid = meter(pid)
    up_report = {
        "files": len(uploaded),
        "files_per_s": round(len(uploaded) / up_s, 1),
        "mb_per_s": round(sent_bytes / up_s / 1e6, 1),
        "latency_ms": latency_ms(up_lat),
        **cpu_report(pid, start, mid, len(uploaded), "file"),
        "server_cpu_ms_per_mb": round((mid.srv - start.srv) * 1e3 / (sent_bytes / 1e6), 2),
    }
    say(f"upload: {up_report}")

    down_lat: list[int] = []
    got_bytes = 0
    queue = list(uploaded)

    async def downloader() -> None:
        nonlocal got_bytes
        while queue:
            api, media_id, size = queue.pop()
            t = time.perf_counter_ns()
            r = await api.download(media_id)
            down_lat.append(time.perf_counter_ns() - t)
            assert r.status_code == 200 and len(r.content) == size
            got_bytes += size

    t1 = time.monotonic()
    await asyncio.gather(*(downloader() for _ in clients))
    down_s = time.monotonic() - t1
    end = meter(pid)
    down_report = {
        "files": len(down_lat),
        "files_per_s": round(len(down_lat) / down_s, 1),
        "mb_per_s": round(got_bytes / down_s / 1e6, 1),
        "latency_ms": latency_ms(down_lat),
        **cpu_report(pid, mid, end, len(down_lat), "file"),
        "server_cpu_ms_per_mb": round((end.srv - mid.srv) * 1e3 / max(got_bytes / 1e6, 1e-9), 2),
    }
    say(f"download: {down_report}")
    for c in clients:
        await c.aclose()
    return {
        "bench": "media_throughput",
        "kind": a.kind,
        "clients": a.clients,
        "file_bytes": a.size if a.kind != "photo" else round(sum(map(len, files or [])) / 8),
        "photo": f"{a.width}x{a.height}" if a.kind == "photo" else None,
        "upload": up_report,
        "download": down_report,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--kind", choices=("file", "photo", "dup"), default="file")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--duration", type=float, default=15.0)
    p.add_argument("--size", type=int, default=4 << 20)
    p.add_argument("--width", type=int, default=4032)
    p.add_argument("--height", type=int, default=3024)
    p.add_argument("--out", type=Path, default=None, help="append the JSON line here")
    a = p.parse_args()
    log_path = default_log_path("media")
    with log_path.open("w") as log, hubbub_server(log, log_path) as srv:
        report = asyncio.run(run(a, srv.url, srv.pid))
    line = json.dumps(report)
    print(line)
    if a.out:
        with a.out.open("a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
