from django.urls import path

from mfaportal.selfservice import views

app_name = "selfservice"
urlpatterns = [
    path("setup/", views.setup, name="setup"),
]
