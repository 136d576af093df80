"""Graph's values in the cache's terms, and back.

Directory data is untrusted input: every function here accepts odd or missing values and
answers something safe (an empty string, no method) rather than failing a sync.
"""

from __future__ import annotations

import re

from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.directory.cache import UserRecord
from mfaportal.graph import AuthMethod, GraphUser, PerUserMfaState
from mfaportal.mfa.models import MethodType, MfaState, VerificationMethod
from mfaportal.mfa.services.reconcile import ObservedMethod

# What Graph reports, or answers to what the portal sent, is audited as the sync's doing.
SYNC_CONTEXT = ChangeContext(actor=None, source=AuditSource.SYNC)

Kind = VerificationMethod.Kind
AppMode = VerificationMethod.AppMode

STATE_FROM_GRAPH = {
    PerUserMfaState.DISABLED: MfaState.DISABLED,
    PerUserMfaState.ENABLED: MfaState.ENABLED,
    PerUserMfaState.ENFORCED: MfaState.ENFORCED,
}
STATE_TO_GRAPH = {value: key for key, value in STATE_FROM_GRAPH.items()}


def state_from_graph(state: PerUserMfaState) -> MfaState | None:
    """None for a value the portal does not know (``unknownFutureValue``): keep the cache."""
    return STATE_FROM_GRAPH.get(state)


def state_to_graph(state: int) -> str:
    return str(STATE_TO_GRAPH[MfaState(state)])


# userDefaultAuthenticationMethodType (signInPreferences, and v1.0's
# userPreferredMethodForSecondaryAuthentication in the registration report) → MethodType.
DEFAULT_FROM_PREFERENCE = {
    "sms": MethodType.ONE_WAY_SMS,
    "voiceMobile": MethodType.TWO_WAY_VOICE_MOBILE,
    "voiceAlternateMobile": MethodType.TWO_WAY_VOICE_ALTERNATE_MOBILE,
    "voiceOffice": MethodType.TWO_WAY_VOICE_OFFICE,
    "push": MethodType.PHONE_APP_NOTIFICATION,
    "oath": MethodType.PHONE_APP_OTP,
    # beta's defaultMfaMethod names (a coarser list: a mobile phone counts as text).
    "mobilePhone": MethodType.ONE_WAY_SMS,
    "alternateMobilePhone": MethodType.TWO_WAY_VOICE_ALTERNATE_MOBILE,
    "officePhone": MethodType.TWO_WAY_VOICE_OFFICE,
    "microsoftAuthenticatorPush": MethodType.PHONE_APP_NOTIFICATION,
    "softwareOneTimePasscode": MethodType.PHONE_APP_OTP,
    # A passkey or security key as the default (signInPreferences' "fido2").
    "fido2": MethodType.PASSKEY,
}


def default_method_from_graph(preference: str | None) -> str:
    """The MSOnline MethodType of Graph's preferred method, or '' when there is none."""
    if not preference:
        return ""
    method_type = DEFAULT_FROM_PREFERENCE.get(preference)
    return str(method_type) if method_type else ""


# methodsRegistered (userRegistrationDetails) → the cached method kind it stands for.
KIND_FROM_REGISTERED = {
    "mobilePhone": Kind.AUTHENTICATION_PHONE,
    "alternateMobilePhone": Kind.ALTERNATE_PHONE,
    "officePhone": Kind.OFFICE_PHONE,
    "microsoftAuthenticatorPush": Kind.AUTHENTICATOR_APP,
    "softwareOneTimePasscode": Kind.AUTHENTICATOR_APP,
}


def kinds_from_registered(methods_registered: tuple[str, ...]) -> frozenset[str]:
    return frozenset(
        str(KIND_FROM_REGISTERED[name])
        for name in methods_registered
        if name in KIND_FROM_REGISTERED
    )


