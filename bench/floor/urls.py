from django.urls import path

from bench.floor import views

urlpatterns = [path("users/", views.users)]
