"""The helpdesk deletes a user's lost security key or passkey from the user page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from mfaportal.core import roles
from mfaportal.core.models import AuditEvent
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MethodType, MfaState, UserMfa, VerificationMethod
from tests.factories import make_user
from tests.mfa.soft_authenticator import SoftAuthenticator
from tests.selfservice.test_passkeys import with_passkey

pytestmark = pytest.mark.django_db


def delete_url(user: DirectoryUser, method: VerificationMethod) -> str:
    return reverse("admin_portal:user_passkey_delete", args=[user.object_id, method.pk])


def test_the_helpdesk_deletes_a_users_lost_passkey(helpdesk_client: Client) -> None:
    megan = make_user("megan@contoso.test", state=MfaState.ENFORCED, registered=True)
    lost = with_passkey(megan, SoftAuthenticator())
    page = helpdesk_client.get(reverse("admin_portal:user_detail", args=[megan.object_id]))
    assert delete_url(megan, lost) in page.content.decode()
    done = helpdesk_client.post(delete_url(megan, lost), follow=True)
    assert "the security key or passkey of" in done.content.decode()
    assert not megan.methods.filter(kind=VerificationMethod.Kind.PASSKEY).exists()
    assert UserMfa.objects.get(user=megan).default_method == MethodType.ONE_WAY_SMS
    assert AuditEvent.objects.filter(
        target=megan, action="mfa.method_deleted", before="passkey"
    ).exists()


def test_the_helpdesk_cannot_delete_the_passkey_of_a_privileged_admin(
    helpdesk_client: Client,
) -> None:
    other = make_user("ga2@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR, registered=True)
    key = with_passkey(other, SoftAuthenticator())
    page = helpdesk_client.get(reverse("admin_portal:user_detail", args=[other.object_id]))
    assert delete_url(other, key) not in page.content.decode()
    assert helpdesk_client.post(delete_url(other, key)).status_code == 403
    assert other.methods.filter(kind=VerificationMethod.Kind.PASSKEY).exists()
