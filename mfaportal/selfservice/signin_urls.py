"""The steps after the password: the challenge and the registration wizard."""

from django.urls import path

from mfaportal.selfservice.views import passkeys, password, register, reset, signin, tap

app_name = "signin_flow"
urlpatterns = [
    path("verify/", signin.verify, name="verify"),
    path("temporary-access-pass/", tap.signin_with_pass, name="temporary_access_pass"),
    path("verify/other/", signin.verify_other, name="verify_other"),
    path("more-information/", register.more_information, name="more_information"),
    path("register/", register.contact, name="register"),
    path("register/mobile-app/", register.configure_app, name="register_app"),
    path("register/verify/", register.verify, name="register_verify"),
    path("register/passkey/", passkeys.register_passkey, name="register_passkey"),
    path("register/backup-phone/", register.backup_phone, name="register_backup"),
    path("register/app-passwords/", register.app_passwords_step, name="register_app_passwords"),
    # Account recovery (DESIGN §5.7).
    path("update-password/", password.update_password, name="update_password"),
    path("forgot-password/", reset.forgot_password, name="forgot_password"),
    path("forgot-password/verify/", reset.verify, name="forgot_verify"),
    path("forgot-password/code/", reset.code, name="forgot_code"),
    path("forgot-password/new-password/", reset.new_password, name="forgot_new_password"),
    path("forgot-password/done/", reset.done, name="forgot_done"),
]
