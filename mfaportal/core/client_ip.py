"""The address a request came from, as seen through trusted reverse proxies.

Behind nginx every request arrives from the proxy's address; per-address rate limits and
trusted-IP ranges need the client's. ``X-Forwarded-For`` is believed only when the direct
peer is one of ``MFAPORTAL_TRUSTED_PROXIES``, and then read from the right, skipping other
trusted proxies, so a client cannot choose its own address by sending the header.
"""

from __future__ import annotations

import ipaddress
from functools import cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _trusted(raw: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in raw)


def _is_trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _trusted(tuple(settings.MFAPORTAL_TRUSTED_PROXIES)))


def client_ip(request: HttpRequest) -> str | None:
    peer = request.META.get("REMOTE_ADDR") or None
    if peer is None or not _is_trusted(peer):
        return peer
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for candidate in reversed([part for part in forwarded if part]):
        if not _is_trusted(candidate):
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                return peer
    return peer
