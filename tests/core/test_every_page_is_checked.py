"""Every route is either an HTML page that a browser tour checks with axe-core
(tests/e2e/test_every_page_accessible.py) or listed here with why it is not a page.

A new page added without a tour checking it fails here, before any browser starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.urls import URLPattern, URLResolver, get_resolver

from tests.e2e import test_passkeys_browser  # noqa: F401  (its tours declare the passkey pages)
from tests.e2e.test_every_page_accessible import COVERED_BY_TOURS, ERROR_PAGES

# Routes that never answer with a page of their own, and why.
NOT_A_PAGE: dict[str, str] = {
    "home": "redirects to the signed-in person's start page (or to sign-in)",
    "favicon": "redirects to the portal's icon among the static files",
    "health": "JSON liveness probe",
    "ready": "JSON readiness probe",
    "set_language": "POST-only: sets the language, then redirects back",
    "legacy_auth": "HTTP Basic endpoint for legacy mail clients: JSON, 200 or 401",
    "telephony_call": "JSON callback for the telephony gateway",
    "entra:start": "redirects to Microsoft Entra ID; its error page is the one entra:callback "
    "shows (entra/signin_error.html)",
    "demo:phone_answer": "POST-only: answers a simulated call, then redirects to demo:phone",
    "demo:authenticator_respond": "POST-only: approves or denies, then redirects to "
    "demo:authenticator",
    "entra:sync_now": "POST-only: queues a sync, then redirects to entra:sync",
    "admin_portal:users_count": "htmx fragment (the select-all link) inside admin_portal:users",
    "admin_portal:recent_jobs": "htmx fragment (background updates) inside admin_portal:users",
    "admin_portal:users_report": "CSV download",
    "admin_portal:signins_csv": "CSV download",
    "admin_portal:user_revoke": "POST-only: revokes, then redirects to admin_portal:user_detail",
    "admin_portal:user_fraud_unblock": "POST-only: unblocks, then redirects to the user detail",
    "admin_portal:user_tap_delete": "POST-only: deletes the pass, then redirects to the user "
    "detail",
    "admin_portal:user_passkey_delete": "POST-only: deletes, then redirects to the user detail",
    "admin_portal:job_results": "CSV download",
    "admin_portal:job_resume": "POST-only: queues the job again, then redirects to its page",
    "admin_portal:bulk_sample": "CSV download",
    "admin_portal:bulk_apply": "POST-only: starts the update, then redirects to its job page",
    "selfservice:method_delete": "POST-only: deletes, then redirects to selfservice:setup",
    "selfservice:restore_devices": "POST-only: restores, then redirects to selfservice:setup",
    "admin_portal:hardware_token_assign": "POST-only: assigns, then redirects to the token list",
    "admin_portal:hardware_token_deactivate": "POST-only: deactivates, then redirects to the "
    "token list or the user detail",
    "admin_portal:hardware_token_delete": "POST-only: deletes, then redirects to the token list "
    "or the user detail",
    "admin_portal:user_hardware_token_activate": "POST-only: activates, then redirects to the "
    "user detail",
    "selfservice:hardware_token_activate": "POST-only: activates, then redirects to "
    "selfservice:setup",
    "selfservice:passkey_setup": "POST-only: starts adding a passkey, then redirects to "
    "selfservice:passkey_new (or to the password first)",
    "selfservice:passkey_rename": "POST-only: renames, then redirects to selfservice:setup",
}


def routes(
    patterns: Iterable[URLPattern | URLResolver] | None = None, namespace: str = ""
) -> Iterator[str]:
    """Every route's name as ``reverse()`` takes it (``namespace:name``); an unnamed route
    yields its pattern in angle brackets, so that it can't be declared and fails."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from routes(pattern.url_patterns, inner)
        elif pattern.name:
            yield namespace + pattern.name
        else:
            yield f"<unnamed route {pattern.pattern}>"


def unchecked(names: Iterable[str]) -> list[str]:
    covered = set().union(*COVERED_BY_TOURS.values())
    return sorted(name for name in names if name not in covered and name not in NOT_A_PAGE)


def test_every_route_is_a_page_a_tour_checks_or_is_listed_as_not_a_page() -> None:
    missing = unchecked(routes())
    assert not missing, (
        f"{missing}: add each to a tour in tests/e2e/test_every_page_accessible.py (and check "
        "it there), or to NOT_A_PAGE here with the reason it is not an HTML page."
    )


def test_a_new_page_nobody_checks_is_caught() -> None:
    assert unchecked([*routes(), "admin_portal:a_new_page"]) == ["admin_portal:a_new_page"]


def test_the_walk_finds_routes_inside_namespaces_and_plain_includes() -> None:
    found = set(routes())
    assert {"signin", "set_language", "signin_flow:verify", "admin_portal:job"} <= found


def test_nothing_is_both_a_checked_page_and_not_a_page() -> None:
    covered = set().union(*COVERED_BY_TOURS.values())
    assert not covered & NOT_A_PAGE.keys()


def test_every_name_declared_is_a_route_or_an_error_page() -> None:
    """A page renamed or removed is taken out of the tours and of NOT_A_PAGE too."""
    known = set(routes()) | set(ERROR_PAGES.values())
    declared = set().union(*COVERED_BY_TOURS.values()) | NOT_A_PAGE.keys()
    assert not declared - known