KIND_FROM_PHONE_TYPE = {
    "mobile": Kind.AUTHENTICATION_PHONE,
    "alternateMobile": Kind.ALTERNATE_PHONE,
    "office": Kind.OFFICE_PHONE,
}
# Graph's method collections the portal deletes for "provide contact methods again".
DELETABLE_COLLECTIONS = {
    "phone": "phoneMethods",
    "microsoftAuthenticator": "microsoftAuthenticatorMethods",
    "softwareOath": "softwareOathMethods",
}
# ...and the one it deactivates (the token stays assigned to the user), as Entra does.
DEACTIVATABLE_COLLECTIONS = {"hardwareOath": "hardwareOathMethods"}

# Which of a user's methods serve their default (userDefaultAuthenticationMethodType).
DEFAULT_SERVED_BY = {
    "sms": ("phone", "mobile"),
    "voiceMobile": ("phone", "mobile"),
    "voiceAlternateMobile": ("phone", "alternateMobile"),
    "voiceOffice": ("phone", "office"),
    "push": ("microsoftAuthenticator", None),
    "oath": ("softwareOath", None),
}


def serves_default(method: AuthMethod, preference: str | None) -> bool:
    """Whether deleting ``method`` may take away the user's default method."""
    if not preference or preference not in DEFAULT_SERVED_BY:
        return False
    kind, phone_type = DEFAULT_SERVED_BY[preference]
    if preference == "oath" and method.kind == "microsoftAuthenticator":
        return True  # the app's codes serve "oath" too
    return method.kind == kind and (phone_type is None or method.phone_type == phone_type)


_GRAPH_PHONE = re.compile(r"^\+(\d{1,3}) ?([\d ]{4,20}?)(?:x(\d{1,10}))?$")


def phone_from_graph(value: str | None) -> tuple[str, str]:
    """``+1 5555551234x123`` → (``+15555551234``, ``123``); ('', '') when unreadable."""
    if not value:
        return "", ""
    match = _GRAPH_PHONE.match(value.strip())
    if not match:
        return "", ""
    digits = match.group(1) + match.group(2).replace(" ", "")
    if len(digits) > 15:  # E.164 allows 15 digits at most
        return "", ""
    return f"+{digits}", match.group(3) or ""


def methods_from_graph(methods: list[AuthMethod]) -> list[ObservedMethod]:
    """The per-user MFA methods among a user's Graph methods, passkeys included (password,
    email and the like are not per-user MFA methods and are left out)."""
    cached: list[ObservedMethod] = []
    seen_phone_kinds: set[str] = set()
    for method in methods:
        if method.kind == "phone":
            kind = KIND_FROM_PHONE_TYPE.get(method.phone_type or "")
            # One phone of each kind (the cache has a constraint saying so, as Graph does).
            if kind is None or kind in seen_phone_kinds:
                continue
            seen_phone_kinds.add(kind)
            number, extension = phone_from_graph(method.phone_number)
            if kind != Kind.OFFICE_PHONE:
                extension = ""
            cached.append(ObservedMethod(str(kind), phone_number=number, extension=extension))
        elif method.kind == "microsoftAuthenticator":
            cached.append(
                ObservedMethod(
                    str(Kind.AUTHENTICATOR_APP),
                    app_mode=str(AppMode.NOTIFICATION),
                    device_name=(method.display_name or "")[:128],
                )
            )
        elif method.kind == "softwareOath":
            cached.append(ObservedMethod(str(Kind.AUTHENTICATOR_APP), app_mode=str(AppMode.CODE)))
        elif method.kind == "fido2":
            # Passkeys and security keys: listed as Graph names them (their keys stay in
            # Entra ID; the portal keeps no credential of a key registered at Microsoft).
            cached.append(
                ObservedMethod(str(Kind.PASSKEY), device_name=(method.display_name or "")[:128])
            )
    return cached


def user_record_from_graph(user: GraphUser) -> UserRecord:
    return UserRecord(
        object_id=user.id,
        removed=user.removed,
        user_principal_name=user.user_principal_name,
        display_name=user.display_name,
        mail=user.mail,
        account_enabled=user.account_enabled,
        is_licensed=user.is_licensed,
    )
