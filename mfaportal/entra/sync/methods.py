"""The methods stage: registered methods and the preferred one.

A full sync reads the registration report (paced to the reports' published limit) for who
has registered which methods and their default method, then reads a user's methods from
Graph, per user in ``$batch``:

- wherever the report or the cache says there are any: the report names kinds, not numbers,
  so a changed phone number shows only in the methods themselves, and its time is the
  report's, not the user's (``lastUpdatedDateTime`` is "not related the user's
  authentication method registration", MicrosoftDocs/entra-docs);
- for every user the report does not cover: disabled users are left out of it, and users
  added since it was made are not in it yet;
- for everyone, default method included, where the report is refused: it needs Entra ID
  P1/P2, and per-user MFA is what tenants without Conditional Access use.

Per-user reads are paced to half the tenant's published request quota. A delta sync reads
the methods and sign-in preferences of the users that changed. What was read goes to the mfa
app (``reconcile``), which decides what the cache shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db import models, transaction

from mfaportal.core.bulk_sql import one_of
from mfaportal.core.chunks import chunked
from mfaportal.directory.cache import object_id_parse
from mfaportal.directory.models import DirectoryUser
from mfaportal.entra.mapping import (
    default_method_from_graph,
    kinds_from_registered,
    methods_from_graph,
)
from mfaportal.entra.models import OutboxChange
from mfaportal.entra.sync.states import DB_CHUNK, CachedUser, all_users
from mfaportal.entra.sync.status import RESUME_ATTEMPTS, Run, resumable
from mfaportal.graph import (
    MAX_BATCH_SIZE,
    AuthMethod,
    GraphError,
    GraphForbidden,
    Pace,
    PerUserResult,
    RegistrationDetails,
    identity_reads_per_10s,
)
from mfaportal.mfa.services import reconcile
from mfaportal.mfa.services.reconcile import ObservedMethod

_Reads = list[tuple[list[CachedUser], "Future[list[PerUserResult[list[AuthMethod]]]]"]]
NON_PREMIUM = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"


@dataclass
class _PagePlan:
    """One page of the registration report: the defaults it changes, and its method reads."""

    cached: dict[int, list[ObservedMethod]]
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


def _reads_pace(run: Run, tenant_users: int) -> Pace:
    return run.client.pace(identity_reads_per_10s(tenant_users), 10.0)


def methods_full(run: Run, report: Iterator[list[RegistrationDetails]]) -> None:
    """Every user's methods and default method (a full sync); ``report`` is the
    registration report's pages (read ahead while the earlier stages ran)."""
    total = DirectoryUser.objects.count()
    pace = _reads_pace(run, total)
    run.report("methods", 0, total, force=True)
    covered: set[int] = set()
    try:
        _from_report(run, report, pace, covered, total)
    except GraphForbidden as error:
        run.problem("methods", error)
        if error.code == NON_PREMIUM:
            run.result.notes.append(
                "the registration report needs Microsoft Entra ID P1 or P2: every user's "
                "methods were read one by one"
            )
        else:
            run.result.notes.append(
                "the registration report was refused (AuditLog.Read.All missing?): every "
                "user's methods were read one by one"
            )
    uncovered = (user for user in all_users() if user.pk not in covered)
    methods_of(run, uncovered, pace=pace, done=len(covered), total=total)


def _from_report(
    run: Run,
    report: Iterator[list[RegistrationDetails]],
    pace: Pace,
    covered: set[int],
    total: int,
) -> None:
    """The report, page by page; one page's method reads travel while the page before is
    written. Users whose reads failed, and those after a page Graph could not answer, are
    left uncovered: they are read one by one afterwards."""
    with ThreadPoolExecutor(run.client.config.concurrency, thread_name_prefix="graph") as pool:
        previous: _PagePlan | None = None
        try:
            for page in report:
                plan = _plan_registration_page(run, page, pool, pace, covered)
                if previous is not None:
                    covered.difference_update(_apply_registration_page(run, previous))
                previous = plan
                run.report("methods", len(covered), total)
        except GraphError as error:
            if not resumable(error):
                raise
            run.result.notes.append(
                f"the registration report stopped ({error.status or '-'} {error.code}): the "
                "users after it were read one by one"
            )
        if previous is not None:
            covered.difference_update(_apply_registration_page(run, previous))


