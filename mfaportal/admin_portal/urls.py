from django.urls import path

from mfaportal.admin_portal.views import (
    active_users,
    audit,
    bulk,
    detail,
    guide,
    hardware_tokens,
    jobs,
    password,
    settings,
    signins,
    tap,
    users,
)

app_name = "admin_portal"
urlpatterns = [
    path("active-users/", active_users.active_users, name="active_users"),
    path("users/", users.users, name="users"),
    path("users/steps/", users.steps_pane, name="steps"),
    path("users/steps/<slug:step>/", users.step, name="step"),
    path("users/count/", users.users_count, name="users_count"),
    path("users/report.csv", users.users_report, name="users_report"),
    path("users/jobs/", users.recent_jobs, name="recent_jobs"),
    path("users/<uuid:object_id>/", detail.user_detail, name="user_detail"),
    path("users/<uuid:object_id>/manage/", detail.user_manage, name="user_manage"),
    path("users/<uuid:object_id>/revoke/", detail.user_revoke_sessions, name="user_revoke"),
    path(
        "users/<uuid:object_id>/passkeys/<int:method_id>/delete/",
        detail.user_passkey_delete,
        name="user_passkey_delete",
    ),
    path(
        "users/<uuid:object_id>/unblock-fraud/",
        detail.user_fraud_unblock,
        name="user_fraud_unblock",
    ),
    path(
        "users/<uuid:object_id>/reset-password/",
        password.user_password_reset,
        name="user_password_reset",
    ),
    path(
        "users/<uuid:object_id>/reset-password/<uuid:secret_id>/",
        password.user_password_shown,
        name="user_password_shown",
    ),
    path("users/<uuid:object_id>/temporary-access-pass/", tap.user_tap, name="user_tap"),
    path(
        "users/<uuid:object_id>/temporary-access-pass/<uuid:secret_id>/",
        tap.user_tap_shown,
        name="user_tap_shown",
    ),
    path(
        "users/<uuid:object_id>/temporary-access-pass/delete/",
        tap.user_tap_delete,
        name="user_tap_delete",
    ),
    path("jobs/<uuid:job_id>/", jobs.job, name="job"),
    path("jobs/<uuid:job_id>/results.csv", jobs.job_results, name="job_results"),
    path("jobs/<uuid:job_id>/resume/", jobs.job_resume, name="job_resume"),
    path("bulk-update/", bulk.bulk_update, name="bulk_update"),
    path("bulk-update/sample.csv", bulk.bulk_sample, name="bulk_sample"),
    path("bulk-update/<uuid:upload_id>/", bulk.bulk_verify, name="bulk_verify"),
    path("bulk-update/<uuid:upload_id>/apply/", bulk.bulk_apply, name="bulk_apply"),
    path("settings/", settings.service_settings, name="service_settings"),
    path("audit/", audit.audit_log, name="audit"),
    path("sign-ins/", signins.signin_log, name="signins"),
    path("sign-ins/sign-ins.csv", signins.signin_log_csv, name="signins_csv"),
    path("guide/", guide.deployment_guide, name="guide"),
    path("hardware-tokens/", hardware_tokens.hardware_tokens, name="hardware_tokens"),
    path(
        "hardware-tokens/<int:token_id>/assign/",
        hardware_tokens.hardware_token_assign,
        name="hardware_token_assign",
    ),
    path(
        "hardware-tokens/<int:token_id>/deactivate/",
        hardware_tokens.hardware_token_deactivate,
        name="hardware_token_deactivate",
    ),
    path(
        "hardware-tokens/<int:token_id>/delete/",
        hardware_tokens.hardware_token_delete,
        name="hardware_token_delete",
    ),
    path(
        "users/<uuid:object_id>/hardware-tokens/<int:token_id>/activate/",
        hardware_tokens.user_hardware_token_activate,
        name="user_hardware_token_activate",
    ),
]
