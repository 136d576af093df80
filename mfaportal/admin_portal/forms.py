from __future__ import annotations

import ipaddress
from datetime import date
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mfaportal.admin_portal.history import ACTIONS
from mfaportal.core.models import AuditSource
from mfaportal.directory.interface import APP_PASSWORDS, REMEMBERED_DEVICES, get_directory
from mfaportal.mfa.models import SignInResult

MAX_TRUSTED_RANGES = 50


def trusted_ranges_parse(text: str) -> tuple[list[str], list[str]]:
    """The trusted IP ranges, one CIDR a line: (normalised ranges, errors naming bad lines).

    A bare address is a range of one (/32 or /128); blank lines and repeats are dropped.
    """
    ranges: list[str] = []
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        shown = line if len(line) <= 60 else line[:57] + "..."
        try:
            network = ipaddress.ip_network(line, strict=True)
        except ValueError:
            try:
                loose = ipaddress.ip_network(line, strict=False)
            except ValueError:
                errors.append(
                    _(
                        'Line %(line)d: "%(value)s" is not an IPv4 or IPv6 range in CIDR '
                        "notation, such as 192.168.1.0/27 or 2001:db8::/48."
                    )
                    % {"line": number, "value": shown}
                )
            else:
                errors.append(
                    _(
                        'Line %(line)d: "%(value)s" has bits set after the prefix length. '
                        "Did you mean %(network)s?"
                    )
                    % {"line": number, "value": shown, "network": loose}
                )
            continue
        if str(network) not in ranges:
            ranges.append(str(network))
    if len(ranges) > MAX_TRUSTED_RANGES:
        errors.append(
            _("At most %(max)d ranges are allowed; there are %(count)d.")
            % {"max": MAX_TRUSTED_RANGES, "count": len(ranges)}
        )
    return ranges, errors


class ServiceSettingsForm(forms.Form):
    app_passwords = forms.ChoiceField(
        choices=[
            (
                "allow",
                gettext_lazy("Allow users to create app passwords to sign in to non-browser apps"),
            ),
            (
                "deny",
                gettext_lazy(
                    "Do not allow users to create app passwords to sign in to non-browser apps"
                ),
            ),
        ],
        widget=forms.RadioSelect,
    )
    app_password_binding_required = forms.BooleanField(required=False)
    skip_mfa_for_federated_intranet = forms.BooleanField(required=False)
    trusted_ip_ranges = forms.CharField(required=False, max_length=10_000, widget=forms.Textarea)
    method_call = forms.BooleanField(required=False)
    method_text = forms.BooleanField(required=False)
    method_app_notification = forms.BooleanField(required=False)
    method_app_code = forms.BooleanField(required=False)
    remember_devices_allowed = forms.BooleanField(required=False)
    remember_devices_days = forms.IntegerField(
        min_value=1,
        max_value=365,
        error_messages={
            "min_value": gettext_lazy("Enter a number of days from 1 to 365."),
            "max_value": gettext_lazy("Enter a number of days from 1 to 365."),
            "invalid": gettext_lazy("Enter a number of days from 1 to 365."),
            "required": gettext_lazy("Enter a number of days from 1 to 365."),
        },
    )
    fraud_report_allowed = forms.BooleanField(required=False)
    fraud_report_blocks_user = forms.BooleanField(required=False)
    # Self-service password reset (issue 7). A form without the count keeps the saved one.
    password_reset_enabled = forms.BooleanField(required=False)
    password_reset_methods_required = forms.TypedChoiceField(
        choices=[(1, "1"), (2, "2")], coerce=int, required=False, empty_value=None
    )

    METHOD_FIELDS = ("method_call", "method_text", "method_app_notification", "method_app_code")
    MODEL_FIELDS = (
        "app_passwords_allowed",
        "skip_mfa_for_federated_intranet",
        "trusted_ip_ranges",
        *METHOD_FIELDS,
        "remember_devices_allowed",
        "remember_devices_days",
        "fraud_report_allowed",
        "fraud_report_blocks_user",
        "password_reset_enabled",
        "password_reset_methods_required",
        "app_password_binding_required",
    )

    @classmethod
    def initial_from(cls, settings_row: Any) -> dict[str, Any]:
        initial = {name: getattr(settings_row, name) for name in cls.MODEL_FIELDS}
        initial["app_passwords"] = "allow" if settings_row.app_passwords_allowed else "deny"
        return initial

    def clean_trusted_ip_ranges(self) -> str:
        ranges, errors = trusted_ranges_parse(self.cleaned_data.get("trusted_ip_ranges", ""))
        if errors:
            raise forms.ValidationError(errors)
        return "\n".join(ranges)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not any(cleaned.get(name) for name in self.METHOD_FIELDS):
            raise forms.ValidationError(
                _("Keep at least one verification option: users need a way to verify.")
            )
        return cleaned

    def changes(self) -> dict[str, object]:
        data = dict(self.cleaned_data)
        data["app_passwords_allowed"] = data.pop("app_passwords") == "allow"
        return {name: data[name] for name in self.MODEL_FIELDS if data.get(name) is not None}


