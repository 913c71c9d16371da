"""Fixtures for the Bus contract tests: one throwaway redis-server per session.

Import them into a test module (`from tests.bus_fixtures import redis_url  # noqa: F401`).
Without redis-server the Redis tests are skipped, except in CI (CI=true) or with
HUBBUB_REQUIRE_SERVERS=1, where they fail."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.redis_server import RedisServer, redis_server_binary


def servers_required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("HUBBUB_REQUIRE_SERVERS") == "1"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if redis_server_binary() is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if servers_required():
            pytest.fail(message)
        pytest.skip(message)
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    if not redis_server.ping():  # a test that restarted it and failed halfway
        redis_server.restart()
    return redis_server.url
