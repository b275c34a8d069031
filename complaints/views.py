"""Portal pages for complaints (signed in) and the report-this-message form."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from complaints import forms, selectors, services
from complaints.links import report_target
from complaints.models import Complaint
from complaints.services.limits import (
    complaint_create_limited,
    complaint_for_report_link,
)
from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence
from preferences.auth import client_ip, customer_login_required


def _form_errors(form, exc) -> None:
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        message = exc.message if isinstance(exc, ApplicationError) else exc.messages
        form.add_error(None, message)


@customer_login_required
def portal_list(request):
    complaints = selectors.complaints_for_customer(customer=request.customer)
    return render(request, "complaints/portal_list.html", {"complaints": complaints})


@customer_login_required
@require_http_methods(["GET", "POST"])
def portal_create(request):
    form = forms.ComplaintForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            complaint = complaint_create_limited(
                customer=request.customer,
                ip=client_ip(request),
                create=lambda **extra: services.complaint_create(
                    source=Complaint.Source.PORTAL,
                    description=data["description"],
                    actor=Actor.customer(request.customer),
                    customer=request.customer,
                    channel=data["channel"],
                    topic=data["topic"],
                    category=data["category"],
                    message_excerpt=data["message_excerpt"],
                    message_received_at=data["message_received_at"],
                    evidence=Evidence.from_request(request),
                    **extra,
                ),
            )
        except (ValidationError, ApplicationError) as exc:
            _form_errors(form, exc)
        else:
            messages.success(
                request,
                _("Your complaint %(reference)s was received.")
                % {"reference": complaint.reference},
            )
            return redirect("complaints:portal_detail", reference=complaint.reference)
    return render(request, "complaints/portal_create.html", {"form": form})


@customer_login_required
def portal_detail(request, reference: str):
    complaint = selectors.complaint_for_customer(
        customer=request.customer, reference=reference
    )
    return render(
        request,
        "complaints/portal_detail.html",
        {
            "complaint": complaint,
            "replies": complaint.messages.all(),
            "timeline": complaint.events.filter(kind="status"),
            "rating_form": forms.RatingForm(prefix="rate"),
            "info_form": forms.TextForm(prefix="info"),
            "review_form": forms.ReasonForm(prefix="review"),
            "can_rate": complaint.rated_at is None
            and complaint.status not in Complaint.OPEN_STATUSES,
            "can_review": complaint.decided_at is not None
            and not complaint.is_open
            and not complaint.reviews.filter(decided_at__isnull=True).exists(),
            "reviews": complaint.reviews.all(),
        },
    )


def _portal_post(request, reference: str, form_class, prefix: str, action) -> object:
    complaint = selectors.complaint_for_customer(
        customer=request.customer, reference=reference
    )
    form = form_class(request.POST, prefix=prefix)
    if form.is_valid():
        try:
            action(complaint, form.cleaned_data)
        except (ValidationError, ApplicationError) as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Thank you. We have recorded it."))
            return redirect("complaints:portal_detail", reference=reference)
    for error in form.non_field_errors() + [
        e for field in form.errors.values() for e in field
    ]:
        messages.error(request, error)
    return redirect("complaints:portal_detail", reference=reference)


@customer_login_required
@require_POST
def portal_rate(request, reference: str):
    return _portal_post(
        request,
        reference,
        forms.RatingForm,
        "rate",
        lambda c, d: services.complaint_rate(
            complaint=c,
            customer=request.customer,
            score=d["score"],
            comment=d["comment"],
        ),
    )


@customer_login_required
@require_POST
def portal_add_info(request, reference: str):
    return _portal_post(
        request,
        reference,
        forms.TextForm,
        "info",
        lambda c, d: services.complaint_new_facts(
            complaint=c, text=d["text"], actor=Actor.customer(request.customer)
        ),
    )


@customer_login_required
@require_POST
def portal_review(request, reference: str):
    return _portal_post(
        request,
        reference,
        forms.ReasonForm,
        "review",
        lambda c, d: services.complaint_review_request(
            complaint=c, reason=d["reason"], actor=Actor.customer(request.customer)
        ),
    )


@require_http_methods(["GET", "POST"])
def report(request, token: str):
    """No sign-in: the signed link is the proof the message reached this address.
    One link opens one complaint; using it again shows that complaint."""
    target = report_target(token)
    if target is None:
        raise Http404
    already = complaint_for_report_link(token)
    if already is not None:
        return render(
            request,
            "complaints/report_done.html",
            {"complaint": already, "already": True},
        )
    form = forms.ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        category = form.cleaned_data["category"]
        description = form.cleaned_data["description"] or str(
            dict(form.fields["category"].choices)[category]
        )
        try:
            complaint = complaint_create_limited(
                customer=target.customer,
                ip=client_ip(request),
                report_token=token,
                create=lambda **extra: services.complaint_create(
                    source=Complaint.Source.REPORT_LINK,
                    description=description,
                    actor=Actor.public("report_link"),
                    customer=target.customer,
                    channel=target.channel,
                    topic=target.topic,
                    category=category,
                    evidence=Evidence.from_request(request),
                    **extra,
                ),
            )
        except (ValidationError, ApplicationError) as exc:
            _form_errors(form, exc)
        else:
            return render(
                request, "complaints/report_done.html", {"complaint": complaint}
            )
    return render(request, "complaints/report.html", {"form": form, "target": target})
