"""Fixtures: a real `hubbub serve` process on a free port and a fresh data dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    s = ServerProcess(tmp_path_factory.mktemp("hubbub")).start()
    yield s
    s.stop()
    assert "Traceback" not in s.log(), s.log()[-5000:]


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[ServerProcess]:
    s = ServerProcess(tmp_path / "data").start()
    yield s
    s.stop()
