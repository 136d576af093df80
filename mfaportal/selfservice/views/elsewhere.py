"""Security info the directory of record keeps (graph mode): Microsoft's My Sign-Ins is the
place to change it. A change made on these pages would be the cache's alone, never reach
Microsoft Entra ID, and be undone by the next sync; so they hand the person over instead
and change nothing here."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from mfaportal.directory.interface import get_directory


def kept_by_the_directory(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        url = get_directory().security_info_url()
        if not url:
            return view(request, *args, **kwargs)
        if request.method not in ("GET", "HEAD"):
            return redirect("selfservice:setup")  # nothing is changed here
        return render(
            request, "selfservice/security_info_elsewhere.html", {"security_info_url": url}
        )

    return wrapper
