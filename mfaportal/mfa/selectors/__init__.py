"""Reads of the MFA domain, shaped for pages, the CLI and reports."""

from __future__ import annotations

from typing import Any, TypedDict

from django.db.models import Exists, OuterRef, QuerySet

from mfaportal.core.prepared import Prepared, prepared_rows
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import (
    HardwareOathToken,
    MethodType,
    MfaState,
    UserMfa,
    VerificationMethod,
)


class StrongAuthenticationMethod(TypedDict):
    methodType: str
    isDefault: bool


def user_methods(user: DirectoryUser) -> list[VerificationMethod]:
    """The user's registered methods, oldest first, by a statement compiled once (issue 15:
    the sign-in challenge and Additional security verification read them on every view)."""
    return prepared_rows(_USER_METHODS, VerificationMethod, (user.pk,))


_USER_METHODS = Prepared(
    lambda user_id: VerificationMethod.objects.filter(user_id=user_id), (-8_675_309,)
)


def user_mfa(user: DirectoryUser) -> UserMfa:
    """The user's MFA row; a user without one is Disabled with nothing registered. Read
    with the user where the caller did, else by a statement compiled once, and kept on the
    user as ``user.mfa`` would keep it."""
    descriptor: Any = DirectoryUser.mfa  # the stubs do not know the reverse descriptor
    if not descriptor.is_cached(user):
        found = prepared_rows(_USER_MFA, UserMfa, (user.pk,))
        descriptor.related.set_cached_value(user, found[0] if found else None)
    try:
        return user.mfa
    except UserMfa.DoesNotExist:
        return UserMfa(user=user)


_USER_MFA = Prepared(lambda user_id: UserMfa.objects.filter(user_id=user_id), (-8_675_309,))


def security_info_read(user: DirectoryUser) -> bool:
    """Read the user's MFA row and authentication email onto ``user``, where ``user_mfa`` and
    ``recovery_contacts`` find them, in one statement that also says whether an assigned
    hardware token waits for its first code; answer that. Additional security verification
    needs all three on every view, which took three queries (issue 15)."""
    found = prepared_rows(_SECURITY_INFO, DirectoryUser, (user.pk,))
    if not found:
        return False
    for descriptor in (DirectoryUser.mfa, DirectoryUser.authentication_email):
        related: Any = descriptor.related
        related.set_cached_value(user, related.get_cached_value(found[0]))
    return bool(found[0].tokens_waiting)


# Compiled once per database (core.prepared). A user may have neither row: the joins are
# outer, and a missing row is kept as "none" so that nothing reads it again.
_SECURITY_INFO = Prepared(
    lambda user_id: (
        DirectoryUser.objects.filter(pk=user_id)
        .only("pk", "mfa", "authentication_email")
        .select_related("mfa", "authentication_email")
        .annotate(tokens_waiting=Exists(_tokens_waiting(OuterRef("pk"))))
    ),
    (-8_675_309,),
)


def _tokens_waiting(user_id: Any) -> QuerySet[HardwareOathToken]:
    """Hardware OATH tokens assigned to the user and not yet activated (issue 16.3)."""
    return HardwareOathToken.objects.filter(user_id=user_id, method__isnull=True)


def hardware_tokens_waiting(user: DirectoryUser) -> list[HardwareOathToken]:
    """The tokens an administrator gave the user that wait for their first code, by a
    statement compiled once."""
    return prepared_rows(_TOKENS_WAITING, HardwareOathToken, (user.pk,))


_TOKENS_WAITING = Prepared(_tokens_waiting, (-8_675_309,))


def strong_authentication_methods(
    methods: list[VerificationMethod], default_method: str
) -> list[StrongAuthenticationMethod]:
    """The MSOnline StrongAuthenticationMethods list: one entry per MethodType available,
    exactly one of them default when anything is registered."""
    available: list[str] = []
    for method in methods:
        for method_type in method.method_types:
            if method_type not in available:
                available.append(method_type)
    order = list(MethodType.values)
    available.sort(key=order.index)
    default = default_method if default_method in available else (available[0] if available else "")
    return [{"methodType": t, "isDefault": t == default} for t in available]


def user_summary(user: DirectoryUser) -> dict[str, Any]:
    """The JSON shape of ``manage.py mfa get-user UPN --json`` (DESIGN §7)."""
    mfa = user_mfa(user)
    methods = list(user.methods.all())
    return {
        "userPrincipalName": user.user_principal_name,
        "displayName": user.display_name,
        "objectId": str(user.object_id),
        "accountEnabled": user.account_enabled,
        "roles": sorted(user.roles.values_list("display_name", flat=True)),
        "mfaState": MfaState(mfa.state).name.capitalize(),
        "strongAuthenticationMethods": strong_authentication_methods(methods, mfa.default_method),
        "strongAuthenticationRequirements": strong_authentication_requirements(mfa),
        "appPasswords": user.app_passwords.count(),
    }


def strong_authentication_requirements(mfa: UserMfa) -> list[dict[str, str | None]]:
    """MSOnline's StrongAuthenticationRequirements: one requirement (RelyingParty "*") while
    multi-factor auth is Enabled or Enforced, none while it is Disabled (``@()``)."""
    if mfa.state == MfaState.DISABLED:
        return []
    not_before = mfa.remember_devices_not_issued_before
    return [
        {
            "relyingParty": "*",
            "state": MfaState(mfa.state).name.capitalize(),
            "rememberDevicesNotIssuedBefore": not_before.isoformat() if not_before else None,
        }
    ]
