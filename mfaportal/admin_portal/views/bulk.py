"""bulk update (DESIGN §4.3): select a file → verify → update in the background → results."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mfaportal.admin_portal.bulk import SAMPLE_FILE, BulkFileRefused, bulk_upload_verify
from mfaportal.admin_portal.forms import BulkUploadForm
from mfaportal.admin_portal.jobs import bulk_update_job_create, job_start
from mfaportal.admin_portal.models import BulkJob, BulkUpload, BulkUploadError
from mfaportal.core.client_ip import client_ip
from mfaportal.core.permissions import capability_required, staff_required
from mfaportal.core.roles import Capability
from mfaportal.directory.selectors import signed_in_user
from mfaportal.mfa.bulk_csv import MAX_BYTES, MAX_USERS, file_too_large_message

ERRORS_PER_PAGE = 100


def _upload_page(request: HttpRequest, form: BulkUploadForm, fatal: str = "") -> HttpResponse:
    return render(
        request,
        "admin_portal/bulk_update.html",
        {"form": form, "fatal": fatal, "max_users": MAX_USERS},
        status=413 if fatal else 200,
    )


@capability_required(Capability.VIEW_ADMIN, post=(Capability.CHANGE_STATE,))
@require_http_methods(["GET", "POST"])
def bulk_update(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        # Refuse a huge upload from its declared length, before Django spools it to disk.
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > MAX_BYTES + 64 * 1024:
            return _upload_page(request, BulkUploadForm(), file_too_large_message())
        form = BulkUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                # Django keeps a large upload in a temporary file; it is read a line at a time.
                verified = bulk_upload_verify(
                    data=upload, file_name=upload.name or "", actor=signed_in_user(request)
                )
            except BulkFileRefused as refused:
                return _upload_page(request, BulkUploadForm(), refused.message)
            return redirect("admin_portal:bulk_verify", upload_id=verified.pk)
    else:
        form = BulkUploadForm()
    return _upload_page(request, form)


def _upload_for(request: HttpRequest, upload_id: uuid.UUID) -> BulkUpload:
    # The rows (up to MAX_USERS of them) are read only by the job that applies them.
    upload = (
        BulkUpload.objects.defer("rows")
        .filter(pk=upload_id, created_by=signed_in_user(request))
        .first()
    )
    if upload is None:
        raise Http404
    return upload


def _page_number(request: HttpRequest, pages: int) -> int:
    try:
        number = int(request.GET.get("page", "1"))
    except ValueError:
        return 1
    return min(max(number, 1), max(pages, 1))


@staff_required
@require_GET
def bulk_verify(request: HttpRequest, upload_id: uuid.UUID) -> HttpResponse:
    upload = _upload_for(request, upload_id)
    job = BulkJob.objects.filter(upload=upload).only("pk").first()
    pages = -(-upload.error_count // ERRORS_PER_PAGE)
    number = _page_number(request, pages)
    start = (number - 1) * ERRORS_PER_PAGE
    errors = BulkUploadError.objects.filter(upload=upload).order_by("id")[
        start : start + ERRORS_PER_PAGE
    ]
    return render(
        request,
        "admin_portal/bulk_verify.html",
        {
            "upload": upload,
            "errors": list(errors.values_list("line", "username", "reason")),
            "page_number": number,
            "pages": pages,
            "previous_page": number - 1 if number > 1 else None,
            "next_page": number + 1 if number < pages else None,
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
    if upload.fatal or not upload.row_count:
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