def _plan_registration_page(
    run: Run,
    details: list[RegistrationDetails],
    pool: ThreadPoolExecutor,
    pace: Pace,
    covered: set[int],
) -> _PagePlan:
    """What one report page changes, and the method reads it needs (started now)."""
    by_oid = {oid: d for d in details if (oid := object_id_parse(d.id))}
    users = {
        str(object_id): (pk, upn)
        for pk, object_id, upn in DirectoryUser.objects.filter(
            one_of("object_id", by_oid, models.UUIDField())
        ).values_list("pk", "object_id", "user_principal_name")
    }
    pks = [pk for pk, _upn in users.values()]
    plan = _PagePlan(cached=reconcile.methods_cached(pks))
    defaults = reconcile.defaults_cached(pks)
    to_read: list[CachedUser] = []
    for oid, detail in by_oid.items():
        found = users.get(str(oid))
        if found is None:
            continue  # not in the cache (added after the users stage): next sync
        pk, upn = found
        covered.add(pk)
        # Read wherever methods may be: the report can't show a changed number, and it may
        # lag behind (its data "may reflect a latency of up to a few hours").
        if kinds_from_registered(detail.methods_registered) or plan.cached.get(pk):
            to_read.append(CachedUser(pk, str(oid), upn))
        default = default_method_from_graph(
            detail.user_preferred_method_for_secondary_authentication or detail.default_mfa_method
        )
        if default != defaults.get(pk, ""):
            plan.new_defaults[pk] = default
    plan.reads = _start_method_reads(run, pool, pace, to_read)
    return plan


def _apply_registration_page(run: Run, plan: _PagePlan) -> set[int]:
    """Write what one page changes; returns the users whose methods could not be read now."""
    read, failed, _error = _finish_method_reads(run, plan.reads)
    with transaction.atomic():
        run.result.methods_changed += reconcile.methods_observed(
            read, cached=plan.cached, deletions_pending=_deletions_pending()
        )
        run.result.defaults_changed += reconcile.defaults_observed(plan.new_defaults)
    return {user.pk for user in failed}


def methods_of(
    run: Run,
    users: Iterable[CachedUser],
    *,
    pace: Pace | None = None,
    done: int = 0,
    total: int | None = None,
) -> None:
    """Methods and preferred method of these users, read one by one (in ``$batch``es),
    written a couple of thousand users at a time."""
    if total is None:
        users = list(users)
        total = len(users)
    pace = pace or _reads_pace(run, DirectoryUser.objects.count())
    run.report("methods", done, total, force=True)
    failed: list[CachedUser] = []
    error: BaseException | None = None
    for group in chunked(users, DB_CHUNK):
        group_failed, group_error = _methods_and_defaults(run, group, pace)
        failed += group_failed
        error = group_error or error
        done += len(group) - len(group_failed)
        run.report("methods", done, total)
    for _attempt in range(RESUME_ATTEMPTS):
        if not failed:
            break
        # Batches Graph could not answer: again, after its Retry-After.
        run.pause(error)
        retry, failed = failed, []
        for group in chunked(retry, DB_CHUNK):
            group_failed, error = _methods_and_defaults(run, group, pace)
            failed += group_failed
            done += len(group) - len(group_failed)
            run.report("methods", done, total)
    if failed and isinstance(error, GraphError):
        run.problems("methods", error, len(failed))
    run.report("methods", done, total, force=True)


def _methods_and_defaults(
    run: Run, users: list[CachedUser], pace: Pace
) -> tuple[list[CachedUser], BaseException | None]:
    """Read and write these users' methods and default; returns those Graph could not
    answer for now, and why."""
    pks = [user.pk for user in users]
    cached = reconcile.methods_cached(pks)
    with ThreadPoolExecutor(run.client.config.concurrency, thread_name_prefix="graph") as pool:
        read, failed, error = _finish_method_reads(run, _start_method_reads(run, pool, pace, users))
    new_defaults: dict[int, str] = {}
    defaults = reconcile.defaults_cached(pks)
    client = run.client
    for chunk, answer in client.each_batch(
        users,
        lambda part: client.sign_in_preferences_get_many([u.object_id for u in part]),
        pace=pace,
    ):
        if isinstance(answer, GraphForbidden):
            run.problems("methods", answer, len(chunk))
            continue
        if isinstance(answer, BaseException) and resumable(answer):
            failed += [user for user in chunk if user not in failed]
            error = answer
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
    return failed, error


def _start_method_reads(
    run: Run, pool: ThreadPoolExecutor, pace: Pace, users: list[CachedUser]
) -> _Reads:
    client = run.client
    reads: _Reads = []
    for chunk in chunked(users, MAX_BATCH_SIZE):
        pace.take(len(chunk))
        reads.append(
            (chunk, pool.submit(client.auth_methods_list_many, [u.object_id for u in chunk]))
        )
    return reads


def _finish_method_reads(
    run: Run, reads: _Reads
) -> tuple[dict[int, list[ObservedMethod]], list[CachedUser], BaseException | None]:
    """What was read; the users of batches Graph could not answer now, and why."""
    read: dict[int, list[ObservedMethod]] = {}
    failed: list[CachedUser] = []
    last_error: BaseException | None = None
    for chunk, future in reads:
        error = future.exception()
        if isinstance(error, GraphForbidden):
            run.problems("methods", error, len(chunk))
            continue
        if resumable(error):
            failed += chunk
            last_error = error
            continue
        if error is not None:
            raise error
        for user, result in zip(chunk, future.result(), strict=True):
            if result.error is not None:
                run.problem("methods", result.error)
            else:
                read[user.pk] = methods_from_graph(result.value or [])
    run.result.methods_read += len(read)
    return read, failed, last_error
