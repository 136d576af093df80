"""bulk update (DESIGN §4.3): select a file → verify → update in the background → results."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mfaportal.admin_portal.bulk import SAMPLE_FILE, bulk_upload_verify, file_too_large_message
from mfaportal.admin_portal.forms import BulkUploadForm
from mfaportal.admin_portal.jobs import bulk_update_job_create, job_start
from mfaportal.admin_portal.models import BulkJob, BulkUpload
from mfaportal.core.client_ip import client_ip
from mfaportal.core.permissions import capability_required, staff_required
from mfaportal.core.roles import Capability
from mfaportal.directory.selectors import signed_in_user
from mfaportal.mfa.bulk_csv import MAX_BYTES

ERRORS_SHOWN = 200


@capability_required(Capability.VIEW_ADMIN, post=(Capability.CHANGE_STATE,))
@require_http_methods(["GET", "POST"])
def bulk_update(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        # Refuse a huge upload from its declared length, before Django spools it to disk.
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > MAX_BYTES + 64 * 1024:
            form = BulkUploadForm()
            return render(
                request,
                "admin_portal/bulk_update.html",
                {"form": form, "fatal": file_too_large_message()},
                status=413,
            )
        form = BulkUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            data = upload.read(MAX_BYTES + 1)
            verified = bulk_upload_verify(
                data=data, file_name=upload.name or "", actor=signed_in_user(request)
            )
            return redirect("admin_portal:bulk_verify", upload_id=verified.pk)
    else:
        form = BulkUploadForm()
    return render(request, "admin_portal/bulk_update.html", {"form": form})


def _upload_for(request: HttpRequest, upload_id: uuid.UUID) -> BulkUpload:
    upload = BulkUpload.objects.filter(pk=upload_id, created_by=signed_in_user(request)).first()
    if upload is None:
        raise Http404
    return upload


@staff_required
@require_GET
def bulk_verify(request: HttpRequest, upload_id: uuid.UUID) -> HttpResponse:
    upload = _upload_for(request, upload_id)
    job = BulkJob.objects.filter(upload=upload).first()
    return render(
        request,
        "admin_portal/bulk_verify.html",
        {
            "upload": upload,
            "errors": upload.errors[:ERRORS_SHOWN],
            "more_errors": max(0, len(upload.errors) - ERRORS_SHOWN),
            "job": job,
        },
    )


@capability_required(Capability.VIEW_ADMIN, Capability.CHANGE_STATE)
@require_POST
def bulk_apply(request: HttpRequest, upload_id: uuid.UUID) -> HttpResponse:
    upload = _upload_for(request, upload_id)
    existing = BulkJob.objects.filter(upload=upload).first()
    if existing is not None:
        # Applying the same file twice (a double click, the back button) runs it once.
        return redirect("admin_portal:job", job_id=existing.pk)
    if upload.fatal or not upload.rows:
        return redirect("admin_portal:bulk_verify", upload_id=upload.pk)
    try:
        with transaction.atomic():
            job = bulk_update_job_create(
                upload=upload, actor=signed_in_user(request), ip_address=client_ip(request)
            )
    except IntegrityError:
        # The same file applied twice at once: the other request created the job.
        return redirect("admin_portal:job", job_id=BulkJob.objects.get(upload=upload).pk)
    job_start(job)
    return redirect("admin_portal:job", job_id=job.pk)


@staff_required
@require_GET
def bulk_sample(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(SAMPLE_FILE, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="BulkUpdateMFASampleFile.csv"'
    return response
