from django.urls import path

from mfaportal.selfservice.views import hardware_tokens, passkeys, recovery, setup

app_name = "selfservice"
urlpatterns = [
    path("setup/", setup.setup, name="setup"),
    path("setup/verify/", setup.verify_change, name="verify_change"),
    path("setup/methods/<int:method_id>/delete/", setup.method_delete, name="method_delete"),
    path("setup/restore/", setup.restore_devices, name="restore_devices"),
    path("setup/app/", setup.app_setup, name="app_setup"),
    path("setup/app/configure/", setup.app_configure, name="app_configure"),
    path(
        "setup/hardware-tokens/<int:token_id>/activate/",
        hardware_tokens.hardware_token_activate,
        name="hardware_token_activate",
    ),
    path("reauthenticate/", setup.reauthenticate, name="reauthenticate"),
    path("setup/passkeys/", passkeys.passkey_setup, name="passkey_setup"),
    path("setup/passkeys/new/", passkeys.passkey_new, name="passkey_new"),
    path(
        "setup/passkeys/<int:method_id>/rename/",
        passkeys.passkey_rename_view,
        name="passkey_rename",
    ),
    # Don't lose access to your account! (self-service password reset contacts)
    path("recovery/", recovery.recovery, name="recovery"),
    path("recovery/email/", recovery.recovery_email, name="recovery_email"),
    path("recovery/phone/", recovery.recovery_phone, name="recovery_phone"),
    path("app-passwords/", setup.app_passwords, name="app_passwords"),
    path(
        "app-passwords/created/<uuid:secret_id>/",
        setup.app_password_created,
        name="app_password_created",
    ),
    path(
        "app-passwords/<int:app_password_id>/delete/",
        setup.app_password_delete_view,
        name="app_password_delete",
    ),
]
