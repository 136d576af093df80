"""Codes: single use, expiry, replay (also under ten concurrent requests), lockout, fraud."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditEvent, AuditSource
from mfaportal.mfa import challenges, throttle, totp
from mfaportal.mfa.models import MfaState, UserMfa, VerificationChallenge, VerificationMethod
from tests.factories import make_user
from tests.selfservice.helpers import add_app, code_now, last_code, service_set

Channel = VerificationChallenge.Channel
Purpose = VerificationChallenge.Purpose


def _text_challenge(user):
    method = user.methods.get(kind="authentication_phone")
    challenge = challenges.challenge_start(
        user=user, channel=Channel.TEXT, purpose=Purpose.SIGN_IN, method=method
    )
    return challenge, last_code(method.phone_number)


def _like_a_client(call: Callable[[], challenges.Check]) -> str:
    """Run one request's check. The in-memory SQLite test database (shared cache) answers a
    concurrent writer "table is locked" at once instead of waiting as a file database or
    PostgreSQL does; a client would retry, so this does too. No locked attempt read or
    wrote anything, so the count of successes is still the thing under test."""
    for _attempt in range(200):
        try:
            return call().status
        except OperationalError as error:
            if "locked" not in str(error):
                raise
            time.sleep(0.005)
    raise AssertionError("the database stayed locked")


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


@pytest.mark.django_db
def test_text_codes_are_six_random_digits_stored_only_as_a_keyed_hash() -> None:
    user = make_user("adele@contoso.test", registered=True)
    challenge, code = _text_challenge(user)
    challenge.refresh_from_db()
    assert len(code) == 6 and code.isdigit()
    assert code not in challenge.code_digest and len(challenge.code_digest) == 64
    assert challenge.expires_at - challenge.created_at == timedelta(minutes=5)
    codes = {challenges.code_generate() for _ in range(200)}
    assert len(codes) > 190


@pytest.mark.django_db
def test_a_text_code_works_once() -> None:
    user = make_user("adele@contoso.test", registered=True)
    challenge, code = _text_challenge(user)
    assert challenges.text_code_check(challenge_id=str(challenge.pk), user=user, code=code).ok
    again = challenges.text_code_check(challenge_id=str(challenge.pk), user=user, code=code)
    assert again.status == "used" and "already been used" in again.message


@pytest.mark.django_db
def test_an_expired_text_code_is_refused() -> None:
    user = make_user("adele@contoso.test", registered=True)
    challenge, code = _text_challenge(user)
    VerificationChallenge.objects.filter(pk=challenge.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    outcome = challenges.text_code_check(challenge_id=str(challenge.pk), user=user, code=code)
    assert outcome.status == "expired" and "expired" in outcome.message


@pytest.mark.django_db
def test_a_new_code_replaces_the_previous_one() -> None:
    user = make_user("adele@contoso.test", registered=True)
    first, first_code = _text_challenge(user)
    _second, _code = _text_challenge(user)
    assert (
        challenges.text_code_check(challenge_id=str(first.pk), user=user, code=first_code).status
        == "expired"
    )


@pytest.mark.django_db
def test_another_users_challenge_cannot_be_answered() -> None:
    adele = make_user("adele@contoso.test", registered=True)
    megan = make_user("megan@contoso.test", registered=True)
    challenge, code = _text_challenge(adele)
    assert not challenges.text_code_check(challenge_id=str(challenge.pk), user=megan, code=code).ok


@pytest.mark.django_db
def test_repeated_wrong_codes_lock_the_method_with_a_growing_wait() -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    method, secret = add_app(user)
    for attempt in range(1, 5):
        outcome = challenges.totp_check(
            method_id=method.pk, user=user, code=_wrong(code_now(secret))
        )
        assert outcome.status == "wrong", attempt
    fifth = challenges.totp_check(method_id=method.pk, user=user, code=_wrong(code_now(secret)))
    assert fifth.status == "locked"
    assert "too many incorrect codes. Try again in 1 minute" in fifth.message
    # Locked: even the right code is refused until the lock ends.
    assert (
        challenges.totp_check(method_id=method.pk, user=user, code=code_now(secret)).status
        == "locked"
    )
    VerificationMethod.objects.filter(pk=method.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )
    sixth = challenges.totp_check(method_id=method.pk, user=user, code=_wrong(code_now(secret)))
    assert sixth.status == "locked" and "2 minutes" in sixth.message
    assert throttle.lock_duration(20) == timedelta(hours=1)
    VerificationMethod.objects.filter(pk=method.pk).update(locked_until=None)
    assert challenges.totp_check(method_id=method.pk, user=user, code=code_now(secret)).ok
    method.refresh_from_db()
    assert method.failed_attempts == 0 and method.locked_until is None


@pytest.mark.django_db
def test_a_locked_phone_gets_no_more_texts() -> None:
    user = make_user("adele@contoso.test", registered=True)
    method = user.methods.get()
    VerificationMethod.objects.filter(pk=method.pk).update(
        locked_until=timezone.now() + timedelta(minutes=3)
    )
    method.refresh_from_db()
    with pytest.raises(challenges.ChallengeRefused, match="Try again in 3 minutes"):
        challenges.challenge_start(
            user=user, channel=Channel.TEXT, purpose=Purpose.SIGN_IN, method=method
        )


@pytest.mark.django_db
def test_a_text_challenge_allows_five_tries() -> None:
    user = make_user("adele@contoso.test", registered=True)
    challenge, code = _text_challenge(user)
    for _ in range(5):
        challenges.text_code_check(challenge_id=str(challenge.pk), user=user, code=_wrong(code))
    outcome = challenges.text_code_check(challenge_id=str(challenge.pk), user=user, code=code)
    assert not outcome.ok


@pytest.mark.django_db
def test_asking_for_codes_again_and_again_is_throttled() -> None:
    user = make_user("adele@contoso.test", registered=True)
    for _ in range(challenges.SEND_LIMIT.count):
        _text_challenge(user)
    with pytest.raises(challenges.ChallengeRefused, match="too many codes"):
        _text_challenge(user)


@pytest.mark.django_db
def test_a_totp_code_is_accepted_once() -> None:
    user = make_user("adele@contoso.test")
    method, secret = add_app(user)
    code = code_now(secret)
    assert challenges.totp_check(method_id=method.pk, user=user, code=code).ok
    again = challenges.totp_check(method_id=method.pk, user=user, code=code)
    assert again.status == "used" and "already been used" in again.message
    # An older code (the previous step) is refused too once a newer one was used.
    assert not challenges.totp_check(method_id=method.pk, user=user, code=code_now(secret, -1)).ok


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_submissions_of_one_code_give_exactly_one_success() -> None:
    user = make_user("adele@contoso.test")
    method, secret = add_app(user)
    code = code_now(secret)
    barrier = threading.Barrier(10)
    results: list[str] = []
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            barrier.wait()
            results.append(
                _like_a_client(
                    lambda: challenges.totp_check(method_id=method.pk, user=user, code=code)
                )
            )
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(results) == ["ok"] + ["used"] * 9


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_submissions_of_one_text_code_give_exactly_one_success() -> None:
    user = make_user("adele@contoso.test", registered=True)
    challenge, code = _text_challenge(user)
    barrier = threading.Barrier(10)
    results: list[str] = []
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            barrier.wait()
            results.append(
                _like_a_client(
                    lambda: challenges.text_code_check(
                        challenge_id=str(challenge.pk), user=user, code=code
                    )
                )
            )
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(results) == ["ok"] + ["used"] * 9


@pytest.mark.django_db
def test_notification_needs_the_number_shown_at_sign_in() -> None:
    user = make_user("adele@contoso.test")
    method, _secret = add_app(user, mode="notification")
    challenge = challenges.challenge_start(
        user=user, channel=Channel.APP_NOTIFICATION, purpose=Purpose.SIGN_IN, method=method
    )
    assert len(challenge.match_number) == 2 and challenge.match_number.isdigit()
    wrong = "10" if challenge.match_number != "10" else "11"
    outcome = challenges.notification_respond(
        challenge_id=str(challenge.pk), user=user, approve=True, number=wrong
    )
    assert not outcome.ok and "didn't match" in outcome.message
    assert challenges.answer_take(challenge_id=str(challenge.pk), user=user).status == "denied"
    second = challenges.challenge_start(
        user=user, channel=Channel.APP_NOTIFICATION, purpose=Purpose.SIGN_IN, method=method
    )
    assert challenges.answer_take(challenge_id=str(second.pk), user=user).status == "pending"
    assert challenges.notification_respond(
        challenge_id=str(second.pk), user=user, approve=True, number=second.match_number
    ).ok
    assert challenges.answer_take(challenge_id=str(second.pk), user=user).ok
    assert challenges.answer_take(challenge_id=str(second.pk), user=user).status == "used"


@pytest.mark.django_db
def test_pressing_pound_approves_a_call_and_anything_else_denies() -> None:
    user = make_user("adele@contoso.test", registered=True)
    method = user.methods.get()
    call = challenges.challenge_start(
        user=user, channel=Channel.CALL, purpose=Purpose.SIGN_IN, method=method
    )
    assert challenges.call_answer(challenge_id=str(call.pk), keys="#").ok
    assert challenges.answer_take(challenge_id=str(call.pk), user=user).ok
    other = challenges.challenge_start(
        user=user, channel=Channel.CALL, purpose=Purpose.SIGN_IN, method=method
    )
    assert challenges.call_answer(challenge_id=str(other.pk), keys="5").status == "denied"
    assert challenges.answer_take(challenge_id=str(other.pk), user=user).status == "denied"


def _context(user) -> ChangeContext:
    return ChangeContext(actor=user, source=AuditSource.SELF_SERVICE, ip_address="198.51.100.7")


@pytest.mark.django_db
def test_a_fraud_report_is_audited_and_blocks_when_the_admin_chose_so() -> None:
    service_set(fraud_report_allowed=True, fraud_report_blocks_user=True)
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    method, _secret = add_app(user, mode="notification")
    challenge = challenges.challenge_start(
        user=user, channel=Channel.APP_NOTIFICATION, purpose=Purpose.SIGN_IN, method=method
    )
    challenges.notification_respond(challenge_id=str(challenge.pk), user=user, approve=False)
    outcome = challenges.fraud_report(
        challenge_id=str(challenge.pk), user=user, context=_context(user)
    )
    assert outcome.status == "fraud" and "blocked" in outcome.message
    assert UserMfa.objects.get(user=user).blocked_for_fraud_at is not None
    event = AuditEvent.objects.get(action="mfa.fraud_reported")
    assert event.target == user and event.after == "blocked" and event.ip_address == "198.51.100.7"
    assert event.detail["result"] == "Fraud reported - user is blocked for MFA"


@pytest.mark.django_db
def test_a_fraud_report_without_blocking_is_still_audited() -> None:
    service_set(fraud_report_allowed=True, fraud_report_blocks_user=False)
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    call = challenges.challenge_start(
        user=user, channel=Channel.CALL, purpose=Purpose.SIGN_IN, method=user.methods.get()
    )
    assert challenges.call_answer(challenge_id=str(call.pk), keys="0#").status == "fraud"
    challenges.fraud_report(challenge_id=str(call.pk), user=user, context=_context(user))
    assert UserMfa.objects.get(user=user).blocked_for_fraud_at is None
    assert AuditEvent.objects.get(action="mfa.fraud_reported").after == "no action taken"


@pytest.mark.django_db
def test_keys_are_encrypted_at_rest_and_bound_to_their_user() -> None:
    adele = make_user("adele@contoso.test")
    megan = make_user("megan@contoso.test")
    method, secret = add_app(adele)
    assert method.secret_ciphertext is not None
    assert secret.encode() not in bytes(method.secret_ciphertext)
    from cryptography.exceptions import InvalidTag

    with pytest.raises(InvalidTag):
        totp.secret_open(
            method.secret_ciphertext, key_id=method.secret_key_id, object_id=str(megan.object_id)
        )
