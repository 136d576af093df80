"""What a change did, per user: the one outcome type of the project.

The services answer with it; *Updates successful*, the results CSV of a bulk job and the
CLI's summary are all drawn from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


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
        for every step, so the first holds)."""
        answers: dict[str, tuple[str, str]] = {}
        for outcome in outcomes:
            for kind in ("changed", "unchanged", "skipped"):
                for item in getattr(outcome, kind):
                    known = answers.get(item.user_principal_name)
                    if known is None or (kind == "changed" and known[0] == "unchanged"):
                        answers[item.user_principal_name] = (kind, item.reason)
        merged = cls()
        for upn, (kind, reason) in answers.items():
            getattr(merged, kind).append(UserResult(upn, reason))
        return merged
