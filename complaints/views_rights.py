"""Portal pages for rights requests: ask to see, correct or delete your data, and
follow the answer."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from complaints.models import RightsRequest
from complaints.services.rights import rights_request_create
from consent.errors import ApplicationError
from consent.ledger import Actor
from preferences.auth import customer_login_required


class RightsRequestForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("What would you like us to do?"),
        choices=RightsRequest.Kind.choices,
        widget=forms.RadioSelect,
    )
    details = forms.CharField(
        label=gettext_lazy("Details"),
        help_text=gettext_lazy(
            "For a correction: what is wrong and what it should say. Otherwise "
            "optional."
        ),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


@customer_login_required
@require_http_methods(["GET", "POST"])
def rights_list(request):
    customer = request.customer
    form = RightsRequestForm(
        request.POST or None, initial={"kind": request.GET.get("kind")}
    )
    if request.method == "POST" and form.is_valid():
        try:
            created = rights_request_create(
                customer=customer,
                kind=form.cleaned_data["kind"],
                details=form.cleaned_data["details"],
                actor=Actor.customer(customer),
            )
        except (ValidationError, ApplicationError) as exc:
            if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, getattr(exc, "message", str(exc)))
        else:
            messages.success(
                request,
                _("We received your request %(reference)s.")
                % {"reference": created.reference},
            )
            return redirect("rights:detail", reference=created.reference)
    requests = customer.rights_requests.order_by("-received_at")
    return render(
        request, "complaints/rights_list.html", {"form": form, "requests": requests}
    )


@customer_login_required
@require_GET
def rights_detail(request, reference: str):
    item = get_object_or_404(
        RightsRequest, customer=request.customer, reference=reference
    )
    return render(
        request,
        "complaints/rights_detail.html",
        {"item": item, "notices": item.messages.all()},
    )
