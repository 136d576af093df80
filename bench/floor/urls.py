from django.urls import path

from bench.floor import views

urlpatterns = [
    path("users/", views.users),
    path("setup/", views.setup),
    path("verify/", views.verify),
    path("legacy/auth", views.legacy_auth),
]
