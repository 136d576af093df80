"""Per-address limits and trusted IPs see the client's address, even behind a proxy."""

from __future__ import annotations

from django.http import HttpRequest
from django.test import RequestFactory, override_settings

from mfaportal.core.client_ip import client_ip


def request(remote: str, forwarded: str | None = None) -> HttpRequest:
    request = RequestFactory().get("/")
    request.META["REMOTE_ADDR"] = remote
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


def test_without_trusted_proxies_the_peer_address_is_the_client() -> None:
    assert client_ip(request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


@override_settings(MFAPORTAL_TRUSTED_PROXIES=["127.0.0.1/32", "10.0.0.0/8"])
def test_behind_a_trusted_proxy_the_forwarded_client_is_used() -> None:
    assert client_ip(request("127.0.0.1", "198.51.100.7")) == "198.51.100.7"
    # A chain of trusted proxies is skipped from the right.
    assert client_ip(request("127.0.0.1", "198.51.100.7, 10.1.2.3")) == "198.51.100.7"


@override_settings(MFAPORTAL_TRUSTED_PROXIES=["127.0.0.1/32"])
def test_a_client_cannot_choose_its_address_with_a_forged_header() -> None:
    # The forged left-most value is ignored: the proxy appended the real peer.
    assert client_ip(request("127.0.0.1", "1.2.3.4, 198.51.100.7")) == "198.51.100.7"
    # A direct, untrusted peer's header is ignored altogether.
    assert client_ip(request("198.51.100.8", "1.2.3.4")) == "198.51.100.8"


@override_settings(MFAPORTAL_TRUSTED_PROXIES=["127.0.0.1/32"])
def test_garbage_in_the_header_falls_back_to_the_peer() -> None:
    assert client_ip(request("127.0.0.1", "not-an-address")) == "127.0.0.1"
