from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from mfaportal.mfa.phones import (
    DEFAULT_REGION,
    PhoneNumberError,
    country_choices,
    extension_clean,
    phone_parse,
)
from mfaportal.mfa.recovery import (
    RecoveryRefused,
    authentication_email_clean,
    new_password_problems,
)


class SignInForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=255)
    password = forms.CharField(label=_("Password"), max_length=256, strip=False)


class PasswordForm(forms.Form):
    password = forms.CharField(label=_("Password"), max_length=256, strip=False)


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Verification code"), max_length=12)


class PhoneFields(forms.Form):
    """A country or region from phonenumbers and a number, cleaned to E.164."""

    prefix = ""
    required_phone = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The callable, not its list: a form only drawn never builds it (the picker is drawn
        # from options made once per language, selfservice/templatetags/phone_picker.py).
        self.fields["country"] = forms.ChoiceField(
            label=_("Country or region"), choices=country_choices, initial=DEFAULT_REGION
        )
        self.fields["phone"] = forms.CharField(
            label=_("Phone number"), max_length=32, required=self.required_phone
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        number = (data.get("phone") or "").strip()
        data["e164"] = ""
        if number and data.get("country"):
            try:
                data["e164"] = phone_parse(number, region=data["country"])
            except PhoneNumberError as error:
                self.add_error("phone", str(error))
        return data


HOW_CHOICES = [("text", _("Send me a code by text message")), ("call", _("Call me"))]
MODE_CHOICES = [
    ("notification", _("Receive notifications for verification")),
    ("code", _("Use verification code")),
]


def _radio(label: Any, choices: list[tuple[str, Any]]) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label,
        choices=choices,
        widget=forms.RadioSelect,
        initial=choices[0][0] if choices else None,
    )


class AuthenticationPhoneForm(PhoneFields):
    def __init__(
        self, *args: Any, text_allowed: bool = True, call_allowed: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        allowed = {"text": text_allowed, "call": call_allowed}
        self.fields["how"] = _radio(_("Method"), [c for c in HOW_CHOICES if allowed[c[0]]])


class OfficePhoneForm(PhoneFields):
    extension = forms.CharField(label=_("Extension"), max_length=10, required=False)

    def clean_extension(self) -> str:
        try:
            return extension_clean(self.cleaned_data.get("extension", ""))
        except PhoneNumberError as error:
            raise forms.ValidationError(str(error)) from error


class MobileAppForm(forms.Form):
    def __init__(
        self,
        *args: Any,
        notification_allowed: bool = True,
        code_allowed: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        allowed = {"notification": notification_allowed, "code": code_allowed}
        self.fields["mode"] = _radio(
            _("How do you want to use the mobile app?"),
            [c for c in MODE_CHOICES if allowed[c[0]]],
        )


class AppPasswordForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=64)
    # What it is for (issue 16.4); the service refuses an unknown one with a clear message.
    service = forms.CharField(label=_("What is it for?"), required=False)


# --- account recovery (DESIGN §5.7) ------------------------------------------------------


class NewPasswordForm(forms.Form):
    """A new password twice, checked against Django's validators and the current password."""

    new_password = forms.CharField(label=_("New password"), max_length=256, strip=False)
    confirm_password = forms.CharField(label=_("Confirm password"), max_length=256, strip=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        new, confirm = data.get("new_password"), data.get("confirm_password")
        if new and confirm and new != confirm:
            self.add_error("confirm_password", _("The passwords don't match."))
        elif new:
            for problem in new_password_problems(self.user, new):
                self.add_error("new_password", problem)
        return data


class UpdatePasswordForm(NewPasswordForm):
    """*Update your password*: the temporary one, then the new one twice."""

    current_password = forms.CharField(label=_("Current password"), max_length=256, strip=False)
    field_order = ["current_password", "new_password", "confirm_password"]


class ForgotUserForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=255)


RESET_METHOD_CHOICES = [
    ("email", _("Email my authentication email")),
    ("text", _("Text my authentication phone")),
    ("call", _("Call my authentication phone")),
]


class ResetContactForm(PhoneFields):
    """Which registered contact to use, typed in full (nothing about the account is shown
    before a first method is proved)."""

    required_phone = False

    def __init__(self, *args: Any, methods: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["method"] = _radio(
            _("Choose the contact method we should use for verification"),
            [c for c in RESET_METHOD_CHOICES if c[0] in methods],
        )
        self.fields["email"] = forms.CharField(
            label=_("Your complete authentication email address"), max_length=320, required=False
        )
        self.fields["phone"].label = _("Your complete authentication phone number")
        self.fields["country"].required = False

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        method = data.get("method")
        if method == "email":
            self.errors.pop("phone", None)
            email = (data.get("email") or "").strip()
            if "@" not in email or len(email) < 3:
                self.add_error("email", _("Enter the complete email address."))
            data["email"] = email
        elif method in ("text", "call") and not data.get("e164") and "phone" not in self.errors:
            self.add_error("phone", _("Enter the complete phone number."))
        return data


class AuthenticationEmailForm(forms.Form):
    email = forms.CharField(label=_("Authentication email"), max_length=320)

    def clean_email(self) -> str:
        try:
            return authentication_email_clean(self.cleaned_data.get("email", ""))
        except RecoveryRefused as refused:
            raise forms.ValidationError(refused.message) from refused


class TemporaryAccessPassSignInForm(forms.Form):
    """Sign-in with a Temporary Access Pass instead of the password (issue 16.2)."""

    username = forms.CharField(label=_("User name"), max_length=255)
    temporary_access_pass = forms.CharField(
        label=_("Temporary Access Pass"), max_length=64, strip=True
    )
