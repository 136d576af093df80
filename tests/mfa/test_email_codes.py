"""Authentication email codes: the challenge machinery's email channel (DESIGN §5.7).

Six digits, stored only as a keyed hash, single use, ten minutes, five tries, sends limited
per user and per address; a mail server that refuses leaves no challenge behind.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.db import OperationalError, connection
from django.test import override_settings
from django.utils import timezone

from mfaportal.mfa import challenges
from mfaportal.mfa.models import OutboxEmail, VerificationChallenge
from tests.factories import make_user
from tests.selfservice.helpers import last_mail_code

pytestmark = pytest.mark.django_db
Channel = VerificationChallenge.Channel
Purpose = VerificationChallenge.Purpose
HOME = "adele.home@example.net"


def _send(user, address: str = HOME, purpose: str = Purpose.REGISTRATION):
    challenge = challenges.challenge_start(
        user=user, channel=Channel.EMAIL, purpose=purpose, email_address=address
    )
    return challenge, last_mail_code(address)


def test_an_email_code_is_six_digits_mailed_and_kept_only_as_a_keyed_hash() -> None:
    user = make_user("adele@contoso.test")
    challenge, code = _send(user)
    challenge.refresh_from_db()
    assert re.fullmatch(r"\d{6}", code)
    assert code not in challenge.code_digest and len(challenge.code_digest) == 64
    assert challenge.email_address == HOME and challenge.channel == "email"
    message = mail.outbox[-1]
    assert message.to == [HOME] and "Verify your email address" in message.subject
    assert "expires in 10 minutes" in message.body


def test_an_email_code_expires_after_ten_minutes() -> None:
    user = make_user("adele@contoso.test")
    challenge, code = _send(user)
    assert challenge.expires_at - challenge.created_at == timedelta(minutes=10)
    VerificationChallenge.objects.filter(pk=challenge.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    outcome = challenges.text_code_check(challenge_id=str(challenge.pk), user=user, code=code)
    assert outcome.status == "expired"


def test_an_email_code_works_once() -> None:
    user = make_user("adele@contoso.test")
    challenge, code = _send(user)
    first = challenges.text_code_check(challenge_id=str(challenge.pk), user=user, code=code)
    again = challenges.text_code_check(challenge_id=str(challenge.pk), user=user, code=code)
    assert first.ok and again.status == "used"


def test_five_wrong_email_codes_end_the_code() -> None:
    user = make_user("adele@contoso.test")
    challenge, code = _send(user)
    wrong = "000000" if code != "000000" else "111111"
    for _attempt in range(5):
        outcome = challenges.text_code_check(challenge_id=str(challenge.pk), user=user, code=wrong)
        assert outcome.status == "wrong"
    outcome = challenges.text_code_check(challenge_id=str(challenge.pk), user=user, code=code)
    assert outcome.status == "expired" and "Too many incorrect codes" in outcome.message


def test_another_users_email_code_doesnt_work_for_me() -> None:
    adele = make_user("adele@contoso.test")
    megan = make_user("megan@contoso.test")
    challenge, code = _send(adele)
    outcome = challenges.text_code_check(challenge_id=str(challenge.pk), user=megan, code=code)
    assert not outcome.ok


def test_a_new_code_ends_the_previous_one() -> None:
    user = make_user("adele@contoso.test")
    first, first_code = _send(user)
    _send(user)
    outcome = challenges.text_code_check(challenge_id=str(first.pk), user=user, code=first_code)
    assert outcome.status == "expired"


def test_sends_to_one_address_are_limited_even_from_many_accounts() -> None:
    users = [make_user(f"user{n}@contoso.test") for n in range(8)]
    refused = 0
    for user in users:
        try:
            _send(user, "victim@example.net")
        except challenges.ChallengeRefused as refusal:
            refused += 1
            assert "too many codes to that address" in refusal.message
    assert len([m for m in mail.outbox if m.to == ["victim@example.net"]]) == 6
    assert refused == 2


def test_a_mail_server_that_refuses_leaves_no_challenge() -> None:
    user = make_user("adele@contoso.test")
    refusing = override_settings(EMAIL_BACKEND="tests.mfa.test_email_codes.RefusingBackend")
    with refusing, pytest.raises(challenges.ChallengeRefused) as refusal:
        challenges.challenge_start(
            user=user, channel=Channel.EMAIL, purpose=Purpose.REGISTRATION, email_address=HOME
        )
    assert "couldn't send the email" in refusal.value.message
    assert not VerificationChallenge.objects.exists()


class RefusingBackend:
    def __init__(self, **kwargs: object) -> None:
        pass

    def send_messages(self, messages: object) -> int:
        raise ConnectionRefusedError("mail server down")


def test_the_outbox_backend_keeps_the_mail_for_the_simulator() -> None:
    user = make_user("adele@contoso.test")
    with override_settings(EMAIL_BACKEND="mfaportal.mfa.mail.OutboxEmailBackend"):
        challenges.challenge_start(
            user=user, channel=Channel.EMAIL, purpose=Purpose.PASSWORD_RESET, email_address=HOME
        )
    stored = OutboxEmail.objects.get()
    assert stored.to_address == HOME
    assert stored.subject == "Your MFA Portal password reset code"
    assert re.search(r"\b\d{6}\b", stored.body)


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_checks_of_one_email_code_let_exactly_one_through() -> None:
    user = make_user("adele@contoso.test")
    challenge, code = _send(user)
    results: list[str] = []
    lock = threading.Lock()

    def check() -> None:
        # A locked in-memory SQLite answers "table is locked" at once where a file database
        # or PostgreSQL waits; like a client, retry. A locked try read or wrote nothing.
        status = "gave up"
        try:
            for _attempt in range(400):
                try:
                    status = challenges.text_code_check(
                        challenge_id=str(challenge.pk), user=user, code=code
                    ).status
                    break
                except OperationalError as error:
                    if "locked" not in str(error):
                        status = f"error: {error}"
                        break
                    time.sleep(0.005)
        finally:
            with lock:
                results.append(status)
            connection.close()

    threads = [threading.Thread(target=check) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["ok"] + ["used"] * 9
