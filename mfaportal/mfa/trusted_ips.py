"""Trusted IP ranges: requests from them skip the second factor (service settings)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(ranges_text: str) -> tuple[Network, ...]:
    """One CIDR a line; a line that isn't one is ignored here (the settings form refuses it)."""
    networks = []
    for line in ranges_text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            networks.append(ipaddress.ip_network(line, strict=False))
        except ValueError:
            continue
    return tuple(networks)


def ip_is_trusted(address: str | None, ranges_text: str) -> bool:
    if not address or not ranges_text.strip():
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(
        ip.version == network.version and ip in network for network in trusted_networks(ranges_text)
    )
