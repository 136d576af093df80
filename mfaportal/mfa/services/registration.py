"""Registration: what the wizard verified is saved, and completing it makes an Enabled user
Enforced (DESIGN §3). The registration requirement is met here and only here."""

from __future__ import annotations

import logging

from django.db import models, transaction

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record_many
from mfaportal.core.bulk_sql import one_of
from mfaportal.core.chunks import chunked
from mfaportal.directory.interface import Directory, get_directory
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import policy
from mfaportal.mfa.models import MfaState, UserMfa
from mfaportal.mfa.services.methods import (
    NewApp,
    NewPhone,
    app_create,
    default_after_change,
    default_save,
    phone_put,
)
from mfaportal.mfa.services.state import mfa_states_record

logger = logging.getLogger(__name__)


def registration_requirement_clear(user_ids: list[int]) -> None:
    """These users have provided their contact methods again: no registration is due."""
    for chunk in chunked(user_ids):
        UserMfa.objects.filter(
            one_of("user_id", chunk, models.BigIntegerField()), must_register=True
        ).update(must_register=False)


def mfa_registration_complete(
    *, user: DirectoryUser, context: ChangeContext, directory: Directory | None = None
) -> MfaState:
    """A user finished registering: the registration requirement is met, and Enabled
    becomes Enforced."""
    directory = directory or get_directory()
    with transaction.atomic():
        mfa, _created = UserMfa.objects.select_for_update().get_or_create(user=user)
        before = MfaState(mfa.state)
        after = policy.resulting_state(before, registered=True)
        registration_requirement_clear([user.pk])
        entries = []
        if after != before:
            mfa_states_record([user.pk], after)
            directory.mfa_states_write(
                user_ids=[user.pk], state=after, previous={user.pk: int(before)}, context=context
            )
            entries.append(
                AuditEntry.about(
                    user,
                    "mfa.state",
                    before=before.code,
                    after=after.code,
                    detail={"reason": "registration completed"},
                )
            )
        entries.append(AuditEntry.about(user, "mfa.registration_completed"))
        audit_record_many(context, entries)
    return after


def registration_save(
    *,
    user: DirectoryUser,
    phones: list[NewPhone],
    app: NewApp | None,
    default_method: str,
    context: ChangeContext,
) -> MfaState:
    """Save what the registration wizard verified, all or nothing, then complete the
    registration (an Enabled user becomes Enforced)."""
    with transaction.atomic():
        saved = [phone_put(user, phone) for phone in phones]
        if app is not None:
            saved.append(app_create(user, app))
        default_save(user, default_after_change(user, default_method))
        audit_record_many(
            context,
            [
                AuditEntry.about(user, "mfa.method_registered", after=method.kind)
                for method in saved
            ],
        )
        state = mfa_registration_complete(user=user, context=context)
    logger.info("user %s registered %s method(s)", user.pk, len(saved))
    return state
