"""What a URL without arguments reverses to, kept per process (issue 15).

Django's ``reverse`` costs ~12 µs a call, and a page such as the users tab asks for about
twenty-five URLs that never change while the process runs: the same name, URL configuration,
script prefix and application namespace always give the same text. ``{% url %}``
(core.templatetags.cached_url) and the views' links without arguments read them here.
"""

from __future__ import annotations

from typing import Any

from django.core.signals import setting_changed
from django.urls import get_script_prefix, get_urlconf, reverse

# Bounded: a template's view name can come from a variable.
_REVERSED: dict[tuple[str, str | None, str, str | None, tuple[Any, ...]], str] = {}
_KEPT_AT_MOST = 1000


def reverse_plain(
    view_name: str, *, current_app: str | None = None, args: tuple[Any, ...] = ()
) -> str:
    """``reverse(view_name)`` for a URL that takes no arguments, or the same fixed ``args``
    each time; NoReverseMatch as Django."""
    key = (view_name, get_urlconf(), get_script_prefix(), current_app, args)
    url = _REVERSED.get(key)
    if url is None:
        url = reverse(view_name, args=args, current_app=current_app)
        if len(_REVERSED) < _KEPT_AT_MOST:
            _REVERSED[key] = url
    return url


def _urls_changed(sender: Any, setting: str, **kwargs: Any) -> None:
    """A test that swaps the URL configuration gets its own URLs, as ``reverse`` does."""
    if setting == "ROOT_URLCONF":
        _REVERSED.clear()


setting_changed.connect(_urls_changed)
