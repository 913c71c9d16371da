"""Who the client is, by address: the TCP peer, or, when the peer is a proxy we trust,
the client it names in X-Forwarded-For. Rate limits and connection caps key on this."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    def __init__(self, networks: Iterable[str] = ()) -> None:
        """`networks`: addresses or CIDR blocks (127.0.0.1, 10.0.0.0/8, ::1)."""
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(n.strip(), strict=False) for n in networks if n.strip()
        )

    def trusts(self, address: str) -> bool:
        if not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def client_address(self, peer: str, forwarded_for: str | None) -> str:
        """The peer itself unless it is a trusted proxy; then the nearest address in
        X-Forwarded-For that is not a trusted proxy (earlier entries are the client's
        own claims and cannot be believed). Garbage in the header stops the walk."""
        if not forwarded_for or not self.trusts(peer):
            return peer
        nearest = peer
        for hop in reversed(forwarded_for.split(",")):
            try:
                ip = str(ipaddress.ip_address(hop.strip()))
            except ValueError:
                return nearest
            if not self.trusts(ip):
                return ip
            nearest = ip
        return nearest
