"""The CSRF token a page draws, masked as Django masks it, at a fraction of the cost.

Django's ``get_token`` masks the session's secret with a fresh random mask on each page
(the BREACH defence), choosing each of the mask's 32 characters by ``secrets.choice``:
about 540 Python calls a page, a tenth of the users page's whole template (issue 15).
Here the mask's characters come from one ``os.urandom`` read, each byte kept only below
248 (four times the 62-character alphabet), so every character is equally likely, as with
``secrets.choice``. The token is the same: 32 mask characters, then the secret shifted by
the mask, which Django's CsrfViewMiddleware unmasks and checks.
"""

from __future__ import annotations

import os

from django.http import HttpRequest
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH, get_token
from django.utils.functional import SimpleLazyObject

_CHARS = CSRF_ALLOWED_CHARS
_INDEX = {char: index for index, char in enumerate(_CHARS)}
# Bytes at or above this are dropped: 248 is 4 times 62, so each kept byte picks each character
# equally often.
_UNBIASED_BELOW = 256 - 256 % len(_CHARS)


def _random_chars(count: int) -> str:
    while True:
        # Half as many bytes again: fewer than `count` of them kept has odds below 1e-15.
        kept = [
            _CHARS[byte % len(_CHARS)]
            for byte in os.urandom(count + count // 2)
            if byte < _UNBIASED_BELOW
        ]
        if len(kept) >= count:
            return "".join(kept[:count])


def masked_token(request: HttpRequest) -> str:
    """The request's CSRF secret under a new mask, and the secret's cookie renewed, as
    ``django.middleware.csrf.get_token`` does. A request with no secret yet (a first visit)
    gets one from ``get_token`` itself."""
    secret = request.META.get("CSRF_COOKIE")
    if not isinstance(secret, str) or len(secret) != CSRF_SECRET_LENGTH:
        return get_token(request)
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True
    mask = _random_chars(CSRF_SECRET_LENGTH)
    shifted = [
        _CHARS[(_INDEX[s] + _INDEX[m]) % len(_CHARS)] for s, m in zip(secret, mask, strict=True)
    ]
    return mask + "".join(shifted)


def csrf_token_for(request: HttpRequest) -> SimpleLazyObject:
    """What ``{{ csrf_token }}`` and ``{% csrf_token %}`` read: worked out only if the page
    draws it, as Django's own context processor does."""
    return SimpleLazyObject(lambda: masked_token(request))
