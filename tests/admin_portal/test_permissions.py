"""Every admin URL for anonymous visitors, plain users and global administrators, and every
write a POST that needs the CSRF token. Each of Entra's roles against every URL is
tests/core/test_permission_matrix.py.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse

from mfaportal.admin_portal.models import BulkJob, BulkUpload
from mfaportal.core import roles
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState, ServiceSettings, UserMfa
from tests.factories import make_user

pytestmark = pytest.mark.django_db

STAFF, ADMIN = "staff", "admin"


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    who: str  # the least role allowed
    kwargs: tuple[tuple[str, str], ...] = ()
    data: tuple[tuple[str, str], ...] = ()


ENDPOINTS = [
    Endpoint("admin_portal:active_users", "get", STAFF),
    Endpoint("admin_portal:active_users", "get", STAFF, data=(("user", "{target_oid}"),)),
    Endpoint("admin_portal:users", "get", STAFF),
    Endpoint("admin_portal:steps", "get", STAFF, data=(("u", "{target}"),)),
    Endpoint("admin_portal:step", "get", STAFF, (("step", "enable"),), (("u", "{target}"),)),
    Endpoint("admin_portal:step", "post", STAFF, (("step", "enable"),), (("u", "{target}"),)),
    Endpoint("admin_portal:step", "post", STAFF, (("step", "manage"),), (("u", "{target}"),)),
    Endpoint("admin_portal:users_count", "get", ADMIN),
    Endpoint("admin_portal:users_report", "get", ADMIN),
    Endpoint("admin_portal:recent_jobs", "get", STAFF),
    Endpoint("admin_portal:user_detail", "get", STAFF, (("object_id", "{target_oid}"),)),
    Endpoint(
        "admin_portal:user_manage",
        "post",
        STAFF,
        (("object_id", "{target_oid}"),),
        (("delete_app_passwords", "on"),),
    ),
    Endpoint("admin_portal:user_revoke", "post", STAFF, (("object_id", "{target_oid}"),)),
    Endpoint("admin_portal:user_fraud_unblock", "post", STAFF, (("object_id", "{target_oid}"),)),
    Endpoint("admin_portal:user_password_reset", "get", STAFF, (("object_id", "{target_oid}"),)),
    Endpoint("admin_portal:user_password_reset", "post", STAFF, (("object_id", "{target_oid}"),)),
    Endpoint(
        "admin_portal:user_password_shown",
        "get",
        STAFF,
        (("object_id", "{target_oid}"), ("secret_id", "{secret}")),
    ),
    Endpoint("admin_portal:job", "get", STAFF, (("job_id", "{job}"),)),
    Endpoint("admin_portal:job_results", "get", STAFF, (("job_id", "{job}"),)),
    Endpoint("admin_portal:job_resume", "post", ADMIN, (("job_id", "{job}"),)),
    Endpoint("admin_portal:bulk_update", "get", ADMIN),
    Endpoint("admin_portal:bulk_update", "post", ADMIN),
    Endpoint("admin_portal:bulk_sample", "get", ADMIN),
    Endpoint("admin_portal:bulk_verify", "get", ADMIN, (("upload_id", "{upload}"),)),
    Endpoint("admin_portal:bulk_apply", "post", ADMIN, (("upload_id", "{upload}"),)),
    Endpoint("admin_portal:service_settings", "get", ADMIN),
    Endpoint(
        "admin_portal:service_settings",
        "post",
        ADMIN,
        data=(("app_passwords", "allow"), ("method_call", "on"), ("remember_devices_days", "30")),
    ),
    Endpoint("admin_portal:audit", "get", ADMIN),
    Endpoint("admin_portal:guide", "get", STAFF),
    # Temporary Access Pass (issue 16.2) and the sign-in log (issue 16.5).
    Endpoint("admin_portal:user_tap", "get", STAFF, (("object_id", "{target_oid}"),)),
    Endpoint(
        "admin_portal:user_tap",
        "post",
        STAFF,
        (("object_id", "{target_oid}"),),
        (("lifetime", "1"), ("unit", "hours")),
    ),
    Endpoint(
        "admin_portal:user_tap_shown",
        "get",
        STAFF,
        (("object_id", "{target_oid}"), ("secret_id", "{secret}")),
    ),
    Endpoint("admin_portal:user_tap_delete", "post", STAFF, (("object_id", "{target_oid}"),)),
    Endpoint(
        "admin_portal:user_passkey_delete",
        "post",
        STAFF,
        (("object_id", "{target_oid}"), ("method_id", "999999")),
    ),
    Endpoint("admin_portal:signins", "get", STAFF),
    Endpoint("admin_portal:signins_csv", "get", STAFF),
    # Hardware OATH tokens (issue 16.3); a token id no token has: the service says so.
    Endpoint("admin_portal:hardware_tokens", "get", STAFF),
    Endpoint("admin_portal:hardware_tokens", "post", STAFF),
    Endpoint(
        "admin_portal:hardware_token_assign",
        "post",
        STAFF,
        (("token_id", "999999"),),
        (("user", "target@contoso.test"),),
    ),
    Endpoint("admin_portal:hardware_token_deactivate", "post", STAFF, (("token_id", "999999"),)),
    Endpoint("admin_portal:hardware_token_delete", "post", STAFF, (("token_id", "999999"),)),
    Endpoint(
        "admin_portal:user_hardware_token_activate",
        "post",
        STAFF,
        (("object_id", "{target_oid}"), ("token_id", "999999")),
        (("code", "123456"),),
    ),
]


def test_every_admin_url_is_in_the_matrix() -> None:
    from mfaportal.admin_portal.urls import urlpatterns

    covered = {endpoint.name.split(":")[1] for endpoint in ENDPOINTS}
    assert covered == {pattern.name for pattern in urlpatterns}


@pytest.fixture
def world(db: None) -> dict[str, DirectoryUser]:
    people = {
        "admin": make_user("admin@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR),
        "helpdesk": make_user(
            "helpdesk@contoso.test", admin_role=roles.AUTHENTICATION_ADMINISTRATOR
        ),
        "user": make_user("plain@contoso.test"),
        "target": make_user("target@contoso.test"),
    }
    return people


def resolve(endpoint: Endpoint, world: dict[str, DirectoryUser], actor: DirectoryUser | None):
    owner = (
        actor
        if actor is not None and roles.Capability.VIEW_ADMIN in actor.capabilities
        else world["admin"]
    )
    job = BulkJob.objects.create(kind=BulkJob.Kind.STATE, created_by=owner, params={"state": 1})
    upload = BulkUpload.objects.create(created_by=owner, file_name="x.csv")
    values = {
        "target": str(world["target"].pk),
        "target_oid": str(world["target"].object_id),
        "job": str(job.pk),
        "upload": str(upload.pk),
        "secret": str(uuid.uuid4()),
    }
    kwargs = {key: value.format(**values) for key, value in endpoint.kwargs}
    data = {key: value.format(**values) for key, value in endpoint.data}
    return reverse(endpoint.name, kwargs=kwargs), data


def ids(endpoint: Endpoint) -> str:
    suffix = dict(endpoint.kwargs).get("step", "") or (
        "pane" if "user" in dict(endpoint.data) else ""
    )
    return f"{endpoint.method.upper()} {endpoint.name.split(':')[1]} {suffix}".strip()


def nothing_changed(world: dict[str, DirectoryUser]) -> None:
    assert UserMfa.objects.get(user=world["target"]).state == MfaState.DISABLED
    assert not ServiceSettings.objects.filter(app_passwords_allowed=True).exists()
    world["target"].refresh_from_db()
    assert world["target"].session_version == 0


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ids)
def test_anonymous_visitors_are_sent_to_sign_in(client: Client, world, endpoint) -> None:
    url, data = resolve(endpoint, world, None)
    response = getattr(client, endpoint.method)(url, data)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("signin"))
    nothing_changed(world)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ids)
def test_plain_users_get_403_on_every_admin_url(client: Client, world, endpoint) -> None:
    client.force_login(world["user"])
    url, data = resolve(endpoint, world, world["user"])
    response = getattr(client, endpoint.method)(url, data)
    assert response.status_code == 403
    assert "You don't have access to this page" in response.content.decode()
    nothing_changed(world)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ids)
def test_admins_reach_everything(client: Client, world, endpoint) -> None:
    client.force_login(world["admin"])
    url, data = resolve(endpoint, world, world["admin"])
    response = getattr(client, endpoint.method)(url, data)
    assert response.status_code in (200, 302)


WRITES = [endpoint for endpoint in ENDPOINTS if endpoint.method == "post"]


@pytest.mark.parametrize("endpoint", WRITES, ids=ids)
def test_every_write_needs_the_csrf_token(world, endpoint) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["admin"])
    url, data = resolve(endpoint, world, world["admin"])
    assert client.post(url, data).status_code == 403
    nothing_changed(world)


@pytest.mark.parametrize("endpoint", WRITES, ids=ids)
def test_writes_refuse_get(client: Client, world, endpoint) -> None:
    client.force_login(world["admin"])
    url, data = resolve(endpoint, world, world["admin"])
    if endpoint.name in (
        "admin_portal:step",
        "admin_portal:bulk_update",
        "admin_portal:service_settings",
        "admin_portal:user_password_reset",
        "admin_portal:hardware_tokens",
        "admin_portal:user_tap",
    ):
        # These answer GET with the form or dialog, and change nothing.
        assert client.get(url, data).status_code in (200, 302)
    else:
        assert client.get(url, data).status_code == 405
    nothing_changed(world)


def admin_writes(html: str) -> list[str]:
    """The admin addresses the page's POST forms send to (sign-out and language are not)."""
    forms = re.findall(r"<form\b[^>]*>", html)
    posts = [form for form in forms if 'method="post"' in form]
    return [action for form in posts for action in re.findall(r'action="(/admin/[^"]*)"', form)]


