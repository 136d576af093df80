"""A user blocked by their own fraud report can be unblocked from the user detail page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mfaportal.core import roles
from mfaportal.core.models import AuditEvent
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState, UserMfa
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def blocked_user(upn: str = "victim@contoso.test", **fields: Any) -> DirectoryUser:
    user = make_user(upn, state=MfaState.ENFORCED, registered=True, **fields)
    UserMfa.objects.filter(user=user).update(blocked_for_fraud_at=timezone.now())
    return user


def test_helpdesk_unblocks_a_user_blocked_by_a_fraud_report(client: Client) -> None:
    client.force_login(make_user("hd@contoso.test", admin_role=roles.AUTHENTICATION_ADMINISTRATOR))
    user = blocked_user()
    page = client.get(reverse("admin_portal:user_detail", args=[user.object_id])).content.decode()
    assert "unblock user" in page
    response = client.post(reverse("admin_portal:user_fraud_unblock", args=[user.object_id]))
    assert response.status_code == 302
    assert UserMfa.objects.get(user=user).blocked_for_fraud_at is None
    event = AuditEvent.objects.get(action="mfa.fraud_block_lifted")
    assert event.target_id == user.pk and event.actor_label == "hd@contoso.test"


def test_helpdesk_cannot_unblock_an_admin(client: Client) -> None:
    client.force_login(make_user("hd@contoso.test", admin_role=roles.AUTHENTICATION_ADMINISTRATOR))
    admin = blocked_user("ga@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    client.post(reverse("admin_portal:user_fraud_unblock", args=[admin.object_id]))
    assert UserMfa.objects.get(user=admin).blocked_for_fraud_at is not None


def test_the_unblock_action_is_only_offered_for_blocked_users(client: Client) -> None:
    client.force_login(make_user("ga@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR))
    user = make_user("fine@contoso.test")
    page = client.get(reverse("admin_portal:user_detail", args=[user.object_id])).content.decode()
    assert "unblock user" not in page