class ManageUserSettingsForm(forms.Form):
    require_reregistration = forms.BooleanField(
        required=False,
        label=gettext_lazy("Require selected users to provide contact methods again"),
    )
    delete_app_passwords = forms.BooleanField(
        required=False,
        label=gettext_lazy("Delete all existing app passwords generated by the selected users"),
    )
    restore_remembered_devices = forms.BooleanField(
        required=False,
        label=gettext_lazy("Restore multi-factor authentication on all remembered devices"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # What the directory cannot do, or does its own way, is said where it is chosen.
        directory = get_directory()
        if APP_PASSWORDS in directory.portal_only:
            field = self.fields["delete_app_passwords"]
            field.label = gettext_lazy(
                "Delete all existing app passwords generated by the selected users (this "
                "portal only)"
            )
            field.help_text = directory.portal_only[APP_PASSWORDS]
        if REMEMBERED_DEVICES in directory.notes:
            self.fields["restore_remembered_devices"].help_text = directory.notes[
                REMEMBERED_DEVICES
            ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not any(cleaned.get(name) for name in self.fields):
            raise forms.ValidationError(_("Choose at least one setting to apply."))
        return cleaned


class BulkUploadForm(forms.Form):
    # An empty file reaches the verifier, which says so in the same words as the CLI.
    file = forms.FileField(
        allow_empty_file=True,
        label=gettext_lazy("Select a CSV file"),
        error_messages={"required": gettext_lazy("Choose a CSV file to verify.")},
    )


# The Action filter offers every action the portal records, by its label.
KNOWN_ACTIONS = tuple((code, action.label) for code, action in ACTIONS.items())


def printable(value: str | None) -> str:
    """A typed filter value without control characters, trimmed."""
    return "".join(ch for ch in value or "" if ch.isprintable()).strip()


class DayRangeForm(forms.Form):
    """The From and To days a log page is filtered by; a range that ends before it starts
    is refused."""

    date_from = forms.DateField(
        required=False,
        label=gettext_lazy("From"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = forms.DateField(
        required=False,
        label=gettext_lazy("To"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start: date | None = cleaned.get("date_from")
        end: date | None = cleaned.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(_("The start date is after the end date."))
        return cleaned


class AuditFilterForm(DayRangeForm):
    actor = forms.CharField(required=False, max_length=255, label=gettext_lazy("Changed by"))
    target = forms.CharField(required=False, max_length=255, label=gettext_lazy("User"))
    action = forms.CharField(required=False, max_length=64, label=gettext_lazy("Action"))
    source = forms.ChoiceField(
        required=False,
        choices=[("", gettext_lazy("Any")), *AuditSource.choices],
        label=gettext_lazy("Source"),
    )
    field_order = ["actor", "target", "action", "source", "date_from", "date_to"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name in ("actor", "target", "action"):
            cleaned[name] = printable(cleaned.get(name))
        return cleaned


class SignInFilterForm(DayRangeForm):
    """The sign-in log's filters (issue 16.5)."""

    user = forms.CharField(required=False, max_length=255, label=gettext_lazy("User"))
    result = forms.ChoiceField(
        required=False,
        choices=[("", gettext_lazy("Any")), *SignInResult.choices],
        label=gettext_lazy("Result"),
    )
    address = forms.GenericIPAddressField(
        required=False, unpack_ipv4=True, label=gettext_lazy("Client address")
    )
    field_order = ["user", "result", "address", "date_from", "date_to"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        cleaned["user"] = printable(cleaned.get("user"))
        return cleaned
