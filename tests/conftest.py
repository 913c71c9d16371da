"""Fixtures: a real `hubbub serve` process on a free port and a fresh data dir, and one
throwaway PostgreSQL server per session (for the Store contract tests and the cluster
tests). Without PostgreSQL's binaries (apt-get install postgresql) those tests are
skipped, except in CI (CI=true) or with HUBBUB_REQUIRE_SERVERS=1, where they fail."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg_server import PostgresServer, find_bindir
from tests.s3_server import S3Server
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


def _servers_required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("HUBBUB_REQUIRE_SERVERS") == "1"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = find_bindir()
    if bindir is None:
        message = "PostgreSQL is not installed (apt-get install postgresql)"
        if _servers_required():
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer(bindir).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """The DSN of the server's `postgres` database (tests wanting a fresh database use
    tests.pg_server.create_database)."""
    return postgres_server.dsn()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server in its own process, for the S3 blob store and the media tests."""
    try:
        import moto.server  # noqa: F401, PLC0415 - only to know it is installed
    except ImportError:
        message = "moto[server] is not installed (pip install -e '.[test]')"
        if _servers_required():
            pytest.fail(message)
        pytest.skip(message)
    server = S3Server(tmp_path_factory.mktemp("s3")).start()
    yield server
    server.stop()
