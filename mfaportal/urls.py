from django.urls import include, path

from mfaportal.core import views as core_views
from mfaportal.selfservice import views as selfservice_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("health/", core_views.health, name="health"),
    path("signin/", selfservice_views.signin, name="signin"),
    path("signout/", selfservice_views.signout, name="signout"),
    path("admin/", include("mfaportal.admin_portal.urls")),
    path("mfa/", include("mfaportal.selfservice.urls")),
]
