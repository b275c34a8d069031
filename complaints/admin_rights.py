"""Staff queue for rights requests: sorted by due date, one button per step."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from backoffice.admin_mixins import AuditedAdminMixin
from backoffice.models import AccessLog
from complaints.models import RightsRequest, RightsRequestMessage
from complaints.services import rights
from consent.errors import ApplicationError


class RightsQueueFilter(admin.SimpleListFilter):
    title = _("queue")
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return (
            ("open", _("All open")),
            ("overdue", _("Overdue")),
            ("mine", _("Mine")),
            ("unassigned", _("Unassigned")),
        )

    def queryset(self, request, queryset):
        value = self.value()
        if value == "open":
            return queryset.open()
        if value == "overdue":
            return queryset.overdue()
        if value == "mine":
            return queryset.open().filter(assignee=request.user)
        if value == "unassigned":
            return queryset.open().filter(assignee__isnull=True)
        return queryset


class ExtendForm(forms.Form):
    reason = forms.CharField(
        label=_("Reasons (sent to the customer)"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    days = forms.IntegerField(label=_("Extra days"), min_value=1, max_value=60)


class RefuseForm(forms.Form):
    reasons = forms.CharField(
        label=_("Reasons (sent to the customer)"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class CompleteForm(forms.Form):
    outcome = forms.CharField(
        label=_("What was done (sent to the customer)"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


# name -> (form, title)
STEPS = {
    "take": (None, _("Take this request")),
    "extend": (ExtendForm, _("Extend, with a notice to the customer")),
    "refuse": (RefuseForm, _("Refuse, with reasons")),
    "complete": (CompleteForm, _("Complete and tell the customer")),
}


class NoticeInline(admin.TabularInline):
    model = RightsRequestMessage
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "subject", "body", "recipient", "sent_at")
    readonly_fields = fields
    verbose_name_plural = _("Notices to the customer")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RightsRequest)
class RightsRequestAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = (
        "reference",
        "due_display",
        "kind",
        "status",
        "customer_ref",
        "assignee",
        "received_at",
    )
    list_filter = (RightsQueueFilter, "kind", "status")
    list_select_related = ("customer", "assignee")
    search_fields = ("reference", "customer__external_ref")
    ordering = ("due_at", "pk")
    inlines = (NoticeInline,)
    change_form_template = "admin/complaints/rightsrequest/change_form.html"
    fields = (
        "reference",
        "kind",
        "status",
        "customer",
        "details",
        "received_at",
        "acknowledged_at",
        "due_at",
        "extension_reason",
        "extended_at",
        "assignee",
        "outcome",
        "refusal_reasons",
        "closed_at",
        "erasure_request",
        "overdue_alerted_at",
    )
    readonly_fields = fields

    @admin.display(description=_("customer"), ordering="customer__external_ref")
    def customer_ref(self, obj: RightsRequest) -> str:
        return obj.customer.external_ref

    @admin.display(description=_("due"), ordering="due_at")
    def due_display(self, obj: RightsRequest):
        now = timezone.now()
        if not obj.is_open:
            state = "done"
        elif obj.due_at < now:
            state = "overdue"
        elif (
            obj.due_at - now
        ).total_seconds() < settings.COMPLAINT_DUE_SOON_HOURS * 3600:
            state = "soon"
        else:
            state = "ok"
        return format_html(
            '<span class="cmp-due cmp-due-{}">{}</span>',
            state,
            timezone.localtime(obj.due_at).strftime("%Y-%m-%d"),
        )

    def has_add_permission(self, request):
        return False  # customers file them in the portal

    def has_delete_permission(self, request, obj=None):
        return False

    class Media:
        css = {"all": ("complaints/admin.css",)}

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        obj = self.get_object(request, object_id)
        steps = []
        if obj is not None and obj.is_open and self.has_change_permission(request, obj):
            for name, (form_class, title) in STEPS.items():
                if name == "take" and obj.assignee_id == request.user.pk:
                    continue
                if name == "extend" and obj.status == RightsRequest.Status.EXTENDED:
                    continue
                steps.append(
                    {
                        "name": name,
                        "title": title,
                        "form": form_class(prefix=name) if form_class else None,
                        "url": reverse(
                            "admin:complaints_rightsrequest_act", args=[obj.pk, name]
                        ),
                    }
                )
        extra_context.update(
            steps=steps,
            show_save=False,
            show_save_and_continue=False,
            show_save_and_add_another=False,
            show_delete=False,
        )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/act/<str:step>/",
                self.admin_site.admin_view(require_POST(self.step_view)),
                name="complaints_rightsrequest_act",
            ),
            *super().get_urls(),
        ]

    def step_view(self, request, object_id: int, step: str):
        if step not in STEPS:
            raise Http404
        obj = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        change_url = reverse("admin:complaints_rightsrequest_change", args=[obj.pk])
        form_class = STEPS[step][0]
        data: dict = {}
        if form_class is not None:
            form = form_class(request.POST, prefix=step)
            if not form.is_valid():
                for errors in form.errors.values():
                    for error in errors:
                        messages.error(request, error)
                return HttpResponseRedirect(change_url)
            data = form.cleaned_data
        user = request.user
        try:
            if step == "take":
                rights.rights_request_assign(request=obj, user=user)
            elif step == "extend":
                rights.rights_request_extend(request=obj, user=user, **data)
            elif step == "refuse":
                rights.rights_request_refuse(request=obj, user=user, **data)
            else:
                rights.rights_request_complete(request=obj, user=user, **data)
        except ValidationError as exc:
            for error in exc.messages:
                messages.error(request, error)
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
        else:
            self.audit(request, AccessLog.Action.CHANGE, obj, fields=[step])
            messages.success(
                request, gettext("Done: %(action)s") % {"action": STEPS[step][1]}
            )
        return HttpResponseRedirect(change_url)
