"""The telephony gateway reports what was pressed on a verification call (http backend)."""

from __future__ import annotations

import hmac
import json
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.mfa import challenges
from mfaportal.mfa.models import VerificationChallenge


@csrf_exempt
@require_POST
def call_result(request: HttpRequest, challenge_id: uuid.UUID) -> HttpResponse:
    """``POST {"keys": "#"}`` with ``Authorization: Bearer <MFAPORTAL_TELEPHONY_TOKEN>``:
    # approves, 0# reports fraud, anything else denies."""
    token = settings.MFAPORTAL_TELEPHONY_TOKEN
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if settings.MFAPORTAL_TELEPHONY != "http" or not token or not hmac.compare_digest(sent, token):
        return JsonResponse({"error": "unauthorized"}, status=401)
    try:
        keys = str(json.loads(request.body or b"{}").get("keys", ""))
    except (ValueError, AttributeError):
        return JsonResponse({"error": "bad request"}, status=400)
    challenge = VerificationChallenge.objects.filter(pk=challenge_id).select_related("user").first()
    if challenge is None:
        return JsonResponse({"error": "not found"}, status=404)
    outcome = challenges.call_answer(challenge_id=str(challenge.pk), keys=keys)
    if outcome.status == "fraud":
        challenges.fraud_report(
            challenge_id=str(challenge.pk),
            user=challenge.user,
            context=ChangeContext(actor=challenge.user, source=AuditSource.SELF_SERVICE),
        )
    return JsonResponse({"status": outcome.status})
