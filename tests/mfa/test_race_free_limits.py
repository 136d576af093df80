"""Parallel guesses never get more checks than the limit (issue 14, finding 2).

In the style of django-otp's concurrency tests: many threads start together against one
limit with wrong answers, and the checker itself (the password hasher, the TOTP matcher, the
code digest) counts how often it really ran. Each attempt is reserved before its check, so
the count never passes the limit, however the requests interleave.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import OperationalError, connection
from django.http import HttpResponse
from django.test import RequestFactory

from mfaportal.mfa import challenges, throttle, totp
from mfaportal.mfa.models import MfaState, ThrottleBucket, VerificationChallenge, VerificationMethod
from mfaportal.mfa.signin import (
    PASSWORD_PER_ACCOUNT_AND_ADDRESS,
    REAUTHENTICATION_LIMIT,
    password_reauthenticate,
    password_sign_in,
)
from mfaportal.selfservice import legacy
from tests.factories import make_user
from tests.selfservice.helpers import add_app, code_now, last_code

THREADS = 30
CHECK_SECONDS = 0.02


class Calls:
    """Counts calls of a wrapped checker, from any thread. Each call takes a while, as a
    real password hash does, so that requests overlap while one is being checked."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def wrap(self, checker: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.count += 1
            time.sleep(CHECK_SECONDS)
            return checker(*args, **kwargs)

        return counted


def like_a_client(call: Callable[[], Any]) -> Any:
    """One request. The in-memory SQLite test database (shared cache) answers a concurrent
    writer "table is locked" at once where a file database or PostgreSQL waits; a client
    would retry, so this does. A retried request reserves its attempt again, so retries
    can't sneak checks past the limit either."""
    # Generous: thirty threads on a busy two-core machine can keep the one writer's lock
    # for seconds; the limits are what these tests check, not the database's patience.
    deadline = time.monotonic() + 60
    while True:
        try:
            return call()
        except OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def hammer(call: Callable[[], Any], threads: int = THREADS) -> list[Any]:
    barrier = threading.Barrier(threads)
    results: list[Any] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            barrier.wait()
            results.append(like_a_client(call))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    started = [threading.Thread(target=one) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    assert not errors, errors
    assert len(results) == threads
    return results


@pytest.fixture
def password_checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    """Counts password-hash verifications (the tests' hasher is MD5)."""
    calls = Calls()
    monkeypatch.setattr(MD5PasswordHasher, "verify", calls.wrap(MD5PasswordHasher.verify))
    yield calls


@pytest.mark.django_db(transaction=True)
def test_thirty_parallel_wrong_passwords_get_at_most_the_limit_checked(
    password_checks: Calls,
) -> None:
    make_user("adele@contoso.test")
    results = hammer(
        lambda: password_sign_in(
            user_principal_name="adele@contoso.test", password="wrong", address="198.51.100.7"
        )
    )
    assert all(result.user is None for result in results)
    assert 0 < password_checks.count <= PASSWORD_PER_ACCOUNT_AND_ADDRESS.count
    counts = ThrottleBucket.objects.filter(key__startswith="signin:pair:").values_list(
        "count", flat=True
    )
    assert list(counts) == [password_checks.count]


@pytest.mark.django_db(transaction=True)
def test_thirty_parallel_wrong_legacy_secrets_get_at_most_the_limit_checked(
    password_checks: Calls,
) -> None:
    make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    token = base64.b64encode(b"adele@contoso.test:wrong-secret").decode()

    def request() -> HttpResponse:
        made = RequestFactory().get(
            "/legacy/auth", HTTP_AUTHORIZATION=f"Basic {token}", REMOTE_ADDR="198.51.100.7"
        )
        return legacy.legacy_auth(made)

    results = hammer(request)
    assert {response.status_code for response in results} <= {401, 429}
    assert 0 < password_checks.count <= legacy.LIMITS.per_account_and_address.count


@pytest.mark.django_db(transaction=True)
def test_thirty_parallel_wrong_totp_codes_lock_the_method_after_the_free_failures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = make_user("adele@contoso.test")
    method, secret = add_app(user)
    wrong = "000000" if code_now(secret) != "000000" else "111111"
    checks = Calls()
    monkeypatch.setattr(totp, "matching_step", checks.wrap(totp.matching_step))
    results = hammer(
        lambda: challenges.totp_check(method_id=method.pk, user=user, code=wrong).status
    )
    method.refresh_from_db()
    assert method.failed_attempts == throttle.FREE_FAILURES
    assert checks.count == throttle.FREE_FAILURES
    assert results.count("wrong") == throttle.FREE_FAILURES - 1
    assert method.locked_until is not None


@pytest.mark.django_db(transaction=True)
def test_thirty_parallel_wrong_text_codes_check_at_most_the_allowed_attempts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = make_user("adele@contoso.test", registered=True)
    method = user.methods.get(kind=VerificationMethod.Kind.AUTHENTICATION_PHONE)
    challenge = challenges.challenge_start(
        user=user,
        channel=VerificationChallenge.Channel.TEXT,
        purpose=VerificationChallenge.Purpose.SIGN_IN,
        method=method,
    )
    code = last_code(method.phone_number)
    wrong = "000000" if code != "000000" else "111111"
    checks = Calls()
    monkeypatch.setattr(challenges, "_code_digest", checks.wrap(challenges._code_digest))
    hammer(
        lambda: (
            challenges.text_code_check(challenge_id=str(challenge.pk), user=user, code=wrong).status
        )
    )
    method.refresh_from_db()
    assert checks.count <= challenges.MAX_CODE_ATTEMPTS
    assert method.failed_attempts <= throttle.FREE_FAILURES


@pytest.mark.django_db(transaction=True)
def test_thirty_parallel_reservations_of_one_limit_admit_exactly_the_limit() -> None:
    """The primitive under every guarded check (registration and setup codes, the current
    password on *Update your password*, reset codes): reserve, check slowly, fail."""
    counters = [throttle.Counter("test:one-limit", PASSWORD_PER_ACCOUNT_AND_ADDRESS)]

    def guess() -> bool:
        # Each step retried on its own: a retried reservation would be a second guess.
        if like_a_client(lambda: throttle.attempt_reserve(counters)):
            return False
        time.sleep(CHECK_SECONDS)  # the check
        like_a_client(lambda: throttle.attempt_failed(counters))
        return True

    admitted = hammer(guess)
    assert admitted.count(True) == PASSWORD_PER_ACCOUNT_AND_ADDRESS.count
    bucket = ThrottleBucket.objects.get(key="test:one-limit")
    assert bucket.count == PASSWORD_PER_ACCOUNT_AND_ADDRESS.count
    assert bucket.blocked_until is not None


@pytest.mark.django_db
def test_a_successful_attempt_gives_its_reservation_back() -> None:
    counters = [throttle.Counter("test:one-limit", PASSWORD_PER_ACCOUNT_AND_ADDRESS)]
    for _attempt in range(PASSWORD_PER_ACCOUNT_AND_ADDRESS.count * 2):
        assert throttle.attempt_reserve(counters) == 0
        throttle.attempt_succeeded(counters)
    assert ThrottleBucket.objects.get(key="test:one-limit").count == 0


@pytest.mark.django_db(transaction=True)
def test_thirty_parallel_wrong_reauthentications_get_at_most_the_limit_checked(
    password_checks: Calls,
) -> None:
    user = make_user("adele@contoso.test")
    results = hammer(lambda: password_reauthenticate(user=user, password="wrong"))
    assert not any(proved for proved, _blocked in results)
    assert 0 < password_checks.count <= REAUTHENTICATION_LIMIT.count
