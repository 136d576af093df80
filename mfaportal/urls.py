from django.urls import include, path

from mfaportal.core import views as core_views
from mfaportal.selfservice import legacy
from mfaportal.selfservice.views import signin, telephony

urlpatterns = [
    path("", core_views.home, name="home"),
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("health/", core_views.health, name="health"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("ready/", core_views.ready, name="ready"),
    path("signin/", signin.signin, name="signin"),
    path("signout/", signin.signout, name="signout"),
    path("signin/", include("mfaportal.selfservice.signin_urls")),
    path("legacy/auth", legacy.legacy_auth, name="legacy_auth"),
    path("telephony/calls/<uuid:challenge_id>/", telephony.call_result, name="telephony_call"),
    path("demo/", include("mfaportal.demo.urls")),
    path("", include("mfaportal.entra.urls")),
    path("admin/", include("mfaportal.admin_portal.urls")),
    path("mfa/", include("mfaportal.selfservice.urls")),
]
