"""Local mode: the portal's database is the directory.

The MFA state, methods and remembered devices the ``mfa`` services record *are* the
directory's record, so there is nothing more to carry; ending sessions is this app's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from mfaportal.core.audit import ChangeContext
from mfaportal.directory.interface import Delivery, IssuedPass, Settlement, SettleProgress
from mfaportal.directory.services import sessions_end


class LocalDirectory:
    name = "local"
    portal_only: Mapping[str, str] = {}
    notes: Mapping[str, str] = {}

    def security_info_url(self) -> str:
        return ""

    sends_changes = False

    def remembered_devices_unreachable(self, *, user_ids: Sequence[int]) -> dict[int, str]:
        return {}

    def sessions_unreachable(self, *, user_ids: Sequence[int]) -> dict[int, str]:
        return {}

    def changes_settle(
        self,
        *,
        user_ids: Sequence[int],
        since: datetime,
        wait: bool = True,
        progress: SettleProgress | None = None,
    ) -> Settlement:
        """Applied as they were made: the database is the directory."""
        if progress is not None:
            progress(len(user_ids), len(user_ids))
        return Settlement(accepted=set(user_ids))

    def mfa_states_write(
        self,
        *,
        user_ids: Sequence[int],
        state: int,
        previous: Mapping[int, int],
        context: ChangeContext | None = None,
    ) -> Delivery:
        return Delivery.APPLIED

    def methods_delete(
        self, *, user_ids: Sequence[int], context: ChangeContext | None = None
    ) -> Delivery:
        return Delivery.APPLIED

    def passkey_delete(
        self, *, user_id: int, name: str, context: ChangeContext | None = None
    ) -> Delivery:
        return Delivery.APPLIED

    def remembered_devices_restore(
        self, *, user_ids: Sequence[int], at: datetime, context: ChangeContext | None = None
    ) -> Delivery:
        return Delivery.APPLIED

    def sessions_revoke(
        self, *, user_ids: Sequence[int], context: ChangeContext | None = None
    ) -> Delivery:
        sessions_end(user_ids=user_ids)
        return Delivery.APPLIED

    def temporary_access_pass_issue(
        self,
        *,
        object_id: str,
        lifetime_minutes: int,
        one_time: bool,
        starts_at: datetime | None,
    ) -> IssuedPass | None:
        """The portal issues it: the database is the directory."""
        return None

    def temporary_access_pass_delete(self, *, object_id: str, directory_id: str) -> None:
        return None
