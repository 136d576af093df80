"""Hardware OATH tokens (issue 16.3): the Entra-format file, activation by a code, sign-in
with the token's codes (drift, replay, lockout), deactivate and delete, who may."""

from __future__ import annotations

import logging
import time

import pyotp
import pytest
from django.db import connection

from mfaportal.core import roles
from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditEvent, AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import challenges, totp
from mfaportal.mfa.models import (
    HardwareOathToken,
    MethodType,
    MfaState,
    ServiceSettings,
    ThrottleBucket,
    UserMfa,
    VerificationMethod,
)
from mfaportal.mfa.services import mfa_reregistration_require
from mfaportal.mfa.services.oath_tokens import (
    ACTIVATE_LIMIT,
    oath_token_activate,
    oath_token_assign,
    oath_token_deactivate,
    oath_token_delete,
    oath_tokens_upload,
)
from mfaportal.mfa.signin import signin_options
from tests.factories import make_user
from tests.mfa.test_race_free_limits import Calls, hammer

pytestmark = pytest.mark.django_db

SECRET = "6PJ4UKIW33NNXYZAEHQNFUFTZF7WFTFB"  # Microsoft's sample key
SECRET_60 = "TXYZAE6PJ4UZF3NNKIW3HQNFUF7WFTFB"
HEADER = "upn,serial number,secret key,time interval,manufacturer,model"


def by(actor: DirectoryUser | None) -> ChangeContext:
    return ChangeContext(actor=actor, source=AuditSource.PAGE)


def own(user: DirectoryUser) -> ChangeContext:
    return ChangeContext(actor=user, source=AuditSource.SELF_SERVICE)


def file_of(*lines: str) -> bytes:
    return ("\n".join((HEADER, *lines)) + "\n").encode()


def now_code(secret: str, interval: int = 30) -> str:
    return pyotp.TOTP(secret, interval=interval).now()


def upload_one(upn: str, secret: str = SECRET, interval: int = 30) -> HardwareOathToken:
    result = oath_tokens_upload(
        data=file_of(f"{upn},SN-1,{secret},{interval},Contoso,Token 1000"), context=by(None)
    )
    assert result.created == 1, result.errors
    return HardwareOathToken.objects.get(serial_number="SN-1")


def test_an_uploaded_file_assigns_tokens_and_names_every_bad_line() -> None:
    adele = make_user("adele@contoso.test")
    result = oath_tokens_upload(
        data=file_of(
            f"adele@contoso.test,SN-1,{SECRET},30,Contoso,Token 1000",
            f",SN-2,{SECRET_60},60,Contoso,Token 2000",
            f"nobody@contoso.test,SN-3,{SECRET},30,Contoso,Token 1000",
            "adele@contoso.test,SN-4,not-base32!,30,Contoso,Token 1000",
            f"adele@contoso.test,SN-5,{SECRET},45,Contoso,Token 1000",
            f"adele@contoso.test,sn-1,{SECRET},30,Contoso,Token 1000",
            f"adele@contoso.test,,{SECRET},30,Contoso,Token 1000",
            "adele@contoso.test,SN-6",
            f"adele@contoso.test,SN-7,{SECRET[:16]},30,Contoso,Token 1000",
        ),
        context=by(None),
    )
    assert result.created == 2
    assert [(error.line, error.reason) for error in result.errors] == [
        (4, "User does not exist in this directory."),
        (
            5,
            "The secret key must be base32 (letters A to Z and digits 2 to 7) of at least "
            "128 bits.",
        ),
        (6, '"45" is not a time interval. Use 30 or 60 (seconds).'),
        (7, "Duplicate: this serial number is already on line 2."),
        (8, "The serial number is empty."),
        (
            9,
            "Expected six values: upn, serial number, secret key, time interval, "
            "manufacturer, model.",
        ),
        (
            10,
            "The secret key must be base32 (letters A to Z and digits 2 to 7) of at least "
            "128 bits.",
        ),
    ]
    assigned = HardwareOathToken.objects.get(serial_number="SN-1")
    assert assigned.user == adele and assigned.state == HardwareOathToken.State.ASSIGNED
    spare = HardwareOathToken.objects.get(serial_number="SN-2")
    assert spare.user is None and spare.state == HardwareOathToken.State.UNASSIGNED
    assert spare.time_interval == 60
    assert AuditEvent.objects.filter(action="mfa.hardware_token_uploaded").count() == 2


def test_a_file_with_the_wrong_header_is_refused_whole() -> None:
    result = oath_tokens_upload(
        data=f"Username,MFA Status\nadele@contoso.test,SN-1,{SECRET},30,C,M\n".encode(),
        context=by(None),
    )
    assert result.created == 0
    assert result.fatal.startswith('The first line must be the header "upn,serial number,')
    assert not HardwareOathToken.objects.exists()


