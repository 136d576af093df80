"""service settings (DESIGN §4.2): every admin reads them; global and authentication policy
administrators change them."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from mfaportal.admin_portal.forms import ServiceSettingsForm
from mfaportal.admin_portal.views.common import change_context
from mfaportal.core.permissions import capability_required
from mfaportal.core.roles import Capability
from mfaportal.directory.interface import SERVICE_SETTINGS, get_directory
from mfaportal.mfa.models import ServiceSettings
from mfaportal.mfa.services import service_settings_update


@capability_required(Capability.VIEW_ADMIN, post=(Capability.CHANGE_SETTINGS,))
@require_http_methods(["GET", "POST"])
def service_settings(request: HttpRequest) -> HttpResponse:
    current = ServiceSettings.load()
    # Graph mode: Entra's own settings are not in Graph; these are the portal's alone.
    portal_only = str(get_directory().portal_only.get(SERVICE_SETTINGS, ""))
    if request.method == "POST":
        form = ServiceSettingsForm(request.POST)
        if form.is_valid():
            changed = service_settings_update(
                changes=form.changes(), context=change_context(request)
            )
            if changed:
                messages.success(request, _("Updates successful"))
                if portal_only:
                    messages.info(request, portal_only)
            else:
                messages.info(request, _("Nothing changed: the settings were already so."))
            return redirect("admin_portal:service_settings")
    else:
        form = ServiceSettingsForm(initial=ServiceSettingsForm.initial_from(current))
    return render(
        request, "admin_portal/service_settings.html", {"form": form, "portal_only": portal_only}
    )
