"""The hardware tokens page and the user detail page's tokens (issue 16.3): upload with
per-line errors, the list with serial, owner and state, deactivate and delete, the
helpdesk's activation, and who may do what."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from mfaportal.core import roles
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import HardwareOathToken, MfaState
from tests.factories import make_user
from tests.mfa.test_oath_tokens import HEADER, SECRET
from tests.selfservice.helpers import is_signed_in, password_step

pytestmark = pytest.mark.django_db


def token_file(*lines: str) -> SimpleUploadedFile:
    body = "\n".join((HEADER, *lines)) + "\n"
    return SimpleUploadedFile("tokens.csv", body.encode(), content_type="text/csv")


def upload(client: Client, *lines: str) -> Any:
    return client.post(reverse("admin_portal:hardware_tokens"), {"file": token_file(*lines)})


def test_an_admin_uploads_tokens_and_sees_each_refused_line_with_its_reason(
    admin_client: Client,
) -> None:
    make_user("adele@contoso.test")
    response = upload(
        admin_client,
        f"adele@contoso.test,SN-1,{SECRET},30,Contoso,Token 1000",
        f",SN-2,{SECRET},60,Contoso,Token 1000",
        f"ghost@contoso.test,SN-3,{SECRET},30,Contoso,Token 1000",
    )
    assert response.status_code == 302
    page = admin_client.get(response["Location"]).content.decode()
    assert "2 hardware tokens uploaded." in page
    assert "1 line was not uploaded" in page
    assert "User does not exist in this directory." in page
    assert "SN-1" in page and "adele@contoso.test" in page and "Assigned" in page
    assert "SN-2" in page and "Unassigned" in page
    assert SECRET not in page
    # The result is shown once.
    assert "1 line was not uploaded" not in admin_client.get(response["Location"]).content.decode()


def test_a_file_with_the_wrong_header_is_refused_with_the_header_to_use(
    admin_client: Client,
) -> None:
    response = admin_client.post(
        reverse("admin_portal:hardware_tokens"),
        {"file": SimpleUploadedFile("t.csv", b"serial,secret\nSN-1,ABC\n")},
    )
    assert response.status_code == 400
    assert "The first line must be the header" in response.content.decode()
    assert not HardwareOathToken.objects.exists()


def test_a_reader_sees_the_tokens_but_cannot_upload(client: Client) -> None:
    client.force_login(make_user("reader@contoso.test", admin_role=roles.GLOBAL_READER))
    page = client.get(reverse("admin_portal:hardware_tokens"))
    assert page.status_code == 200
    assert "Your role reads this page only" in page.content.decode()
    assert upload(client, f",SN-1,{SECRET},30,C,M").status_code == 403
    assert not HardwareOathToken.objects.exists()


def test_a_user_without_a_role_cannot_see_the_tokens(client: Client) -> None:
    client.force_login(make_user("adele@contoso.test"))
    assert client.get(reverse("admin_portal:hardware_tokens")).status_code == 403


def assigned_token(user: DirectoryUser, serial: str = "SN-1") -> HardwareOathToken:
    from mfaportal.mfa.services.oath_tokens import _serial_data
    from mfaportal.mfa.totp import secret_seal

    ciphertext, key_id = secret_seal(SECRET, object_id=_serial_data(serial))
    return HardwareOathToken.objects.create(
        serial_number=serial,
        manufacturer="Contoso",
        model="Token 1000",
        secret_ciphertext=ciphertext,
        secret_key_id=key_id,
        user=user,
    )


def test_the_helpdesk_activates_a_users_token_and_the_user_signs_in_with_it(
    helpdesk_client: Client,
) -> None:
    adele = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    token = assigned_token(adele)
    detail = reverse("admin_portal:user_detail", args=[adele.object_id])
    page = helpdesk_client.get(detail).content.decode()
    assert "Code shown on token SN-1" in page
    wrong = helpdesk_client.post(
        reverse("admin_portal:user_hardware_token_activate", args=[adele.object_id, token.pk]),
        {"code": "000000"},
        follow=True,
    )
    assert "That code isn" in wrong.content.decode()
    done = helpdesk_client.post(
        reverse("admin_portal:user_hardware_token_activate", args=[adele.object_id, token.pk]),
        {"code": pyotp.TOTP(SECRET).now()},
        follow=True,
    )
    assert "The hardware token is activated." in done.content.decode()
    token.refresh_from_db()
    assert token.state == HardwareOathToken.State.ACTIVATED

    person = Client()
    password_step(person, "adele@contoso.test")
    challenge = person.get(reverse("signin_flow:verify")).content.decode()
    assert "Press the button on your hardware token and enter the code it displays." in challenge
    next_code = pyotp.TOTP(SECRET).at(time.time() + 30)
    response = person.post(reverse("signin_flow:verify"), {"action": "code", "code": next_code})
    assert response["Location"] == "/" and is_signed_in(person)


def test_an_authentication_administrator_cannot_activate_a_global_admins_token(
    helpdesk_client: Client,
) -> None:
    boss = make_user("boss@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    token = assigned_token(boss)
    response = helpdesk_client.post(
        reverse("admin_portal:user_hardware_token_activate", args=[boss.object_id, token.pk]),
        {"code": pyotp.TOTP(SECRET).now()},
    )
    assert response.status_code == 403
    delete = helpdesk_client.post(
        reverse("admin_portal:hardware_token_delete", args=[token.pk]), follow=True
    )
    assert "privileged" in delete.content.decode()
    assert HardwareOathToken.objects.filter(pk=token.pk).exists()


def test_an_admin_deactivates_then_deletes_a_token_from_the_list(admin_client: Client) -> None:
    adele = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    token = assigned_token(adele)
    admin_client.post(
        reverse("admin_portal:user_hardware_token_activate", args=[adele.object_id, token.pk]),
        {"code": pyotp.TOTP(SECRET).now()},
    )
    page = admin_client.get(reverse("admin_portal:hardware_tokens")).content.decode()
    assert "Activated" in page and "Deactivate" in page
    response = admin_client.post(
        reverse("admin_portal:hardware_token_deactivate", args=[token.pk]), follow=True
    )
    assert "The hardware token has been deactivated." in response.content.decode()
    token.refresh_from_db()
    assert token.state == HardwareOathToken.State.ASSIGNED
    response = admin_client.post(
        reverse("admin_portal:hardware_token_delete", args=[token.pk]),
        {"back": "user"},
    )
    assert response["Location"] == reverse("admin_portal:user_detail", args=[adele.object_id])
    assert not HardwareOathToken.objects.exists()
    history = admin_client.get(response["Location"]).content.decode()
    assert "Hardware token SN-1 deleted." in history
    assert "Hardware token SN-1 activated." in history


def test_in_graph_mode_the_page_says_what_it_cannot_do_and_takes_no_file(
    admin_client: Client, settings: Any
) -> None:
    settings.MFAPORTAL_DIRECTORY = "graph"
    page = admin_client.get(reverse("admin_portal:hardware_tokens")).content.decode()
    assert "Graph mode: hardware tokens are managed in the Microsoft Entra admin center." in page
    assert 'type="file"' not in page
    response = upload(admin_client, f",SN-1,{SECRET},30,C,M")
    assert response.status_code == 409
    assert not HardwareOathToken.objects.exists()


def test_an_admin_assigns_a_spare_token_from_the_list(admin_client: Client) -> None:
    adele = make_user("adele@contoso.test")
    upload(admin_client, f",SN-2,{SECRET},30,Contoso,Token 1000")
    token = HardwareOathToken.objects.get(serial_number="SN-2")
    page = admin_client.get(reverse("admin_portal:hardware_tokens")).content.decode()
    assert "User to assign token SN-2 to" in page
    response = admin_client.post(
        reverse("admin_portal:hardware_token_assign", args=[token.pk]),
        {"user": "adele@contoso.test"},
        follow=True,
    )
    assert "The hardware token is assigned." in response.content.decode()
    token.refresh_from_db()
    assert token.user == adele
