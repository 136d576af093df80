"""What a change did, per user: the one outcome type of the project.

The services answer with it; *Updates successful*, the results CSV of a bulk job and the
CLI's summary are all drawn from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _


@dataclass(frozen=True)
class UserResult:
    user_principal_name: str
    # Why a user was skipped, or what became of the change ("Enabled became Enforced").
    reason: str = ""


@dataclass
class Outcome:
    changed: list[UserResult] = field(default_factory=list)
    unchanged: list[UserResult] = field(default_factory=list)
    skipped: list[UserResult] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.changed) + len(self.unchanged) + len(self.skipped)

    def merge(self, other: Outcome) -> None:
        self.changed += other.changed
        self.unchanged += other.unchanged
        self.skipped += other.skipped

    @classmethod
    def per_user(cls, outcomes: Iterable[Outcome]) -> Outcome:
        """Several steps over the same users as one outcome, one answer per user: changed
        when any step changed them, else the first step's answer (a refusal is the same
        for every step, so the first holds). A user one step changed and another skipped
        (a step the directory cannot do for them) is skipped, with that step's reason: what
        was not done is never reported as done."""
        answers: dict[str, tuple[str, str]] = {}
        partly: dict[str, str] = {}
        for outcome in outcomes:
            for kind in ("changed", "unchanged", "skipped"):
                for item in getattr(outcome, kind):
                    upn = item.user_principal_name
                    known = answers.get(upn)
                    if known is not None and {known[0], kind} == {"changed", "skipped"}:
                        partly.setdefault(upn, item.reason if kind == "skipped" else known[1])
                    if known is None or (kind == "changed" and known[0] == "unchanged"):
                        answers[upn] = (kind, item.reason)
        merged = cls()
        for upn, (kind, reason) in answers.items():
            if upn in partly:
                reason = _("%(reason)s The other settings were applied.") % {"reason": partly[upn]}
                kind = "skipped"
            getattr(merged, kind).append(UserResult(upn, reason))
        return merged
