"""The one-to-one benchmark runs against a real server for a few seconds and loses and
doubles nothing. No timing is asserted: numbers belong in bench/results, not in tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_one_to_one_bench_smoke(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "throughput.py"),
            "--pairs",
            "3",
            "--window",
            "4",
            "--duration",
            "2",
            "--no-pin",
            "--server-log",
            str(tmp_path / "server.log"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["acked"] > 0, result
    assert result["lost"] == 0 and result["duplicated"] == 0, result
