"""The flows' state lives in a database row per flow, moved by conditional updates
(selfservice/flows.py): the approval poll, the person's click, the authenticator in another
tab and a second tab cannot lose or rewind one another's progress, and an htmx poll that
must go to another page gets HX-Redirect, never a page swapped into the card (issue 13)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError, connection
from django.test import Client

from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import challenges
from mfaportal.mfa.models import MfaState, VerificationChallenge
from mfaportal.selfservice import flows
from mfaportal.selfservice.models import Flow
from tests.factories import make_user
from tests.selfservice.helpers import password_step, text

REGISTER = "/signin/register/"
APP = "/signin/register/mobile-app/"
VERIFY = "/signin/register/verify/"
BACKUP = "/signin/register/backup-phone/"
HTMX = {"HX-Request": "true"}


def enrol_the_app_by_notification(client: Client) -> DirectoryUser:
    """Seed 000 up to *Contact me*: Mobile app, Receive notifications, Set up, Finished."""
    user = make_user("adele@contoso.test", state=MfaState.ENABLED)
    password_step(client, "adele@contoso.test")
    client.post(REGISTER, {"contact": "mobile_app", "app-mode": "notification", "action": "setup"})
    client.post(APP)
    assert client.post(REGISTER, {"contact": "mobile_app", "app-mode": "notification"})[
        "Location"
    ] == (VERIFY)
    return user


@pytest.mark.django_db
def test_the_approval_poll_sends_the_browser_to_step_3_instead_of_swapping_a_page_in(
    client: Client,
) -> None:
    user = enrol_the_app_by_notification(client)
    challenge = user.challenges.get(status="pending")
    assert (
        client.post(VERIFY, {"action": "check"}, headers=HTMX).status_code == 204
    )  # still waiting
    client.post(
        f"/demo/authenticator/requests/{challenge.pk}/",
        {"action": "approve", "number": challenge.match_number},
    )
    answer = client.post(VERIFY, {"action": "check"}, headers=HTMX)
    # Not a 302 that htmx would follow and swap into the card: the browser loads step 3.
    assert answer.status_code == 200 and answer["HX-Redirect"] == BACKUP
    assert "Location" not in answer and answer.content == b""
    assert "Step 3: In case you lose access to the mobile app" in text(client.get(BACKUP))
    # The poll keeps running until the page changes: it is sent on again, never back.
    again = client.post(VERIFY, {"action": "check"}, headers=HTMX)
    assert again["HX-Redirect"] == BACKUP


@pytest.mark.django_db
def test_the_authenticator_tab_writing_the_session_does_not_undo_the_approval(
    client: Client,
) -> None:
    """What lost the "verified" mark before: a request that had read the session before
    the approval was taken saved it afterwards, whole."""
    user = enrol_the_app_by_notification(client)
    challenge = user.challenges.get(status="pending")
    other_tab = client.session  # read now, saved after the poll moved on
    client.post(
        f"/demo/authenticator/requests/{challenge.pk}/",
        {"action": "approve", "number": challenge.match_number},
    )
    assert client.post(VERIFY, {"action": "check"}, headers=HTMX)["HX-Redirect"] == BACKUP
    other_tab["_language"] = "en"
    other_tab.save()
    assert "Step 3: In case you lose access" in text(client.get(BACKUP))
    assert client.get(VERIFY)["Location"] == BACKUP


def like_a_browser(request: Callable[[], Any]) -> Any:
    """One request, sent again if the in-memory SQLite test database answered "table is
    locked" at once (a file database or PostgreSQL waits instead). Every request here
    writes in one transaction, so a locked attempt changed nothing."""
    for _attempt in range(400):
        try:
            return request()
        except OperationalError as error:
            if "locked" not in str(error):
                raise
            time.sleep(0.005)
    raise AssertionError("the database stayed locked")


def tab_of(browser: Client) -> Client:
    """Another tab of the same browser: the same session cookie."""
    tab = Client()
    tab.cookies = SimpleCookie(browser.cookies.output(header="", sep=";"))
    assert tab.cookies[settings.SESSION_COOKIE_NAME].value == (
        browser.cookies[settings.SESSION_COOKIE_NAME].value
    )
    return tab


@pytest.mark.django_db(transaction=True)
def test_the_poll_the_click_and_the_approval_at_once_move_the_registration_on() -> None:
    browser = Client()
    user = enrol_the_app_by_notification(browser)
    challenge = user.challenges.get(status="pending")
    polls = 4
    start = threading.Barrier(polls + 2)
    answers: dict[str, Any] = {}
    errors: list[BaseException] = []

    def poll(name: str) -> None:
        """htmx's poll every few milliseconds, until it is told to go elsewhere."""
        tab = tab_of(browser)
        try:
            start.wait()
            for _attempt in range(2000):
                answer = like_a_browser(lambda: tab.post(VERIFY, {"action": "check"}, headers=HTMX))
                if answer.status_code != 204:
                    answers[name] = answer
                    return
                time.sleep(0.002)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    def click() -> None:
        """The person pressing "I've answered, continue" while the poll runs."""
        tab = tab_of(browser)
        try:
            start.wait()
            for _attempt in range(2000):
                answer = like_a_browser(lambda: tab.post(VERIFY, {"action": "check"}))
                # "Still waiting" comes back to this page (POST/redirect/GET): click again.
                if answer.status_code == 302 and answer["Location"] != VERIFY:
                    answers["click"] = answer
                    return
                time.sleep(0.002)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    def approve() -> None:
        """The authenticator simulator in another tab."""
        tab = tab_of(browser)
        try:
            start.wait()
            time.sleep(0.02)
            answers["approval"] = like_a_browser(
                lambda: tab.post(
                    f"/demo/authenticator/requests/{challenge.pk}/",
                    {"action": "approve", "number": challenge.match_number},
                )
            )
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=poll, args=(f"poll {n}",)) for n in range(polls)]
    threads += [threading.Thread(target=click), threading.Thread(target=approve)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert answers["approval"].status_code == 302
    # Every poll was sent on to step 3 (the one that took the approval, and the others
    # when they read where the registration stood), none back to step 1.
    for n in range(polls):
        assert answers[f"poll {n}"]["HX-Redirect"] == BACKUP, answers[f"poll {n}"]
    assert answers["click"]["Location"] == BACKUP
    # The approval was taken once, and the registration moved on exactly one step.
    challenge.refresh_from_db()
    assert challenge.status == VerificationChallenge.Status.CONSUMED
    signing_in = Flow.objects.get(kind=flows.Kind.SIGN_IN)
    reg = signing_in.data["reg"]
    assert reg["primary"]["verified"] and reg["verifying"] == ""
    assert "Step 3: In case you lose access to the mobile app" in text(browser.get(BACKUP))


@pytest.mark.django_db
def test_of_two_requests_that_read_the_same_step_only_the_first_moves_it(client: Client) -> None:
    client.get("/signin/")
    request = client.get("/signin/").wsgi_request
    request.session = client.session
    started = flows.flow_start(
        request, kind=flows.Kind.SIGN_IN, user=None, ttl=flows.KEEP_EXPIRED, data={"a": 1}
    )
    poll_read, tab_read = started, started  # both read version 1
    moved = flows.flow_advance(poll_read, stage="next", verified=True)
    assert moved is not None and moved.version == 2
    # The second tab's write, based on what it read, is refused rather than undoing it.
    assert flows.flow_advance(tab_read, stage="", verified=False) is None
    now = flows.flow_reread(started)
    assert now is not None and now.stage == "next" and now.get("verified") is True
    assert now.get("a") == 1
    # Only one request finishes it.
    assert not flows.flow_end(request, tab_read)
    assert flows.flow_end(request, now)
    assert flows.flow_current(request, flows.Kind.SIGN_IN) is None


@pytest.mark.django_db(transaction=True)
def test_ten_requests_moving_one_step_at_once_give_exactly_one_move() -> None:
    client = Client()
    request = client.get("/signin/").wsgi_request
    started = flows.flow_start(request, kind=flows.Kind.SIGN_IN, user=None, ttl=flows.KEEP_EXPIRED)
    barrier = threading.Barrier(10)
    moved: list[bool] = []
    errors: list[BaseException] = []

    def move(n: int) -> None:
        try:
            barrier.wait()
            for _attempt in range(400):
                try:
                    moved.append(flows.flow_advance(started, by=n) is not None)
                    return
                except OperationalError as error:
                    if "locked" not in str(error):
                        raise
                    time.sleep(0.005)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=move, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(moved) == [False] * 9 + [True]
    assert Flow.objects.get(pk=started.id).version == 2


@pytest.mark.django_db
def test_a_poll_that_loses_the_race_gives_the_approval_back_for_the_next_one(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poll takes the approval, but another request (the person's click saying "still
    waiting", a second tab) moved the registration after the poll read it: the poll's
    conditional update fails, so its whole transaction is undone, the approval with it, and
    the next poll takes it and moves on."""
    user = enrol_the_app_by_notification(client)
    challenge = user.challenges.get(status="pending")
    client.post(
        f"/demo/authenticator/requests/{challenge.pk}/",
        {"action": "approve", "number": challenge.match_number},
    )
    take = challenges.answer_take

    def taken_while_another_request_moves_the_flow(**kwargs: Any) -> Any:
        outcome = take(**kwargs)
        row = Flow.objects.get(kind=flows.Kind.SIGN_IN)
        Flow.objects.filter(pk=row.pk).update(version=row.version + 1)
        return outcome

    monkeypatch.setattr(challenges, "answer_take", taken_while_another_request_moves_the_flow)
    lost = client.post(VERIFY, {"action": "check"}, headers=HTMX)
    assert lost.status_code == 204  # poll again
    challenge.refresh_from_db()
    assert challenge.status == VerificationChallenge.Status.APPROVED  # given back
    monkeypatch.setattr(challenges, "answer_take", take)
    assert client.post(VERIFY, {"action": "check"}, headers=HTMX)["HX-Redirect"] == BACKUP
