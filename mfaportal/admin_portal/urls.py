from django.urls import path

from mfaportal.admin_portal import views

app_name = "admin_portal"
urlpatterns = [
    path("users/", views.users, name="users"),
]