def test_a_serial_number_already_uploaded_is_refused_on_its_line() -> None:
    upload_one("")
    result = oath_tokens_upload(data=file_of(f",sn-1,{SECRET},30,C,M"), context=by(None))
    assert result.created == 0
    assert result.errors[0].reason == (
        "A token with this serial number is already uploaded. Delete it first."
    )


def test_the_secret_key_is_encrypted_at_rest_and_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    adele = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    token = upload_one("adele@contoso.test")
    assert oath_token_activate(
        token_id=token.pk, user=adele, code=now_code(SECRET), context=own(adele)
    ).ok
    with connection.cursor() as cursor:
        for table in ("mfa_hardwareoathtoken", "mfa_verificationmethod", "core_auditevent"):
            cursor.execute(f"SELECT * FROM {table}")
            dump = repr(cursor.fetchall())
            assert SECRET not in dump and SECRET.lower() not in dump
    assert SECRET not in caplog.text


def test_an_assigned_token_is_activated_by_a_code_from_it_and_then_signs_in() -> None:
    adele = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    token = upload_one("adele@contoso.test")
    check = oath_token_activate(
        token_id=token.pk, user=adele, code=now_code(SECRET), context=own(adele)
    )
    assert check.ok
    token.refresh_from_db()
    assert token.state == HardwareOathToken.State.ACTIVATED
    method = token.method
    assert method is not None and method.kind == VerificationMethod.Kind.HARDWARE_TOKEN
    assert UserMfa.objects.get(user=adele).default_method == MethodType.PHONE_APP_OTP
    options = signin_options(adele, ServiceSettings.load())
    assert [(o.method_type, o.label) for o in options] == [
        (MethodType.PHONE_APP_OTP, "Use a verification code from Contoso Token 1000 (SN-1)")
    ]
    # The activation code itself is spent: it cannot sign in.
    replay = challenges.totp_check(method_id=method.pk, user=adele, code=now_code(SECRET))
    assert replay.status == "used"
    later = pyotp.TOTP(SECRET).at(time.time() + 30)
    assert challenges.totp_check(method_id=method.pk, user=adele, code=later).ok
    assert AuditEvent.objects.filter(action="mfa.hardware_token_activated", target=adele).exists()


def test_a_60_second_token_counts_in_60_second_steps() -> None:
    adele = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    token = upload_one("adele@contoso.test", SECRET_60, 60)
    # A 30-second code of the same key is not this token's code.
    wrong = pyotp.TOTP(SECRET_60, interval=30).at(time.time() - 90)
    assert not oath_token_activate(token_id=token.pk, user=adele, code=wrong, context=own(adele)).ok
    assert oath_token_activate(
        token_id=token.pk, user=adele, code=now_code(SECRET_60, 60), context=own(adele)
    ).ok
    token.refresh_from_db()
    assert token.method is not None
    next_code = pyotp.TOTP(SECRET_60, interval=60).at(time.time() + 60)
    assert challenges.totp_check(method_id=token.method.pk, user=adele, code=next_code).ok


def test_wrong_activation_codes_lock_the_token_after_five() -> None:
    adele = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    token = upload_one("adele@contoso.test")
    for _attempt in range(5):
        check = oath_token_activate(
            token_id=token.pk, user=adele, code="000000", context=own(adele)
        )
        assert check.status == "wrong"
    locked = oath_token_activate(
        token_id=token.pk, user=adele, code=now_code(SECRET), context=own(adele)
    )
    assert locked.status == "locked"
    token.refresh_from_db()
    assert token.method is None


@pytest.mark.django_db(transaction=True)
def test_thirty_parallel_wrong_activation_codes_get_at_most_the_limit_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    adele = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    token = upload_one("adele@contoso.test")
    checks = Calls()
    monkeypatch.setattr(totp, "matching_step", checks.wrap(totp.matching_step))
    results = hammer(
        lambda: (
            oath_token_activate(
                token_id=token.pk, user=adele, code="000000", context=own(adele)
            ).status
        )
    )
    # At most the limit is checked. A request the test database turned away after its
    # reservation keeps the reservation: it fails closed, so fewer may be checked, and on a
    # loaded machine every reserved attempt can be turned away (none checked, all locked).
    assert checks.count <= ACTIVATE_LIMIT.count
    assert results.count("wrong") == checks.count
    assert "locked" in results
    assert set(results) <= {"locked", "wrong"}
    # The token is locked for activation now: blocked, or (when the test database turned away
    # the attempt that reached the limit before it could record the block) full until its
    # window ends. Either way the next try, even with the right code, is refused.
    bucket = ThrottleBucket.objects.get(key=f"oath-activate:{token.pk}")
    assert bucket.blocked_until is not None or bucket.count >= ACTIVATE_LIMIT.count
    again = oath_token_activate(
        token_id=token.pk, user=adele, code=now_code(SECRET), context=own(adele)
    )
    assert again.status == "locked"


