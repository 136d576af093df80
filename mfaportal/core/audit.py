"""Writing audit events. Every service that changes state records through here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone

from mfaportal.core.bulk_sql import bulk_insert
from mfaportal.core.models import AuditEvent, AuditSource


@dataclass(frozen=True)
class ChangeContext:
    """Who is making a change, through what, and from where."""

    actor: AbstractBaseUser | None
    source: AuditSource
    ip_address: str | None = None

    @property
    def actor_label(self) -> str:
        if self.actor is None:
            return f"({self.source.label})"
        return self.actor.get_username()


@dataclass
class AuditEntry:
    action: str
    # The target by id and label, so bulk steps need not load 10k user objects.
    target_id: int | None = None
    target_label: str = ""
    before: str = ""
    after: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def about(cls, user: AbstractBaseUser, action: str, **fields: Any) -> AuditEntry:
        return cls(action=action, target_id=user.pk, target_label=user.get_username(), **fields)


def audit_record(context: ChangeContext, entry: AuditEntry) -> AuditEvent:
    return audit_record_many(context, [entry])[0]


def audit_record_many(context: ChangeContext, entries: Iterable[AuditEntry]) -> list[AuditEvent]:
    now = timezone.now()
    events = [
        AuditEvent(
            at=now,
            actor_id=context.actor.pk if context.actor is not None else None,
            actor_label=context.actor_label,
            target_id=entry.target_id,
            target_label=entry.target_label,
            action=entry.action,
            before=entry.before[:255],
            after=entry.after[:255],
            source=context.source,
            ip_address=context.ip_address,
            detail=entry.detail,
        )
        for entry in entries
    ]
    return AuditEvent.objects.bulk_create(events, batch_size=2000)


AUDIT_COLUMNS = (
    "at",
    "actor",
    "actor_label",
    "target",
    "target_label",
    "action",
    "before",
    "after",
    "source",
    "ip_address",
    "detail",
)


def audit_record_bulk(context: ChangeContext, entries: Iterable[AuditEntry]) -> int:
    """The rows ``audit_record_many`` writes, for a bulk step's thousands of users: sent by
    ``bulk_sql.bulk_insert`` as values, without building an ``AuditEvent`` per row (issue
    15: the ORM's per-row cost was most of a 10k Enable). Returns how many were written."""
    now = timezone.now()
    actor_id = context.actor.pk if context.actor is not None else None
    rows = [
        (
            now,
            actor_id,
            context.actor_label,
            entry.target_id,
            entry.target_label,
            entry.action,
            entry.before[:255],
            entry.after[:255],
            context.source,
            context.ip_address,
            entry.detail,
        )
        for entry in entries
    ]
    bulk_insert(AuditEvent, fields=AUDIT_COLUMNS, rows=rows)
    return len(rows)
