"""Graph mode's pages: staff sign-in with Entra ID, and the directory sync status."""

from django.urls import path

from mfaportal.entra import signin, views

app_name = "entra"
urlpatterns = [
    path("signin/entra/", signin.entra_start, name="start"),
    path("signin/entra/callback/", signin.entra_callback, name="callback"),
    path("admin/sync/", views.sync_status, name="sync"),
    path("admin/sync/run/", views.sync_now, name="sync_now"),
]
