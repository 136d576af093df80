from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class SignInForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=255)
    password = forms.CharField(label=_("Password"), max_length=256, strip=False)
