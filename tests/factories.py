"""Factories for the cached tenant. ``make_user`` is the short way for most tests."""

from __future__ import annotations

from typing import Any

import factory
from factory.django import DjangoModelFactory

from mfaportal.core import roles
from mfaportal.directory.models import DirectoryRole, DirectoryUser
from mfaportal.mfa.models import MfaState, UserMfa, VerificationMethod

PASSWORD = "Correct-Horse-9"


class DirectoryUserFactory(DjangoModelFactory[DirectoryUser]):
    class Meta:
        model = DirectoryUser
        django_get_or_create = ("user_principal_name",)

    display_name = factory.Faker("name")
    user_principal_name = factory.Sequence(lambda n: f"user{n}@contoso.test")
    mail = factory.LazyAttribute(lambda user: user.user_principal_name)
    password = factory.django.Password(PASSWORD)


def role(template: roles.BuiltInRole) -> DirectoryRole:
    return DirectoryRole.objects.get_or_create(
        template_id=template.template_id, defaults={"display_name": template.display_name}
    )[0]


def make_user(
    upn: str | None = None,
    *,
    state: MfaState = MfaState.DISABLED,
    registered: bool = False,
    admin_role: roles.BuiltInRole | None = None,
    **fields: Any,
) -> DirectoryUser:
    if upn is not None:
        fields["user_principal_name"] = upn
    user: DirectoryUser = DirectoryUserFactory.create(**fields)
    UserMfa.objects.update_or_create(user=user, defaults={"state": state})
    if registered:
        VerificationMethod.objects.create(
            user=user,
            kind=VerificationMethod.Kind.AUTHENTICATION_PHONE,
            phone_number="+14255550123",
        )
        UserMfa.objects.filter(user=user).update(default_method="OneWaySMS")
    if admin_role is not None:
        user.roles.add(role(admin_role))
    user.refresh_from_db()
    return user
