"""Mail settings from the environment: MFAPORTAL_EMAIL_URL, the usual EMAIL_*, or the outbox."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from mfaportal.mfa.mail_config import OUTBOX, SMTP, email_settings


def test_without_configuration_mail_goes_to_the_outbox() -> None:
    assert email_settings({})["EMAIL_BACKEND"] == OUTBOX


def test_an_smtp_url_with_starttls_and_a_percent_encoded_password() -> None:
    found = email_settings(
        {
            "MFAPORTAL_EMAIL_URL": "smtp://mailer%40contoso.test:p%40ss%3Aw0rd@mail.example.net:587/?tls=true"
        }
    )
    assert found["EMAIL_BACKEND"] == SMTP
    assert found["EMAIL_HOST"] == "mail.example.net" and found["EMAIL_PORT"] == 587
    assert found["EMAIL_HOST_USER"] == "mailer@contoso.test"
    assert found["EMAIL_HOST_PASSWORD"] == "p@ss:w0rd"
    assert found["EMAIL_USE_TLS"] is True and found["EMAIL_USE_SSL"] is False
    assert found["EMAIL_TIMEOUT"] == 10.0


def test_smtps_means_tls_from_the_first_byte_on_port_465() -> None:
    found = email_settings({"MFAPORTAL_EMAIL_URL": "smtps://relay.example.net/?timeout=3"})
    assert found["EMAIL_USE_SSL"] is True and found["EMAIL_USE_TLS"] is False
    assert found["EMAIL_PORT"] == 465 and found["EMAIL_TIMEOUT"] == 3.0


def test_console_and_outbox_urls() -> None:
    assert email_settings({"MFAPORTAL_EMAIL_URL": "console://"})["EMAIL_BACKEND"].endswith(
        "console.EmailBackend"
    )
    assert email_settings({"MFAPORTAL_EMAIL_URL": "outbox://"})["EMAIL_BACKEND"] == OUTBOX


def test_the_usual_email_settings_work_without_a_url() -> None:
    found = email_settings(
        {
            "EMAIL_HOST": "smtp.example.net",
            "EMAIL_PORT": "2525",
            "EMAIL_HOST_USER": "portal",
            "EMAIL_HOST_PASSWORD": "secret",
            "EMAIL_USE_TLS": "true",
        }
    )
    assert found["EMAIL_BACKEND"] == SMTP and found["EMAIL_PORT"] == 2525
    assert found["EMAIL_USE_TLS"] is True and found["EMAIL_HOST_PASSWORD"] == "secret"


@pytest.mark.parametrize(
    "url",
    ["http://mail.example.net", "smtp://", "smtp://host:notaport/", "smtp://host/?timeout=0"],
)
def test_a_bad_mail_url_stops_the_portal_with_a_clear_message(url: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        email_settings({"MFAPORTAL_EMAIL_URL": url})
