"""Local mode: the portal's database is the directory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import F
from django.utils import timezone

from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import RememberedDevice, UserMfa, VerificationMethod

if TYPE_CHECKING:
    from mfaportal.core.audit import ChangeContext

CHUNK = 500  # stays under SQLite's bound-parameter limit


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


class LocalDirectory:
    name = "local"

    def mfa_states_write(
        self, *, user_ids: Sequence[int], state: int, context: ChangeContext | None = None
    ) -> None:
        now = timezone.now()
        for chunk in _chunks(user_ids):
            UserMfa.objects.filter(user_id__in=chunk).update(state=state, updated_at=now)

    def methods_delete(
        self, *, user_ids: Sequence[int], context: ChangeContext | None = None
    ) -> None:
        for chunk in _chunks(user_ids):
            VerificationMethod.objects.filter(user_id__in=chunk).delete()
            UserMfa.objects.filter(user_id__in=chunk).update(default_method="")

    def remembered_devices_restore(
        self, *, user_ids: Sequence[int], at: datetime, context: ChangeContext | None = None
    ) -> None:
        for chunk in _chunks(user_ids):
            UserMfa.objects.filter(user_id__in=chunk).update(remember_devices_not_issued_before=at)
            RememberedDevice.objects.filter(user_id__in=chunk).delete()

    def sessions_revoke(
        self, *, user_ids: Sequence[int], context: ChangeContext | None = None
    ) -> None:
        for chunk in _chunks(user_ids):
            DirectoryUser.objects.filter(pk__in=chunk).update(
                session_version=F("session_version") + 1
            )
