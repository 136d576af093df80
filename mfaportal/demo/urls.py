from django.urls import path

from mfaportal.demo import views

app_name = "demo"
urlpatterns = [
    path("phone/", views.phone, name="phone"),
    path("phone/calls/<int:message_id>/answer/", views.phone_answer, name="phone_answer"),
    path("mail/", views.mail, name="mail"),
    path("authenticator/", views.authenticator, name="authenticator"),
    path(
        "authenticator/requests/<uuid:challenge_id>/",
        views.authenticator_respond,
        name="authenticator_respond",
    ),
]
