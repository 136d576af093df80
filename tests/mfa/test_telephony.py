"""Telephony backends: outbox (default), console, and http with timeout and bounded retries."""

from __future__ import annotations

import dataclasses
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.test import Client, override_settings

from mfaportal.mfa import challenges
from mfaportal.mfa.models import MfaState, TelephonyMessage, VerificationChallenge
from mfaportal.mfa.telephony import (
    ConsoleBackend,
    Delivery,
    HttpBackend,
    OutboxBackend,
    TelephonyError,
    get_telephony,
)
from tests.factories import make_user

DELIVERY = Delivery(
    kind="text", to_number="+14255550100", body="Use verification code 123456", challenge_id="abc"
)


class Gateway:
    """A local HTTP gateway answering with the statuses it is given, recording requests."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[dict[str, str], dict[str, str]]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                gateway.requests.append((dict(self.headers), body))
                status = gateway.statuses.pop(0) if gateway.statuses else 200
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Gateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def no_sleep() -> Iterator[list[float]]:
    waits: list[float] = []
    yield waits


@pytest.mark.django_db
def test_outbox_is_the_default_and_stores_the_message() -> None:
    assert isinstance(get_telephony(), OutboxBackend)
    OutboxBackend().send(dataclasses.replace(DELIVERY, challenge_id=""))
    message = TelephonyMessage.objects.get()
    assert message.to_number == "+14255550100" and message.kind == "text"


def test_console_backend_writes_to_its_stream() -> None:
    stream = io.StringIO()
    ConsoleBackend(stream).send(DELIVERY)
    assert "[telephony] text to +14255550100: Use verification code 123456" in stream.getvalue()


def test_http_backend_posts_json_with_the_bearer_token(no_sleep: list[float]) -> None:
    with Gateway([200]) as gateway:
        HttpBackend(url=gateway.url, token="t0ken", sleep=no_sleep.append).send(DELIVERY)
    headers, body = gateway.requests[0]
    assert (
        headers["Authorization"] == "Bearer t0ken" and headers["Content-Type"] == "application/json"
    )
    assert body == {
        "type": "text",
        "to": "+14255550100",
        "extension": "",
        "message": "Use verification code 123456",
        "challengeId": "abc",
    }


def test_http_backend_retries_server_errors_and_throttling_then_succeeds(
    no_sleep: list[float],
) -> None:
    with Gateway([503, 429, 200]) as gateway:
        HttpBackend(
            url=gateway.url, token="t", attempts=3, backoff=0.5, sleep=no_sleep.append
        ).send(DELIVERY)
    assert len(gateway.requests) == 3
    assert no_sleep == [0.5, 0.0]  # backoff, then the gateway's Retry-After: 0


def test_http_backend_gives_up_after_a_bounded_number_of_attempts(no_sleep: list[float]) -> None:
    with Gateway([500, 500, 500, 500]) as gateway, pytest.raises(TelephonyError, match="HTTP 500"):
        HttpBackend(url=gateway.url, token="t", attempts=3, sleep=no_sleep.append).send(DELIVERY)
    assert len(gateway.requests) == 3


def test_http_backend_does_not_retry_a_refusal(no_sleep: list[float]) -> None:
    with Gateway([400]) as gateway, pytest.raises(TelephonyError, match="HTTP 400"):
        HttpBackend(url=gateway.url, token="t", sleep=no_sleep.append).send(DELIVERY)
    assert len(gateway.requests) == 1


def test_http_backend_times_out_and_reports_an_unreachable_gateway(no_sleep: list[float]) -> None:
    with pytest.raises(TelephonyError):
        HttpBackend(
            url="http://127.0.0.1:9/", token="t", timeout=0.5, attempts=2, sleep=no_sleep.append
        ).send(DELIVERY)
    assert no_sleep == [0.5]


@pytest.mark.django_db
def test_a_gateway_failure_tells_the_user_and_leaves_no_challenge() -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)

    class Down:
        name = "down"

        def send(self, delivery: Delivery) -> None:
            raise TelephonyError("HTTP 503")

    with pytest.raises(challenges.ChallengeRefused, match="couldn't reach your phone"):
        challenges.challenge_start(
            user=user,
            channel="text",
            purpose="sign_in",
            method=user.methods.get(),
            telephony=Down(),
        )
    assert not VerificationChallenge.objects.exists()


@pytest.mark.django_db
def test_the_gateway_reports_a_call_answered_with_pound() -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    call = challenges.challenge_start(
        user=user, channel="call", purpose="sign_in", method=user.methods.get()
    )
    url = f"/telephony/calls/{call.pk}/"
    with override_settings(MFAPORTAL_TELEPHONY="http", MFAPORTAL_TELEPHONY_TOKEN="gw-token"):
        client = Client()
        assert client.post(url, {"keys": "#"}, content_type="application/json").status_code == 401
        response = client.post(
            url,
            {"keys": "#"},
            content_type="application/json",
            HTTP_AUTHORIZATION="Bearer gw-token",
        )
        assert response.json() == {"status": "ok"}
    call.refresh_from_db()
    assert call.status == "approved"
