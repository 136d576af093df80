"""Staff sign-in with Microsoft Entra ID (graph mode)."""

from django.urls import path

from mfaportal.selfservice import entra

app_name = "entra"
urlpatterns = [
    path("", entra.entra_start, name="start"),
    path("callback/", entra.entra_callback, name="callback"),
]
