"""The address a request came from, as seen through trusted reverse proxies.

Behind nginx every request arrives from the proxy's address; per-address rate limits, audit
and trusted-IP ranges need the client's. ``X-Forwarded-For`` is believed only when the
direct peer is one of ``MFAPORTAL_TRUSTED_PROXIES``, and then read from the right, skipping
other trusted proxies, so a client cannot choose its own address by sending the header.

A forwarding header from a peer that is *not* trusted most often means a proxy that nobody
listed: every client then looks like the proxy, and one guesser's failures would count
against everyone. The portal says so loudly (a log warning once per process, a banner on
the admin pages, and ``check --deploy`` when no proxy is listed in production), and
trusted-IP ranges are not applied to such requests.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from functools import cache

from django.conf import settings
from django.core import checks
from django.core.cache import cache as shared_cache
from django.http import HttpRequest

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

UNTRUSTED_FORWARDING_KEY = "mfaportal:untrusted-forwarding-seen"
UNTRUSTED_FORWARDING_REMEMBERED = 24 * 60 * 60  # seconds the admin banner stays up
_NOTE_EVERY = 60.0  # seconds between two writes of the cache mark by one process
_last_noted = {"logged": False, "at": 0.0}


@cache
def _trusted(raw: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in raw)


def _is_trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _trusted(tuple(settings.MFAPORTAL_TRUSTED_PROXIES)))


def forwarded_by_untrusted_peer(request: HttpRequest) -> bool:
    """The request carries X-Forwarded-For or Forwarded, and its direct peer is not a
    trusted proxy: the header is ignored, and the peer may well be a proxy nobody listed."""
    meta = request.META
    if not (meta.get("HTTP_X_FORWARDED_FOR") or meta.get("HTTP_FORWARDED")):
        return False
    peer = meta.get("REMOTE_ADDR") or ""
    return not _is_trusted(peer)


def untrusted_forwarding_note(request: HttpRequest) -> bool:
    """Record (and warn, once per process) that a forwarding header came from an untrusted
    peer. Returns whether this request is such a one."""
    if not forwarded_by_untrusted_peer(request):
        return False
    peer = request.META.get("REMOTE_ADDR") or "unknown"
    if not _last_noted["logged"]:
        _last_noted["logged"] = True
        logger.warning(
            "A request from %s carried X-Forwarded-For/Forwarded, but %s is not in "
            "MFAPORTAL_TRUSTED_PROXIES: the header is ignored, so every client behind that "
            "proxy counts as %s (rate limits, audit, trusted IPs). List the proxy in "
            "MFAPORTAL_TRUSTED_PROXIES (docs/deployment.md).",
            peer,
            peer,
            peer,
        )
    now = time.monotonic()
    if now - _last_noted["at"] >= _NOTE_EVERY:
        _last_noted["at"] = now
        shared_cache.set(UNTRUSTED_FORWARDING_KEY, peer, UNTRUSTED_FORWARDING_REMEMBERED)
    return True


def untrusted_forwarding_seen() -> str | None:
    """The peer that last sent a forwarding header without being trusted, recently."""
    seen = shared_cache.get(UNTRUSTED_FORWARDING_KEY)
    return str(seen) if seen else None


def client_ip(request: HttpRequest) -> str | None:
    peer = request.META.get("REMOTE_ADDR") or None
    if peer is None or not _is_trusted(peer):
        untrusted_forwarding_note(request)
        return peer
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for candidate in reversed([part for part in forwarded if part]):
        if not _is_trusted(candidate):
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                return peer
    return peer


def client_ip_for_trust(request: HttpRequest) -> str | None:
    """The client address to test against the trusted-IP ranges (which skip the second
    factor), or None when it can't be known: a request forwarded by a proxy that is not
    trusted must not pass for one from the proxy's own (often internal) address."""
    if forwarded_by_untrusted_peer(request):
        untrusted_forwarding_note(request)
        return None
    return client_ip(request)


@checks.register(checks.Tags.security, deploy=True)
def trusted_proxies_check(**_kwargs: object) -> list[checks.CheckMessage]:
    """Behind a reverse proxy (the documented deployment) an empty list makes every client
    the proxy: one guesser locks everyone out, and the audit shows one address."""
    if settings.DEBUG or settings.MFAPORTAL_TRUSTED_PROXIES:
        return []
    return [
        checks.Warning(
            "MFAPORTAL_TRUSTED_PROXIES is empty: behind a reverse proxy every client will "
            "look like the proxy (one address for sign-in limits, audit and trusted IPs).",
            hint="Set MFAPORTAL_TRUSTED_PROXIES to the proxy's address (e.g. 127.0.0.1/32), "
            "see docs/deployment.md; if clients connect directly, silence this check with "
            "SILENCED_SYSTEM_CHECKS.",
            id="mfaportal.W001",
        )
    ]
