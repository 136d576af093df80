"""The methods stage: registered methods and the preferred one.

A full sync reads the registration report for everyone, then reads a user's methods only
where the report says they may have changed; a delta sync reads the methods and the
sign-in preferences of the users that changed. What was read goes to the mfa app
(``reconcile``), which decides what the cache shows.
"""

from __future__ import annotations

import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db import models, transaction

from mfaportal.core.bulk_sql import one_of
from mfaportal.core.chunks import chunked
from mfaportal.directory.cache import methods_report_stamps_set, object_id_parse
from mfaportal.directory.models import DirectoryUser
from mfaportal.entra.mapping import (
    default_method_from_graph,
    kinds_from_registered,
    methods_from_graph,
)
from mfaportal.entra.models import OutboxChange
from mfaportal.entra.sync.states import CachedUser
from mfaportal.entra.sync.status import Run
from mfaportal.graph import (
    MAX_BATCH_SIZE,
    AuthMethod,
    GraphForbidden,
    PerUserResult,
    RegistrationDetails,
    prefetched,
)
from mfaportal.mfa.services import reconcile
from mfaportal.mfa.services.reconcile import ObservedMethod

_Reads = list[tuple[list[CachedUser], "Future[list[PerUserResult[list[AuthMethod]]]]"]]


@dataclass
class _PagePlan:
    """One page of the registration report: what it changes, and its method reads."""

    by_oid: dict[uuid.UUID, RegistrationDetails]
    cached: dict[int, list[ObservedMethod]]
    emptied: list[int] = field(default_factory=list)
    new_defaults: dict[int, str] = field(default_factory=dict)
    reads: _Reads = field(default_factory=list)


def _deletions_pending() -> set[int]:
    """Users whose methods deletion has not reached Graph yet."""
    return {
        user_id
        for user_id in OutboxChange.objects.filter(
            kind=OutboxChange.Kind.METHODS_DELETE, status__in=OutboxChange.OPEN_STATUSES
        ).values_list("user_id", flat=True)
        if user_id is not None
    }


def methods_from_report(run: Run) -> None:
    """The registration report for everyone, then methods only where they may differ.

    One page ahead: the methods of a page's users are read from Graph while the page
    before is written to the database."""
    total = DirectoryUser.objects.count()
    done = 0
    run.report("methods", 0, total, force=True)
    try:
        with ThreadPoolExecutor(run.client.config.concurrency, thread_name_prefix="graph") as pool:
            previous: _PagePlan | None = None
            for page in prefetched(run.client.registration_details()):
                plan = _plan_registration_page(run, page, pool)
                if previous is not None:
                    _apply_registration_page(run, previous)
                previous = plan
                done += len(page)
                run.report("methods", done, total)
            if previous is not None:
                _apply_registration_page(run, previous)
    except GraphForbidden as error:
        run.problem("methods", error)
        run.result.notes.append(
            "the registration report was refused (AuditLog.Read.All missing?): "
            "registered methods were not read"
        )


def _plan_registration_page(
    run: Run, details: list[RegistrationDetails], pool: ThreadPoolExecutor
) -> _PagePlan:
    """What one report page changes, and the method reads it needs (started now)."""
    by_oid = {oid: d for d in details if (oid := object_id_parse(d.id))}
    users = {
        str(object_id): (pk, upn, stored)
        for pk, object_id, upn, stored in DirectoryUser.objects.filter(
            one_of("object_id", by_oid, models.UUIDField())
        ).values_list("pk", "object_id", "user_principal_name", "methods_report_updated")
    }
    pks = [pk for pk, _upn, _stored in users.values()]
    plan = _PagePlan(by_oid=by_oid, cached=reconcile.methods_cached(pks))
    defaults = reconcile.defaults_cached(pks)
    to_read: list[CachedUser] = []
    for oid, detail in by_oid.items():
        found = users.get(str(oid))
        if found is None:
            continue  # not in the cache (added after the users stage): next sync
        pk, upn, stored = found
        kinds = kinds_from_registered(detail.methods_registered)
        cached_kinds = {method.kind for method in plan.cached.get(pk, [])}
        if not kinds:
            if plan.cached.get(pk):
                plan.emptied.append(pk)
        elif (detail.last_updated or "") != stored or kinds != cached_kinds:
            to_read.append(CachedUser(pk, str(oid), upn))
        default = default_method_from_graph(
            detail.user_preferred_method_for_secondary_authentication or detail.default_mfa_method
        )
        if default != defaults.get(pk, ""):
            plan.new_defaults[pk] = default
    plan.reads = _start_method_reads(run, pool, to_read)
    return plan


def _apply_registration_page(run: Run, plan: _PagePlan) -> None:
    read = _finish_method_reads(run, plan.reads)
    stamps = {
        pk: plan.by_oid[uuid.UUID(object_id)].last_updated or ""
        for pk, object_id in ((u.pk, u.object_id) for chunk, _f in plan.reads for u in chunk)
        if pk in read
    }
    with transaction.atomic():
        run.result.methods_changed += reconcile.methods_observed(
            read, cached=plan.cached, emptied=plan.emptied, deletions_pending=_deletions_pending()
        )
        run.result.defaults_changed += reconcile.defaults_observed(plan.new_defaults)
        methods_report_stamps_set(stamps)


def methods_of(run: Run, users: list[CachedUser]) -> None:
    """Methods and preferred method of a few users, read one by one (in batches)."""
    run.report("methods", 0, len(users), force=True)
    pks = [user.pk for user in users]
    cached = reconcile.methods_cached(pks)
    with ThreadPoolExecutor(run.client.config.concurrency, thread_name_prefix="graph") as pool:
        read = _finish_method_reads(run, _start_method_reads(run, pool, users))
    new_defaults: dict[int, str] = {}
    defaults = reconcile.defaults_cached(pks)
    client = run.client
    for chunk, answer in client.each_batch(
        users, lambda part: client.sign_in_preferences_get_many([u.object_id for u in part])
    ):
        if isinstance(answer, GraphForbidden):
            run.problem("methods", answer)
            continue
        if isinstance(answer, BaseException):
            raise answer
        for user, result in zip(chunk, answer, strict=True):
            if result.error is not None or result.value is None:
                if result.error is not None:
                    run.problem("methods", result.error)
                continue
            default = default_method_from_graph(
                result.value.user_preferred_method_for_secondary_authentication
            )
            if default != defaults.get(user.pk, ""):
                new_defaults[user.pk] = default
    with transaction.atomic():
        run.result.methods_changed += reconcile.methods_observed(
            read, cached=cached, deletions_pending=_deletions_pending()
        )
        run.result.defaults_changed += reconcile.defaults_observed(new_defaults)
    run.report("methods", len(users), len(users), force=True)


def _start_method_reads(run: Run, pool: ThreadPoolExecutor, users: list[CachedUser]) -> _Reads:
    client = run.client
    return [
        (chunk, pool.submit(client.auth_methods_list_many, [u.object_id for u in chunk]))
        for chunk in chunked(users, MAX_BATCH_SIZE)
    ]


def _finish_method_reads(run: Run, reads: _Reads) -> dict[int, list[ObservedMethod]]:
    read: dict[int, list[ObservedMethod]] = {}
    for chunk, future in reads:
        error = future.exception()
        if isinstance(error, GraphForbidden):
            run.problems("methods", error, len(chunk))
            continue
        if error is not None:
            raise error
        for user, result in zip(chunk, future.result(), strict=True):
            if result.error is not None:
                run.problem("methods", result.error)
            else:
                read[user.pk] = methods_from_graph(result.value or [])
    run.result.methods_read += len(read)
    return read
