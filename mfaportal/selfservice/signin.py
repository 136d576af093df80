"""Password sign-in for the portal (local mode)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.hashers import check_password
from django.utils import timezone
from django.utils.translation import gettext as _

from mfaportal.directory.models import DirectoryUser

# A password check against a user that does not exist costs the same as one that does,
# so timing doesn't tell an attacker which user names are real.
_DUMMY_HASH = "pbkdf2_sha256$1000000$mfaportal$HdvvGu9ePGSWCVp7bGO6JqxKnBZkHbD7k7iwClX3a+4="


@dataclass(frozen=True)
class PasswordCheck:
    user: DirectoryUser | None
    error: str = ""


def password_check(*, user_principal_name: str, password: str) -> PasswordCheck:
    user = DirectoryUser.objects.by_upn(user_principal_name).first()
    if user is None or not user.has_usable_password():
        check_password(password, _DUMMY_HASH)
        return PasswordCheck(None, _("Your account or password is incorrect."))
    if not user.check_password(password):
        return PasswordCheck(None, _("Your account or password is incorrect."))
    if not user.account_enabled:
        return PasswordCheck(
            None,
            _(
                "Your account has been locked. Contact your support person to unlock it, then try again."
            ),
        )
    DirectoryUser.objects.filter(pk=user.pk).update(password_verified_at=timezone.now())
    return PasswordCheck(user)
