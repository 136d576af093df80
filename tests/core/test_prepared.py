"""Statements compiled once (core.prepared): what they read is what the ORM reads."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db.models import Q
from django.utils import timezone

from mfaportal.core.prepared import Prepared, prepared_rows
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState, UserMfa
from mfaportal.selfservice.models import Flow
from tests.factories import make_user

pytestmark = pytest.mark.django_db

USER_WITH_MFA = Prepared(
    lambda pk: DirectoryUser.objects.filter(pk=pk).select_related("mfa"), (-8_675_309,)
)
FLOW = Prepared(
    lambda pk, now: Flow.objects.filter(pk=pk, expires_at__gt=now),
    (uuid.UUID(int=7), timezone.now() - timedelta(days=9999)),
)


def test_a_prepared_read_makes_the_objects_the_orm_makes(django_assert_num_queries) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    UserMfa.objects.filter(user=user).update(blocked_for_fraud_at=timezone.now())
    expected = DirectoryUser.objects.select_related("mfa").get(pk=user.pk)
    for _ in range(2):  # compiled by the first, only bound by the second
        with django_assert_num_queries(1):
            (found,) = prepared_rows(USER_WITH_MFA, DirectoryUser, (user.pk,))
            assert found.mfa.state == MfaState.ENFORCED  # no query: read with the user
        assert found.user_principal_name == "adele@contoso.test"
        assert found.mfa.blocked_for_fraud_at == expected.mfa.blocked_for_fraud_at
        assert timezone.is_aware(found.mfa.blocked_for_fraud_at)
        assert found.created_at == expected.created_at
    assert prepared_rows(USER_WITH_MFA, DirectoryUser, (user.pk + 1000,)) == []


def test_a_prepared_read_of_a_user_without_an_mfa_row_says_so_without_a_query(
    django_assert_num_queries,
) -> None:
    user = make_user("megan@contoso.test")
    UserMfa.objects.filter(user=user).delete()
    (found,) = prepared_rows(USER_WITH_MFA, DirectoryUser, (user.pk,))
    with django_assert_num_queries(0), pytest.raises(UserMfa.DoesNotExist):
        found.mfa  # noqa: B018


def test_a_prepared_read_binds_uuids_and_moments() -> None:
    now = timezone.now()
    live = Flow.objects.create(
        kind="sign_in", created_at=now, expires_at=now + timedelta(minutes=5)
    )
    gone = Flow.objects.create(
        kind="sign_in", created_at=now, expires_at=now - timedelta(minutes=5)
    )
    assert [f.pk for f in prepared_rows(FLOW, Flow, (live.pk, now))] == [live.pk]
    assert prepared_rows(FLOW, Flow, (gone.pk, now)) == []


SEARCH = Prepared(
    lambda term, pk: (
        DirectoryUser.objects.filter(
            Q(display_name__istartswith=term) | Q(user_principal_name__istartswith=term),
            account_enabled=True,
        )
        .exclude(pk=pk)
        .order_by("id")
    ),
    ("stand-in term " + "t" * 20, -8_675_310),
)


def test_a_prepared_search_binds_its_term_each_time_it_is_used_and_keeps_its_constants() -> None:
    adele = make_user("adele@contoso.test", display_name="Adele Vance")
    make_user("alex@contoso.test", display_name="Alex Wilber")
    make_user("a_b@contoso.test", display_name="A_B Test")
    make_user("ab@contoso.test", display_name="ABBA", account_enabled=False)
    for term, pk in (("a", adele.pk), ("ADE", 0), ("a_", 0), ("a%", 0), ("al", adele.pk)):
        expected = list(
            DirectoryUser.objects.filter(
                Q(display_name__istartswith=term) | Q(user_principal_name__istartswith=term),
                account_enabled=True,
            )
            .exclude(pk=pk)
            .order_by("id")
            .values_list("user_principal_name", flat=True)
        )
        found = [
            user.user_principal_name for user in prepared_rows(SEARCH, DirectoryUser, (term, pk))
        ]
        assert found == expected, term


def test_a_prepared_search_refuses_a_term_that_is_not_text() -> None:
    with pytest.raises(TypeError, match="prefix"):
        SEARCH.sql("default", (42, 0))