def test_a_reader_sees_the_pages_without_a_button_that_changes_anything(
    client: Client, world
) -> None:
    reader = make_user("reader@contoso.test", admin_role=roles.GLOBAL_READER)
    client.force_login(reader)
    target = world["target"]
    pages = {
        "users": client.get(reverse("admin_portal:users"), {"u": target.pk}),
        "pane": client.get(reverse("admin_portal:steps"), {"u": target.pk}),
        "detail": client.get(reverse("admin_portal:user_detail", args=[target.object_id])),
        "settings": client.get(reverse("admin_portal:service_settings")),
        "bulk": client.get(reverse("admin_portal:bulk_update")),
        "audit": client.get(reverse("admin_portal:audit")),
        "hardware tokens": client.get(reverse("admin_portal:hardware_tokens")),
    }
    for name, response in pages.items():
        html = response.content.decode()
        assert response.status_code == 200, name
        assert not admin_writes(html), name
        assert reverse("admin_portal:step", args=["enable"]) not in html, name
        assert reverse("admin_portal:step", args=["manage"]) not in html, name
    assert "reads these settings only" in pages["settings"].content.decode()
    assert "Export MFA status report" in pages["users"].content.decode()
    # The same pages, for a global administrator, do hold the forms looked for above.
    client.force_login(world["admin"])
    detail = client.get(reverse("admin_portal:user_detail", args=[target.object_id]))
    assert admin_writes(detail.content.decode())
    assert admin_writes(client.get(reverse("admin_portal:service_settings")).content.decode())


def test_exchange_administrators_are_plain_users_here(client: Client, world) -> None:
    exchange = make_user(
        "exch@contoso.test",
        admin_role=roles.ROLES_BY_TEMPLATE_ID["29232cdf-9323-42fd-ade2-1d097af3e4de"],
    )
    client.force_login(exchange)
    assert client.get(reverse("admin_portal:users")).status_code == 403
