from django.urls import path

from bench.floor import views

urlpatterns = [
    path("users/", views.users),
    path("users/enable/", views.enable),
    path("setup/", views.setup),
    path("setup/methods/<int:pk>/delete/", views.method_delete, name="method_delete"),
    path("setup/restore/", views.restore, name="restore"),
    path("verify/", views.verify),
    path("legacy/auth", views.legacy_auth),
]
