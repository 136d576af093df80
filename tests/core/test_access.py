"""Who reaches which page: anonymous and plain users get no admin page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from mfaportal.core import roles
from tests.factories import make_user

pytestmark = pytest.mark.django_db

ADMIN_URLS = ["admin_portal:users"]


@pytest.mark.parametrize("name", ADMIN_URLS)
def test_anonymous_request_for_an_admin_page_goes_to_sign_in(client: Client, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("signin"))


@pytest.mark.parametrize("name", ADMIN_URLS)
def test_plain_user_gets_403_on_admin_pages(client: Client, name: str) -> None:
    client.force_login(make_user("plain@contoso.test"))
    assert client.get(reverse(name)).status_code == 403


@pytest.mark.parametrize(
    ("template", "status"),
    [
        (roles.GLOBAL_ADMINISTRATOR, 200),
        (roles.AUTHENTICATION_POLICY_ADMINISTRATOR, 200),
        (roles.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR, 200),
        (roles.AUTHENTICATION_ADMINISTRATOR, 200),
        (roles.GLOBAL_READER, 200),
        (roles.SECURITY_READER, 200),
        (roles.REPORTS_READER, 200),
        (roles.ROLES_BY_TEMPLATE_ID["29232cdf-9323-42fd-ade2-1d097af3e4de"], 403),  # Exchange
    ],
)
def test_only_the_roles_design_lists_reach_the_admin_page(
    client: Client, template: roles.BuiltInRole, status: int
) -> None:
    client.force_login(make_user("staff@contoso.test", admin_role=template))
    assert client.get(reverse("admin_portal:users")).status_code == status


def test_home_sends_each_role_where_it_belongs(client: Client) -> None:
    assert client.get("/")["Location"] == reverse("signin")
    client.force_login(make_user("ga@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR))
    assert client.get("/")["Location"] == reverse("admin_portal:users")
    client.force_login(make_user("hd@contoso.test", admin_role=roles.AUTHENTICATION_ADMINISTRATOR))
    assert client.get("/")["Location"] == reverse("admin_portal:users")
    client.force_login(make_user("u@contoso.test"))
    assert client.get("/")["Location"] == reverse("selfservice:setup")


def test_readers_start_on_the_admin_page_too(client: Client) -> None:
    client.force_login(make_user("gr@contoso.test", admin_role=roles.GLOBAL_READER))
    assert client.get("/")["Location"] == reverse("admin_portal:users")


def test_no_role_gives_anything_here() -> None:
    assert roles.capabilities_for(set()) == frozenset()


@pytest.mark.django_db
def test_an_htmx_poll_that_outlived_its_session_sends_the_page_to_sign_in(client: Client) -> None:
    """Not a 302 that htmx would follow, swapping the sign-in page into the poll's form."""
    response = client.post(
        "/mfa/setup/verify/",
        {"action": "check"},
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/mfa/setup/verify/"},
    )
    assert response.status_code == 200 and "Location" not in response
    assert response["HX-Redirect"] == "/signin/?next=/mfa/setup/verify/"
    assert client.get("/mfa/setup/")["Location"] == "/signin/?next=/mfa/setup/"
