"""Signing in with a Temporary Access Pass (issue 16.2): instead of the password and the
second factor, then on to registration."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from mfaportal.core import roles
from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState, UserMfa
from mfaportal.mfa.services.tap import temporary_access_pass_create
from tests.factories import make_user
from tests.selfservice.helpers import is_signed_in, text
from tests.selfservice.test_secrets_never_logged import Capture, captured  # noqa: F401

pytestmark = pytest.mark.django_db
TAP = "/signin/temporary-access-pass/"


def issue(user: DirectoryUser, **options: object) -> str:
    _issued, value = temporary_access_pass_create(
        user=user,
        context=ChangeContext(actor=None, source=AuditSource.CLI),
        **options,  # type: ignore[arg-type]
    )
    return value


def with_pass(client: Client, upn: str, value: str) -> Any:
    return client.post(TAP, {"username": upn, "temporary_access_pass": value})


def test_the_sign_in_page_links_to_signing_in_with_a_pass(client: Client) -> None:
    assert TAP in text(client.get("/signin/"))
    assert "Temporary Access Pass" in text(client.get(TAP))


def test_a_user_who_lost_their_phone_signs_in_with_a_pass_and_registers_again(
    client: Client,
) -> None:
    megan = make_user("megan@contoso.test", state=MfaState.ENFORCED, registered=True)
    # Helpdesk required re-registration and issued a pass: no password, no second factor.
    UserMfa.objects.filter(user=megan).update(must_register=True)
    response = with_pass(client, "megan@contoso.test", issue(megan))
    assert response.status_code == 302
    assert response["Location"] == "/signin/more-information/"
    assert "More information required" in text(client.get(response["Location"]))


def test_a_registered_user_lands_on_security_info_signed_in(client: Client) -> None:
    megan = make_user("megan@contoso.test", state=MfaState.ENFORCED, registered=True)
    response = with_pass(client, "megan@contoso.test", issue(megan))
    assert response.status_code == 302 and response["Location"] == "/mfa/setup/"
    assert is_signed_in(client)
    page = text(client.get("/mfa/setup/"))
    assert "You signed in with a Temporary Access Pass" in page


def test_a_second_use_of_a_one_time_pass_is_refused_with_a_clear_message(
    client: Client,
) -> None:
    adele = make_user("adele@contoso.test")
    value = issue(adele, one_time=True)
    assert with_pass(client, "adele@contoso.test", value).status_code == 302
    client.post("/signout/")
    response = with_pass(client, "adele@contoso.test", value)
    assert response.status_code == 200
    assert "This Temporary Access Pass has already been used" in text(response)
    assert not is_signed_in(client)


def test_a_wrong_pass_is_refused_and_nobody_signed_in(client: Client) -> None:
    adele = make_user("adele@contoso.test")
    issue(adele)
    response = with_pass(client, "adele@contoso.test", "not-the-pass")
    assert "Your user name or Temporary Access Pass is incorrect." in text(response)
    assert not is_signed_in(client)


def test_a_pass_never_reaches_the_logs_or_the_database(
    client: Client,
    captured: Capture,  # noqa: F811 (the log scan's fixture, imported)
) -> None:
    helpdesk = make_user("helpdesk@contoso.test", admin_role=roles.AUTHENTICATION_ADMINISTRATOR)
    megan = make_user("megan@contoso.test", state=MfaState.ENFORCED, registered=True)
    client.force_login(helpdesk)
    issued = client.post(
        reverse("admin_portal:user_tap", args=[megan.object_id]),
        {"lifetime": "1", "unit": "hours", "one_time": "on"},
    )
    page = text(client.get(issued["Location"]))
    found = re.search(r'id="temporary-access-pass" class="temporary-access-pass">([^<]+)<', page)
    assert found is not None
    value = found.group(1)
    client.post("/signout/")
    with_pass(client, "megan@contoso.test", value[::-1])  # a wrong one first
    assert with_pass(client, "megan@contoso.test", value).status_code == 302
    with_pass(client, "megan@contoso.test", value)  # and a second use, refused

    assert captured.lines, "nothing was logged: the capture is broken"
    assert not [line for line in captured.lines if value in line]
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')
            assert value not in repr(cursor.fetchall()), table
