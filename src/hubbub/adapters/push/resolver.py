"""Host names to addresses, refusing private ones (a guard against a subscription that
points the server at its own network, and against DNS rebinding: the HTTP client
connects only to addresses that passed the check, resolved once)."""

from __future__ import annotations

import socket
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from hubbub.core.push import is_public_address


class PrivateAddressError(OSError):
    """The host resolves only to addresses the node must not reach."""


class SystemResolver:
    """HostResolver with the system's resolver (made on first use: it needs the loop)."""

    def __init__(self) -> None:
        self._resolver: AbstractResolver | None = None

    async def addresses(self, host: str) -> list[str]:
        if self._resolver is None:
            self._resolver = DefaultResolver()
        try:
            found = await self._resolver.resolve(host, 443, socket.AF_UNSPEC)
        except OSError:
            return []
        return sorted({r["host"] for r in found})


class PublicOnlyResolver(AbstractResolver):
    """aiohttp's resolver that drops private addresses; a host with none left fails to
    connect (OSError), as one that does not resolve."""

    def __init__(self) -> None:
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = [r for r in await self._resolver.resolve(host, port, family)
                 if is_public_address(r["host"])]  # fmt: skip
        if not found:
            raise PrivateAddressError(f"{host} resolves only to private addresses")
        return found

    async def close(self, *args: Any) -> None:
        await self._resolver.close()
