"""The steps after the password: the challenge and the registration wizard."""

from django.urls import path

from mfaportal.selfservice import password_views, register_views, reset_views, views

app_name = "signin_flow"
urlpatterns = [
    path("verify/", views.verify, name="verify"),
    path("verify/other/", views.verify_other, name="verify_other"),
    path("more-information/", register_views.more_information, name="more_information"),
    path("register/", register_views.contact, name="register"),
    path("register/mobile-app/", register_views.configure_app, name="register_app"),
    path("register/verify/", register_views.verify, name="register_verify"),
    path("register/backup-phone/", register_views.backup_phone, name="register_backup"),
    path("register/done/", register_views.done, name="register_done"),
    # Account recovery (DESIGN §5.7).
    path("update-password/", password_views.update_password, name="update_password"),
    path("forgot-password/", reset_views.forgot_password, name="forgot_password"),
    path("forgot-password/verify/", reset_views.verify, name="forgot_verify"),
    path("forgot-password/code/", reset_views.code, name="forgot_code"),
    path("forgot-password/new-password/", reset_views.new_password, name="forgot_new_password"),
    path("forgot-password/done/", reset_views.done, name="forgot_done"),
]
