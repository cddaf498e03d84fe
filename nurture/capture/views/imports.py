from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from nurture.accounts.permissions import require_configure
from nurture.capture import actions, importing
from nurture.capture.models import ImportJob
from nurture.capture.models.forms import STANDARD_FIELDS

FIELD_LABELS: dict[str, Any] = {
    **{name: label for name, (_type, label) in STANDARD_FIELDS.items()},
    "external_id": gettext_lazy("External ID"),
    "zalo_id": gettext_lazy("Zalo ID"),
    "facebook_id": gettext_lazy("Facebook ID"),
    "source": gettext_lazy("Source"),
    "medium": gettext_lazy("Medium"),
    "campaign": gettext_lazy("Campaign"),
    "tags": gettext_lazy("Tags"),
}


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV or Excel (.xlsx) file"))
    source = forms.CharField(label=gettext_lazy("Source for rows without one"), initial="import", max_length=100)


@login_required
def import_list(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = actions.create_import(
                upload=upload, original_name=upload.name, created_by=request.user,  # type: ignore[arg-type]
                source=form.cleaned_data["source"],
            )  # fmt: skip
        except importing.UnreadableFile as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("capture:import_detail", job_id=job.pk)
    jobs = ImportJob.objects.select_related("created_by").order_by("-created_at")[:50]
    status = 422 if form.errors else 200
    return render(request, "capture/imports.html", {"form": form, "jobs": jobs}, status=status)


@login_required
def import_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    require_configure(request)
    job = get_object_or_404(ImportJob, pk=job_id)
    context: dict[str, Any] = {"job": job}
    if job.status == ImportJob.Status.DRAFT:
        path = Path(job.file_path)
        context["rows"] = [[row.get(h, "") for h in job.mapping] for row in importing.preview(path)]
        context["targets"] = [("", _("(ignore)"))] + [(f, FIELD_LABELS[f]) for f in importing.FIELDS]
        context["columns"] = list(job.mapping.items())
        context["custom_prefix"] = importing.CUSTOM_PREFIX
    return render(request, "capture/import_detail.html", context)


@login_required
@require_POST
def import_start(request: HttpRequest, job_id: int) -> HttpResponse:
    require_configure(request)
    job = get_object_or_404(ImportJob, pk=job_id)
    mapping = {header: request.POST.get(f"map-{i}", "") for i, header in enumerate(job.mapping)}
    tags = [t.strip() for t in request.POST.get("tags", "").split(",") if t.strip()]
    try:
        actions.start_import(job, mapping=mapping, tags=tags)
    except ValueError as exc:
        messages.error(request, str(exc))
    return redirect("capture:import_detail", job_id=job.pk)


@login_required
def import_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    require_configure(request)
    job = get_object_or_404(ImportJob, pk=job_id)
    return render(request, "capture/_import_progress.html", {"job": job})


@login_required
def import_rejects(request: HttpRequest, job_id: int) -> FileResponse:
    require_configure(request)
    job = get_object_or_404(ImportJob, pk=job_id)
    if not job.rejects_path or not Path(job.rejects_path).exists():
        raise Http404
    return FileResponse(open(job.rejects_path, "rb"), as_attachment=True, filename=f"rejected-{job.original_name}.csv")  # noqa: SIM115