def test_someone_elses_token_cannot_be_activated() -> None:
    make_user("adele@contoso.test")
    mallory = make_user("mallory@contoso.test")
    token = upload_one("adele@contoso.test")
    check = oath_token_activate(
        token_id=token.pk, user=mallory, code=now_code(SECRET), context=own(mallory)
    )
    assert check.status == "expired"
    token.refresh_from_db()
    assert token.method is None


def test_an_authentication_administrator_cannot_assign_or_activate_for_a_global_admin() -> None:
    helpdesk = make_user("helpdesk@contoso.test", admin_role=roles.AUTHENTICATION_ADMINISTRATOR)
    boss = make_user("boss@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    make_user("adele@contoso.test")
    result = oath_tokens_upload(
        data=file_of(
            f"boss@contoso.test,SN-1,{SECRET},30,C,M", f"adele@contoso.test,SN-2,{SECRET},30,C,M"
        ),
        context=by(helpdesk),
    )
    assert result.created == 1
    assert result.errors[0].line == 2
    assert "privileged" in result.errors[0].reason
    HardwareOathToken.objects.filter(serial_number="SN-2").update(user=boss)
    token = HardwareOathToken.objects.get(serial_number="SN-2")
    check = oath_token_activate(
        token_id=token.pk, user=boss, code=now_code(SECRET), context=by(helpdesk)
    )
    assert check.status == "refused"
    assert oath_token_delete(token_id=token.pk, context=by(helpdesk))
    assert HardwareOathToken.objects.filter(pk=token.pk).exists()


def test_deactivating_keeps_the_token_assigned_and_stops_its_codes() -> None:
    admin = make_user("admin@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    adele = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    token = upload_one("adele@contoso.test")
    assert oath_token_activate(
        token_id=token.pk, user=adele, code=now_code(SECRET), context=by(admin)
    ).ok
    token.refresh_from_db()
    method_id = token.method_id
    assert method_id is not None
    assert oath_token_deactivate(token_id=token.pk, context=by(admin)) == ""
    token.refresh_from_db()
    assert token.state == HardwareOathToken.State.ASSIGNED and token.user == adele
    assert not VerificationMethod.objects.filter(pk=method_id).exists()
    assert UserMfa.objects.get(user=adele).default_method == MethodType.ONE_WAY_SMS
    assert AuditEvent.objects.filter(action="mfa.hardware_token_deactivated").exists()


def test_deleting_a_token_removes_its_sign_in_method_and_is_audited() -> None:
    admin = make_user("admin@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    adele = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    token = upload_one("adele@contoso.test")
    assert oath_token_activate(
        token_id=token.pk, user=adele, code=now_code(SECRET), context=own(adele)
    ).ok
    assert oath_token_delete(token_id=token.pk, context=by(admin)) == ""
    assert not HardwareOathToken.objects.exists()
    assert not VerificationMethod.objects.filter(user=adele).exists()
    event = AuditEvent.objects.get(action="mfa.hardware_token_deleted")
    assert event.target_id == adele.pk and event.before == "SN-1"


def test_requiring_re_registration_deactivates_the_users_tokens_and_keeps_them_assigned() -> None:
    adele = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    token = upload_one("adele@contoso.test")
    assert oath_token_activate(
        token_id=token.pk, user=adele, code=now_code(SECRET), context=own(adele)
    ).ok
    mfa_reregistration_require(
        users=DirectoryUser.objects.filter(pk=adele.pk),
        context=ChangeContext(actor=None, source=AuditSource.CLI),
    )
    token.refresh_from_db()
    assert token.state == HardwareOathToken.State.ASSIGNED and token.user == adele


def test_a_spare_token_is_assigned_once_to_a_user_within_reach() -> None:
    helpdesk = make_user("helpdesk@contoso.test", admin_role=roles.AUTHENTICATION_ADMINISTRATOR)
    make_user("boss@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    adele = make_user("adele@contoso.test")
    token = upload_one("")
    assert oath_token_assign(
        token_id=token.pk, user_principal_name="ghost@contoso.test", context=by(helpdesk)
    ) == ("User does not exist in this directory.")
    assert "privileged" in oath_token_assign(
        token_id=token.pk, user_principal_name="boss@contoso.test", context=by(helpdesk)
    )
    assert (
        oath_token_assign(
            token_id=token.pk, user_principal_name="ADELE@contoso.test", context=by(helpdesk)
        )
        == ""
    )
    token.refresh_from_db()
    assert token.user == adele and token.state == HardwareOathToken.State.ASSIGNED
    assert oath_token_assign(
        token_id=token.pk, user_principal_name="helpdesk@contoso.test", context=by(helpdesk)
    ) == ("That hardware token is no longer unassigned.")
    assert AuditEvent.objects.filter(action="mfa.hardware_token_assigned", target=adele).exists()
