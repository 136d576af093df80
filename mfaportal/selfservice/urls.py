from django.urls import path

from mfaportal.selfservice import recovery_views, setup_views

app_name = "selfservice"
urlpatterns = [
    path("setup/", setup_views.setup, name="setup"),
    path("setup/verify/", setup_views.verify_change, name="verify_change"),
    path("setup/methods/<int:method_id>/delete/", setup_views.method_delete, name="method_delete"),
    path("setup/restore/", setup_views.restore_devices, name="restore_devices"),
    path("setup/app/", setup_views.app_setup, name="app_setup"),
    path("setup/app/configure/", setup_views.app_configure, name="app_configure"),
    path("reauthenticate/", setup_views.reauthenticate, name="reauthenticate"),
    # Don't lose access to your account! (self-service password reset contacts)
    path("recovery/", recovery_views.recovery, name="recovery"),
    path("recovery/email/", recovery_views.recovery_email, name="recovery_email"),
    path("recovery/phone/", recovery_views.recovery_phone, name="recovery_phone"),
    path("app-passwords/", setup_views.app_passwords, name="app_passwords"),
    path(
        "app-passwords/<int:app_password_id>/delete/",
        setup_views.app_password_delete_view,
        name="app_password_delete",
    ),
]
