"""What an audit event says, as a sentence in the reader's language: the one mapping from an
audit action to its wording, used by a user's history and by the audit log.

An event stores codes and raw values (``mfa.state``, ``Disabled`` → ``Enabled``, an ISO
moment, a count); they are worded when shown, never stored in the language of whoever caused
them. Older events did store some values (state and method names) as the acting person read
them, so a value is recognised in any of the portal's languages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db.models import Choices
from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop, ngettext, override

from mfaportal.core.models import AuditEvent
from mfaportal.core.templatetags.portal import when
from mfaportal.mfa.models import (
    AppPassword,
    MethodType,
    MfaState,
    VerificationChallenge,
    VerificationMethod,
)

Sentence = Callable[[AuditEvent], SafeString]


def _say(template: str, **values: Any) -> SafeString:
    """The translated ``template`` with each value escaped (values are directory data)."""
    escaped = {name: conditional_escape(value) for name, value in values.items()}
    # Safe: the template comes from this module's own strings (or their translation) and
    # every value in it has just been escaped.
    return mark_safe(template % escaped)  # noqa: S308


@lru_cache(maxsize=512)
def _member_of(choices: type[Choices], stored: str) -> Choices | None:
    """The member of ``choices`` whose value, name or label (in any of the portal's languages)
    is ``stored``."""
    for member in choices:
        if stored in (str(member.value), member.name):
            return member
    for code, _name in settings.LANGUAGES:
        with override(code):
            for member in choices:
                if str(member.label) == stored:
                    return member
    return None


def _label(choices: type[Choices], stored: str) -> str:
    """``stored`` worded for the reader: its label when it is one of ``choices``."""
    member = _member_of(choices, stored) if stored else None
    return str(member.label) if member is not None else stored


def _moment(stored: str) -> SafeString | str:
    try:
        moment = datetime.fromisoformat(stored)
    except ValueError:
        return stored
    return when(moment)


def _count(stored: str) -> int | None:
    try:
        return int(stored)
    except ValueError:
        return None


# --- the sentences, one per action ---------------------------------------------------------


def _state(event: AuditEvent) -> SafeString:
    before = _label(MfaState, event.before)
    after = _label(MfaState, event.after)
    reason = (event.detail or {}).get("reason", "")
    if not after:
        return _say(_("Multi-factor auth status changed."))
    if reason == "Graph's answer to the change":
        return _say(
            _("Microsoft Graph set the multi-factor auth status to %(after)s (asked: %(before)s)."),
            before=before or "—",
            after=after,
        )
    if not before:
        return _say(_("Multi-factor auth status set to %(after)s."), after=after)
    if reason == "registration completed":
        template = _(
            "Multi-factor auth status changed from %(before)s to %(after)s when the user "
            "completed registration."
        )
    elif reason == "read from Microsoft Graph":
        template = _(
            "Multi-factor auth status changed from %(before)s to %(after)s in Microsoft Graph."
        )
    else:
        template = _("Multi-factor auth status changed from %(before)s to %(after)s.")
    return _say(template, before=before, after=after)


def _method_kind(event: AuditEvent, stored: str) -> str:
    kind = (event.detail or {}).get("kind", "")
    if kind:
        return _label(VerificationMethod.Kind, kind)
    return _label(VerificationMethod.Kind, stored) or _("A verification method")


def _method_registered(event: AuditEvent) -> SafeString:
    detail = event.detail or {}
    if detail.get("kind") and event.after:
        return _say(
            _("%(method)s %(number)s registered."),
            method=_method_kind(event, ""),
            number=event.after,
        )
    method = _method_kind(event, event.after)
    mode = detail.get("mode", "")
    if mode:
        return _say(
            _("%(method)s registered (%(mode)s)."),
            method=method,
            mode=_label(VerificationMethod.AppMode, mode),
        )
    return _say(_("%(method)s registered."), method=method)


def _method_changed(event: AuditEvent) -> SafeString:
    method = _method_kind(event, "")
    if event.before and event.after:
        return _say(
            _("%(method)s changed from %(before)s to %(after)s."),
            method=method,
            before=event.before,
            after=event.after,
        )
    return _say(_("%(method)s changed."), method=method)


def _method_deleted(event: AuditEvent) -> SafeString:
    return _say(_("%(method)s deleted."), method=_method_kind(event, event.before))


def _default_method(event: AuditEvent) -> SafeString:
    before = _label(MethodType, event.before)
    after = _label(MethodType, event.after)
    if before and after:
        return _say(
            _("Default method changed from “%(before)s” to “%(after)s”."),
            before=before,
            after=after,
        )
    if after:
        return _say(_("Default method set to “%(after)s”."), after=after)
    return _say(_("Default method changed."))


def _app_passwords_deleted(event: AuditEvent) -> SafeString:
    count = _count(event.before)
    if count is None:
        return _say(_("App passwords deleted."))
    if count == 0:
        return _say(_("There were no app passwords to delete."))
    return _say(
        ngettext("%(count)s app password deleted.", "%(count)s app passwords deleted.", count),
        count=number_format(count, force_grouping=True),
    )


def _app_password(created: bool) -> Sentence:
    def sentence(event: AuditEvent) -> SafeString:
        name = event.after if created else event.before
        if not name:
            return _say(_("App password created.") if created else _("App password deleted."))
        service = (event.detail or {}).get("service") if created else None
        if service in AppPassword.Service.values:
            return _say(
                _("App password “%(name)s” created for %(service)s."),
                name=name,
                service=AppPassword.Service(service).label,
            )
        template = (
            _("App password “%(name)s” created.")
            if created
            else _("App password “%(name)s” deleted.")
        )
        return _say(template, name=name)

    return sentence


def _fraud_reported(event: AuditEvent) -> SafeString:
    if event.after == "blocked":
        return _say(_("Reported fraud on a sign-in request and was blocked from MFA sign-in."))
    return _say(_("Reported fraud on a sign-in request; no action taken."))


def _fraud_block_lifted(event: AuditEvent) -> SafeString:
    if event.before:
        return _say(_("Fraud block lifted (blocked since %(since)s)."), since=_moment(event.before))
    return _say(_("Fraud block lifted."))


def _password_reset(event: AuditEvent) -> SafeString:
    if event.after == "temporary password":
        return _say(_("Password reset to a temporary password, to be changed at the next sign-in."))
    if event.after == "self-service password reset":
        return _say(_("Password reset by the user through self-service password reset."))
    return _say(_("Password reset."))


def _refused(event: AuditEvent) -> SafeString:
    change = (event.detail or {}).get("change", "")
    templates = {
        "mfa_state": _(
            "Microsoft Graph refused the change of multi-factor auth status (%(error)s)."
        ),
        "methods_delete": _(
            "Microsoft Graph refused to delete the authentication methods (%(error)s)."
        ),
        "sessions_revoke": _("Microsoft Graph refused to revoke the sign-in sessions (%(error)s)."),
    }
    template = templates.get(change, _("Microsoft Graph refused a change (%(error)s)."))
    return _say(template, error=event.after or "—")


def _synced(event: AuditEvent) -> SafeString:
    count = _count(str((event.detail or {}).get("users_seen", "")))
    if count is None:
        return _say(_("Directory synced from Microsoft Graph."))
    return _say(
        ngettext(
            "Directory synced from Microsoft Graph: %(count)s user read.",
            "Directory synced from Microsoft Graph: %(count)s users read.",
            count,
        ),
        count=number_format(count, force_grouping=True),
    )


def _sync_failed(event: AuditEvent) -> SafeString:
    error = (event.detail or {}).get("error") or event.after
    if not error:
        return _say(_("Directory sync from Microsoft Graph failed."))
    return _say(_("Directory sync from Microsoft Graph failed: %(error)s"), error=error)


# The service settings as the service settings page names them.
SETTING_NAMES: dict[str, Promise] = {
    "app_passwords_allowed": gettext_lazy(
        "Allow users to create app passwords to sign in to non-browser apps"
    ),
    "skip_mfa_for_federated_intranet": gettext_lazy(
        "Skip multi-factor authentication for requests from federated users on my intranet"
    ),
    "trusted_ip_ranges": gettext_lazy(
        "Skip multi-factor authentication for requests from following range of IP address subnets"
    ),
    "method_call": gettext_lazy("Call to phone"),
    "method_text": gettext_lazy("Text message to phone"),
    "method_app_notification": gettext_lazy("Notification through mobile app"),
    "method_app_code": gettext_lazy("Verification code from mobile app or hardware token"),
    "remember_devices_allowed": gettext_lazy(
        "Allow users to remember multi-factor authentication on devices they trust "
        "(between one to 365 days)"
    ),
    "remember_devices_days": gettext_lazy("Number of days users can trust devices for"),
    "fraud_report_allowed": gettext_lazy("Allow users to submit fraud alerts"),
    "fraud_report_blocks_user": gettext_lazy("Automatically block users who report fraud"),
    "password_reset_enabled": gettext_lazy(
        "Allow users to reset their own password (self-service password reset)"
    ),
    "password_reset_methods_required": gettext_lazy("Number of methods required to reset"),
    "app_password_binding_required": gettext_lazy(
        "Require users to choose the application each new app password is for"
    ),
}


def _setting_value(stored: str) -> str:
    if stored == "True":
        return _("on")
    if stored == "False":
        return _("off")
    lines = [line.strip() for line in stored.splitlines() if line.strip()]
    if not lines:
        return _("none")
    return ", ".join(lines)


def _setting(event: AuditEvent) -> SafeString:
    name = (event.detail or {}).get("setting", "")
    if not name:
        return _say(_("Service settings changed."))
    return _say(
        _("Service setting “%(setting)s” changed from %(before)s to %(after)s."),
        setting=SETTING_NAMES.get(name, name),
        before=_setting_value(event.before),
        after=_setting_value(event.after),
    )


def _verification_sent(event: AuditEvent) -> SafeString:
    channel = (event.detail or {}).get("channel", "")
    if not channel:
        return _say(_("Password reset: verification code sent."))
    return _say(
        _("Password reset: verification code sent (%(channel)s)."),
        channel=_label(VerificationChallenge.Channel, channel),
    )


def _method_proved(event: AuditEvent) -> SafeString:
    if event.after == "email":
        return _say(_("Password reset: authentication email proved with a code."))
    if event.after in ("text", "call"):
        return _say(_("Password reset: authentication phone proved with a code."))
    return _say(_("Password reset: a contact method proved with a code."))


def _email_set(event: AuditEvent) -> SafeString:
    if event.before and event.after:
        return _say(
            _("Authentication email changed from %(before)s to %(after)s."),
            before=event.before,
            after=event.after,
        )
    if event.after:
        return _say(_("Authentication email set to %(after)s."), after=event.after)
    return _say(_("Authentication email set."))


def _email_deleted(event: AuditEvent) -> SafeString:
    if event.before:
        return _say(_("Authentication email %(address)s removed."), address=event.before)
    return _say(_("Authentication email removed."))


def _tap_created(event: AuditEvent) -> SafeString:
    detail = event.detail or {}
    starts, expires = detail.get("starts_at", ""), detail.get("expires_at", "")
    if not starts or not expires:
        return _say(_("Temporary Access Pass issued."))
    template = (
        _("One-time Temporary Access Pass issued, valid from %(start)s until %(end)s.")
        if detail.get("one_time")
        else _("Temporary Access Pass issued, valid from %(start)s until %(end)s.")
    )
    return _say(template, start=_moment(starts), end=_moment(expires))


def _fixed(text: Promise) -> Sentence:
    return lambda event: _say(str(text))


def _hardware_token(template: str, *, serial_from_before: bool = False) -> Sentence:
    """Hardware OATH tokens (issue 16.3): the sentence names the serial number."""

    def sentence(event: AuditEvent) -> SafeString:
        serial = event.before if serial_from_before else event.after
        return _say(_(template), serial=serial or "?")

    return sentence


@dataclass(frozen=True)
class Action:
    # How the audit log's Action filter offers it.
    label: Promise
    sentence: Sentence


ACTIONS: dict[str, Action] = {
    "mfa.state": Action(gettext_lazy("Multi-factor auth status changed"), _state),
    "mfa.reregistration_required": Action(
        gettext_lazy("Contact methods required again"),
        _fixed(gettext_lazy("Required to provide contact methods again at the next sign-in.")),
    ),
    "mfa.app_passwords_deleted": Action(
        gettext_lazy("App passwords deleted"), _app_passwords_deleted
    ),
    "mfa.remembered_devices_restored": Action(
        gettext_lazy("MFA restored on remembered devices"),
        _fixed(gettext_lazy("Multi-factor authentication restored on all remembered devices.")),
    ),
    "mfa.registration_completed": Action(
        gettext_lazy("Registration completed"),
        _fixed(gettext_lazy("Completed registration for multi-factor authentication.")),
    ),
    "directory.sessions_revoked": Action(
        gettext_lazy("Sessions revoked"),
        _fixed(gettext_lazy("Signed out of every browser and app session.")),
    ),
    "settings.updated": Action(gettext_lazy("Service settings changed"), _setting),
    "directory.password_reset": Action(gettext_lazy("Password reset"), _password_reset),
    "directory.password_changed": Action(
        gettext_lazy("Temporary password replaced"),
        _fixed(gettext_lazy("Temporary password replaced by a password the user chose.")),
    ),
    "report.exported": Action(
        gettext_lazy("MFA status report exported"),
        _fixed(gettext_lazy("MFA status report exported.")),
    ),
    "signin_log.exported": Action(
        gettext_lazy("Sign-in log exported"),
        _fixed(gettext_lazy("Sign-in log exported.")),
    ),
    "mfa.method_registered": Action(
        gettext_lazy("Verification method registered"), _method_registered
    ),
    "mfa.method_changed": Action(gettext_lazy("Verification method changed"), _method_changed),
    "mfa.method_deleted": Action(gettext_lazy("Verification method deleted"), _method_deleted),
    "mfa.default_method": Action(gettext_lazy("Default method changed"), _default_method),
    "mfa.app_password_created": Action(
        gettext_lazy("App password created"), _app_password(created=True)
    ),
    "mfa.app_password_deleted": Action(
        gettext_lazy("App password deleted"), _app_password(created=False)
    ),
    "mfa.app_passwords_declined": Action(
        gettext_lazy("Non-browser apps declined"),
        lambda _event: _say(_("Said no non-browser app will use this account.")),
    ),
    "mfa.fraud_reported": Action(gettext_lazy("Fraud reported"), _fraud_reported),
    "mfa.fraud_block_lifted": Action(gettext_lazy("Fraud block lifted"), _fraud_block_lifted),
    "sspr.verification_sent": Action(gettext_lazy("Password reset code sent"), _verification_sent),
    "sspr.method_proved": Action(gettext_lazy("Password reset method proved"), _method_proved),
    "sspr.authentication_email_set": Action(gettext_lazy("Authentication email set"), _email_set),
    "sspr.authentication_email_deleted": Action(
        gettext_lazy("Authentication email removed"), _email_deleted
    ),
    "mfa.temporary_access_pass_created": Action(
        gettext_lazy("Temporary Access Pass issued"), _tap_created
    ),
    "mfa.temporary_access_pass_deleted": Action(
        gettext_lazy("Temporary Access Pass deleted"),
        _fixed(gettext_lazy("Temporary Access Pass deleted.")),
    ),
    "mfa.temporary_access_pass_used": Action(
        gettext_lazy("Signed in with a Temporary Access Pass"),
        _fixed(gettext_lazy("Signed in with a Temporary Access Pass.")),
    ),
    "directory.synced": Action(gettext_lazy("Directory synced"), _synced),
    "directory.sync_failed": Action(gettext_lazy("Directory sync failed"), _sync_failed),
    "directory.change_refused": Action(gettext_lazy("Change refused by Microsoft Graph"), _refused),
    "mfa.hardware_token_uploaded": Action(
        gettext_lazy("Hardware token uploaded"),
        _hardware_token(gettext_noop("Hardware token %(serial)s uploaded.")),
    ),
    "mfa.hardware_token_assigned": Action(
        gettext_lazy("Hardware token assigned"),
        _hardware_token(gettext_noop("Hardware token %(serial)s assigned.")),
    ),
    "mfa.hardware_token_activated": Action(
        gettext_lazy("Hardware token activated"),
        _hardware_token(gettext_noop("Hardware token %(serial)s activated.")),
    ),
    "mfa.hardware_token_deactivated": Action(
        gettext_lazy("Hardware token deactivated"),
        _hardware_token(
            gettext_noop("Hardware token %(serial)s deactivated."), serial_from_before=True
        ),
    ),
    "mfa.hardware_token_deleted": Action(
        gettext_lazy("Hardware token deleted"),
        _hardware_token(
            gettext_noop("Hardware token %(serial)s deleted."), serial_from_before=True
        ),
    ),
}


def event_sentence(event: AuditEvent) -> SafeString:
    """What ``event`` did, as a sentence. An action this portal doesn't know (a newer
    version's, in a database shared during an upgrade) is shown as recorded."""
    action = ACTIONS.get(event.action)
    if action is not None:
        return action.sentence(event)
    if event.before or event.after:
        return _say(
            "%(action)s: %(before)s → %(after)s",
            action=event.action,
            before=event.before or "—",
            after=event.after or "—",
        )
    return _say("%(action)s", action=event.action)
