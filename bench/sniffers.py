"""What a file is, from its first 8 KiB: filetype (the one Hubbub uses) against puremagic
(pure Python too, bigger signature database), and against python-magic (libmagic) when
installed. Per call, best of 5 runs of 2,000 calls, over a JPEG, a PNG, an MP4, a PDF, an
HTML page and random bytes; and what each answers, since a sniffer that calls a page
"text/html" or random bytes "image/x" matters more than its speed.

    .venv/bin/pip install puremagic    # not a dependency: only for this comparison
    .venv/bin/python bench/sniffers.py
"""

from __future__ import annotations

import io
import os
import struct
import time
from collections.abc import Callable

from PIL import Image


def samples() -> dict[str, bytes]:
    jpeg, png = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(jpeg, "JPEG")
    Image.new("RGB", (64, 64), (1, 2, 3)).save(png, "PNG")
    ftyp = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isomiso2"
    return {
        "jpeg": jpeg.getvalue(),
        "png": png.getvalue(),
        "mp4": ftyp + os.urandom(8000),
        "pdf": b"%PDF-1.7\n" + os.urandom(8000),
        "html": b"<!doctype html><html><script>alert(1)</script></html>" * 20,
        "random": os.urandom(8192),
    }


def sniffers() -> dict[str, Callable[[bytes], str | None]]:
    import filetype  # type: ignore[import-untyped]  # noqa: PLC0415

    found: dict[str, Callable[[bytes], str | None]] = {
        "filetype": lambda b: (k.mime if (k := filetype.guess(b)) else None)
    }
    try:
        import puremagic  # type: ignore[import-not-found]  # noqa: PLC0415

        def pm(b: bytes) -> str | None:
            try:
                return str(puremagic.from_string(b, mime=True)) or None
            except puremagic.PureError:
                return None

        found["puremagic"] = pm
    except ImportError:
        pass
    try:
        import magic  # type: ignore[import-not-found]  # noqa: PLC0415

        found["python-magic"] = lambda b: str(magic.from_buffer(b, mime=True))
    except ImportError:
        pass
    return found


def main() -> None:
    files = samples()
    for name, sniff in sniffers().items():
        answers = {k: sniff(v[:8192]) for k, v in files.items()}
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(2000 // len(files)):
                for data in files.values():
                    sniff(data[:8192])
            best = min(best, (time.perf_counter() - t) / (2000 // len(files) * len(files)))
        print(f"{name:13} {best * 1e6:7.1f} us/call  {answers}")


if __name__ == "__main__":
    main()
