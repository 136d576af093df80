"""Graph mode: the Directory that writes through to Microsoft Graph.

An admin action never calls Graph inside the request. The service's transaction records one
``OutboxChange`` per user (``mfaportal.entra.outbox``) next to the audit entries, and
``transaction.on_commit`` enqueues the task that sends them; a worker retries until Graph
accepts or definitively refuses. So a change is never lost to a crash, a timeout or a 429,
and the page answers at once, showing the change as pending until Graph has it.

What the cache shows meanwhile (``mfa`` records it; the outbox hands Graph's answers back to
``mfaportal.mfa.services.reconcile``):

- MFA state: the state asked for (the outbox row marks it pending); once Graph accepts, the
  cache takes Graph's answer, and if Graph refuses, the state before again.
- Methods: kept until Graph has deleted them, then removed.
- Sessions and remembered devices: the portal's own sessions and remembered devices end at
  once (they live here); Graph's sign-in sessions are revoked through the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mfaportal.core.audit import ChangeContext
from mfaportal.core.chunks import chunked
from mfaportal.directory.interface import (
    APP_PASSWORDS,
    REMEMBERED_DEVICES,
    SERVICE_SETTINGS,
    Delivery,
    DirectoryRefused,
    IssuedPass,
    Settlement,
    SettleProgress,
)
from mfaportal.directory.models import DirectoryUser
from mfaportal.directory.services import sessions_end
from mfaportal.entra.mapping import state_to_graph
from mfaportal.entra.models import OutboxChange
from mfaportal.entra.outbox import outbox_record
from mfaportal.entra.outbox.settle import changes_settle
from mfaportal.graph import GraphError, client_from_settings, my_sign_ins_url_from_settings
from mfaportal.mfa.models import MfaState

# External users' user names carry #EXT# (Entra's own dynamic-group rule for "every member
# but external users" is `user.userPrincipalName -notContains "#EXT#@"`).
EXTERNAL_MARKER = "#ext#"


class GraphDirectory:
    name = "graph"
    # Microsoft Graph has no API for app passwords, and the legacy per-user MFA service
    # settings (app passwords allowed, trusted IPs, verification options, remembering
    # devices) are not in Graph: the portal's own record is all there is.
    portal_only = {
        APP_PASSWORDS: gettext_lazy(
            "This portal only: Microsoft Entra ID's own app passwords can't be deleted through "
            "Microsoft Graph. Users delete them at My Sign-Ins."
        ),
        SERVICE_SETTINGS: gettext_lazy(
            "These settings apply to this portal only: Microsoft Entra ID's multi-factor "
            "authentication service settings can't be read or changed through Microsoft "
            "Graph. Change them in the Microsoft Entra admin center."
        ),
    }

    notes = {
        REMEMBERED_DEVICES: gettext_lazy(
            "In Microsoft Entra ID this revokes every sign-in session of the users, which is "
            "broader than restoring MFA on remembered devices. External users are left out: "
            "they sign in with their home organization."
        ),
    }

    def security_info_url(self) -> str:
        # Staff change their own methods at Microsoft's page: a change made here would be the
        # cache's alone, and the next sync would put Graph's back.
        return my_sign_ins_url_from_settings()

    sends_changes = True

    def remembered_devices_unreachable(self, *, user_ids: Sequence[int]) -> dict[int, str]:
        """External users: revokeSignInSessions, which restores MFA on remembered devices in
        Entra, "doesn't revoke sign-in sessions for external users, because external users
        sign in through their home tenant" (user-revokesigninsessions.md)."""
        return _external(
            user_ids,
            gettext_lazy(
                "An external user signs in with their home organization: Microsoft Entra ID "
                "can't restore multi-factor authentication on their remembered devices."
            ),
        )

    def sessions_unreachable(self, *, user_ids: Sequence[int]) -> dict[int, str]:
        return _external(
            user_ids,
            gettext_lazy(
                "An external user signs in with their home organization: Microsoft Entra ID "
                "can't end their sign-in sessions."
            ),
        )

    def changes_settle(
        self,
        *,
        user_ids: Sequence[int],
        since: datetime,
        wait: bool = True,
        progress: SettleProgress | None = None,
    ) -> Settlement:
        return changes_settle(user_ids=user_ids, since=since, wait=wait, progress=progress)

    def mfa_states_write(
        self,
        *,
        user_ids: Sequence[int],
        state: int,
        previous: Mapping[int, int],
        context: ChangeContext | None = None,
    ) -> Delivery:
        graph_state = state_to_graph(state)
        outbox_record(
            user_ids=user_ids,
            kind=OutboxChange.Kind.MFA_STATE,
            payload=lambda user_id: {
                "state": graph_state,
                "previous": state_to_graph(previous.get(user_id, MfaState.DISABLED)),
            },
            context=context,
        )
        return Delivery.QUEUED

    def methods_delete(
        self, *, user_ids: Sequence[int], context: ChangeContext | None = None
    ) -> Delivery:
        outbox_record(
            user_ids=user_ids,
            kind=OutboxChange.Kind.METHODS_DELETE,
            payload=lambda _user_id: {},
            context=context,
        )
        return Delivery.QUEUED

    def passkey_delete(
        self, *, user_id: int, name: str, context: ChangeContext | None = None
    ) -> Delivery:
        # fido2authenticationmethod-delete.md. A change still waiting names every passkey
        # asked for so far (a newer change replaces a waiting one of the same kind).
        waiting = OutboxChange.objects.filter(
            user_id=user_id,
            kind=OutboxChange.Kind.PASSKEYS_DELETE,
            status=OutboxChange.Status.PENDING,
        ).values_list("payload", flat=True)
        names = {name} | {n for payload in waiting for n in (payload or {}).get("names", [])}
        outbox_record(
            user_ids=[user_id],
            kind=OutboxChange.Kind.PASSKEYS_DELETE,
            payload=lambda _user_id: {"names": sorted(names)},
            context=context,
        )
        return Delivery.QUEUED

    def remembered_devices_restore(
        self, *, user_ids: Sequence[int], at: datetime, context: ChangeContext | None = None
    ) -> Delivery:
        # In Entra ID, revoking the sign-in sessions is what makes remembered MFA devices
        # ask again (the portal's own remembered devices are ended by the mfa service). It is
        # broader (every session ends) and the page says so; external users are left out
        # before this (remembered_devices_unreachable).
        outbox_record(
            user_ids=user_ids,
            kind=OutboxChange.Kind.SESSIONS_REVOKE,
            payload=lambda _user_id: {"reason": "remembered_devices_restore"},
            context=context,
        )
        return Delivery.QUEUED

    def sessions_revoke(
        self, *, user_ids: Sequence[int], context: ChangeContext | None = None
    ) -> Delivery:
        sessions_end(user_ids=user_ids)
        outbox_record(
            user_ids=user_ids,
            kind=OutboxChange.Kind.SESSIONS_REVOKE,
            payload=lambda _user_id: {"reason": "sessions_revoke"},
            context=context,
        )
        return Delivery.QUEUED

    def temporary_access_pass_issue(
        self,
        *,
        object_id: str,
        lifetime_minutes: int,
        one_time: bool,
        starts_at: datetime | None,
    ) -> IssuedPass | None:
        """POST it to Graph now, not through the outbox: Graph shows the pass once, in its
        answer, to the person waiting for it; a failed request issued nothing to lose."""
        try:
            created = client_from_settings().temporary_access_pass_create(
                object_id,
                lifetime_minutes=lifetime_minutes,
                is_usable_once=one_time,
                start=starts_at.isoformat() if starts_at is not None else None,
            )
        except GraphError as error:
            raise DirectoryRefused(
                str(_("Microsoft Graph refused the Temporary Access Pass (%(error)s)."))
                % {"error": error.code}
            ) from error
        if not created.temporary_access_pass:
            raise DirectoryRefused(str(_("Microsoft Graph answered without the pass.")))
        start = starts_at or timezone.now()
        if created.start:
            start = datetime.fromisoformat(created.start.replace("Z", "+00:00"))
        return IssuedPass(
            value=created.temporary_access_pass,
            directory_id=created.id,
            starts_at=start,
            lifetime_minutes=created.lifetime_minutes or lifetime_minutes,
            one_time=one_time if created.is_usable_once is None else created.is_usable_once,
        )

    def temporary_access_pass_delete(self, *, object_id: str, directory_id: str) -> None:
        if not directory_id:
            return
        try:
            client_from_settings().temporary_access_pass_delete(object_id, directory_id)
        except GraphError as error:
            if error.status == 404:
                return  # gone already (expired and removed, or replaced in Entra)
            raise DirectoryRefused(
                str(_("Microsoft Graph refused to delete the Temporary Access Pass (%(error)s)."))
                % {"error": error.code}
            ) from error


def _external(user_ids: Sequence[int], reason: object) -> dict[int, str]:
    """External users among these, each with the reason (as shown now)."""
    found: dict[int, str] = {}
    for chunk in chunked(user_ids):
        for pk in (
            DirectoryUser.objects.filter(pk__in=chunk)
            .annotate(upn_lower=Lower("user_principal_name"))
            .filter(upn_lower__contains=EXTERNAL_MARKER)
            .values_list("pk", flat=True)
        ):
            found[pk] = str(reason)
    return found
