"""The form that issues a Temporary Access Pass (issue 16.2), from the user detail page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy

from mfaportal.mfa.services.tap import lifetime_problem

UNITS = {"minutes": 1, "hours": 60, "days": 1440}


class TemporaryAccessPassForm(forms.Form):
    lifetime = forms.IntegerField(
        label=gettext_lazy("Lifetime"), min_value=1, max_value=43_200, initial=1
    )
    unit = forms.ChoiceField(
        label=gettext_lazy("Unit"),
        choices=[
            ("minutes", gettext_lazy("minutes")),
            ("hours", gettext_lazy("hours")),
            ("days", gettext_lazy("days")),
        ],
        initial="hours",
    )
    starts_at = forms.DateTimeField(
        label=gettext_lazy("Start time"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=gettext_lazy("Leave empty to start now. In the portal's time zone."),
    )
    one_time = forms.BooleanField(label=gettext_lazy("One-time use"), required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        minutes = cleaned["lifetime"] * UNITS[cleaned["unit"]]
        if problem := lifetime_problem(minutes):
            raise forms.ValidationError(problem)
        cleaned["lifetime_minutes"] = minutes
        starts_at: datetime | None = cleaned.get("starts_at")
        if starts_at is not None and timezone.is_naive(starts_at):
            cleaned["starts_at"] = timezone.make_aware(starts_at)
        return cleaned
