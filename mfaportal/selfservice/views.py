from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from mfaportal.core.permissions import signed_in_required
from mfaportal.mfa.selectors import strong_authentication_methods, user_mfa
from mfaportal.selfservice.forms import SignInForm
from mfaportal.selfservice.signin import password_check


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """The ``next=`` target if it stays on this site, else the home page."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return settings.LOGIN_REDIRECT_URL


@require_http_methods(["GET", "POST"])
def signin(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next", "")
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check = password_check(
            user_principal_name=form.cleaned_data["username"],
            password=form.cleaned_data["password"],
        )
        if check.user is not None:
            login(request, check.user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(safe_next(request, next_url))
        form.add_error(None, check.error)
    return render(request, "selfservice/signin.html", {"form": form, "next": next_url})


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("signin")


@signed_in_required
def setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    mfa = user_mfa(user)  # type: ignore[arg-type]
    methods = list(user.methods.all())  # type: ignore[union-attr]
    return render(
        request,
        "selfservice/setup.html",
        {
            "mfa": mfa,
            "methods": methods,
            "strong_methods": strong_authentication_methods(methods, mfa.default_method),
        },
    )
