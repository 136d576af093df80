from django.urls import path

from mfaportal.directory import views

app_name = "directory"
urlpatterns = [
    path("", views.sync_status, name="sync"),
    path("run/", views.sync_now, name="sync_now"),
]
