"""Admin for back-office security: the access log (read-only for everyone), anomaly
alerts and four-eyes approval requests."""

from __future__ import annotations

import json
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from backoffice import services
from backoffice.admin_mixins import ServiceCreatedAdminMixin
from backoffice.audit import anomaly_alert_review
from backoffice.incidents import send_incident_close
from backoffice.models import AccessLog, AnomalyAlert, ApprovalRequest, SendIncident
from consent import staff_grants
from consent.errors import ApplicationError
from consent.models import (
    ApiClient,
    Channel,
    ContactPoint,
    Customer,
    NoticeVersion,
    Topic,
)


class PeriodFilter(admin.SimpleListFilter):
    """Calendar periods an auditor asks about ("last month")."""

    title = _("period")
    parameter_name = "period"

    def lookups(self, request, model_admin):
        return (
            ("today", _("Today")),
            ("7d", _("Past 7 days")),
            ("this_month", _("This month")),
            ("last_month", _("Last month")),
        )

    def queryset(self, request, queryset):
        now = timezone.localtime()
        month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        value = self.value()
        if value == "today":
            return queryset.filter(
                at__gte=now.replace(hour=0, minute=0, second=0, microsecond=0)
            )
        if value == "7d":
            return queryset.filter(at__gte=now - timedelta(days=7))
        if value == "this_month":
            return queryset.filter(at__gte=month_start)
        if value == "last_month":
            last_start = (month_start - timedelta(days=1)).replace(day=1)
            return queryset.filter(at__gte=last_start, at__lt=month_start)
        return queryset


class ReadOnlyModelAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyModelAdmin):
    """Who looked at or changed what. Filter by customer reference (exact), action,
    object type and period to answer "who saw this customer's phone number"."""

    list_display = (
        "at",
        "username",
        "action",
        "object_type",
        "object_id",
        "customer_ref",
        "field_list",
        "result_count",
        "ip",
    )
    list_filter = (
        PeriodFilter,
        "action",
        "object_type",
        ("at", admin.DateFieldListFilter),
    )
    search_fields = ("=customer_ref", "=username", "=object_id")
    search_help_text = _("Exact customer reference, username or object id.")
    date_hierarchy = "at"
    fields = (
        "at",
        "username",
        "action",
        "object_type",
        "object_id",
        "customer_ref",
        "fields",
        "search_hash",
        "result_count",
        "reason",
        "ip",
    )
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description=_("fields"))
    def field_list(self, obj: AccessLog) -> str:
        return ", ".join(obj.fields or [])


@admin.register(AnomalyAlert)
class AnomalyAlertAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "username",
        "rule",
        "count",
        "threshold",
        "window_start",
        "window_end",
        "status",
        "reviewed_by",
    )
    list_filter = ("status", "rule")
    search_fields = ("=username",)
    readonly_fields = (
        "created_at",
        "username",
        "rule",
        "count",
        "threshold",
        "window_start",
        "window_end",
        "status",
        "reviewed_by",
        "reviewed_at",
    )
    fields = readonly_fields
    actions = ("mark_reviewed",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description=_("Mark as reviewed"), permissions=("change",))
    def mark_reviewed(self, request, queryset) -> None:
        count = 0
        for alert in queryset.filter(status=AnomalyAlert.Status.OPEN):
            anomaly_alert_review(alert=alert, user=request.user)
            count += 1
        self.message_user(
            request, _("%(count)d alert(s) marked as reviewed.") % {"count": count}
        )


class _OpenFirst(admin.SimpleListFilter):
    """Open incidents unless another status is chosen."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*SendIncident.Status.choices, ("all", _("All"))]

    def choices(self, changelist):
        value = self.value() or SendIncident.Status.OPEN
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: lookup}
                ),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or SendIncident.Status.OPEN
        return queryset if value == "all" else queryset.filter(status=value)


@admin.register(SendIncident)
class SendIncidentAdmin(admin.ModelAdmin):
    """Open violations of the send audit, by sending system."""

    list_display = (
        "client",
        "channel",
        "topic",
        "short_key",
        "day",
        "violation_count",
        "reasons",
        "last_sent_at",
        "status",
    )
    list_filter = (_OpenFirst, "client", "channel")
    ordering = ("client__name", "-day", "-opened_at")
    list_select_related = ("client", "channel", "first_violation__topic")
    fields = (
        "client",
        "channel",
        "topic",
        "short_key",
        "day",
        "violation_count",
        "reasons",
        "opened_at",
        "last_sent_at",
        "status",
        "closed_by",
        "closed_at",
    )
    readonly_fields = fields
    actions = ("close_incidents",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("identifier (blind index)"))
    def short_key(self, obj: SendIncident) -> str:
        return f"{obj.blind_index[:12]}…"

    @admin.display(description=_("product"))
    def topic(self, obj: SendIncident) -> str:
        return obj.first_violation.topic.code

    @admin.display(description=_("reasons"))
    def reasons(self, obj: SendIncident) -> str:
        return ", ".join(obj.first_violation.reasons)

    @admin.action(description=_("Close"), permissions=("change",))
    def close_incidents(self, request, queryset) -> None:
        count = 0
        for incident in queryset.filter(status=SendIncident.Status.OPEN):
            send_incident_close(incident=incident, user=request.user)
            count += 1
        self.message_user(
            request, _("%(count)d incident(s) closed.") % {"count": count}
        )


def _label_with_code(obj) -> str:
    return f"{obj.label} ({obj.code})"


class ApprovalRequestForm(forms.ModelForm):
    """One form for every kind; the fields the chosen kind needs are required."""

    contact_point = forms.IntegerField(
        label=_("contact point id"),
        required=False,
        help_text=_("For clearing a flag: the contact point's id."),
    )
    customer_ref = forms.CharField(label=_("customer reference"), required=False)
    channel = forms.ModelChoiceField(
        Channel.objects.all(), label=_("channel"), required=False, to_field_name="code"
    )
    topic = forms.ModelChoiceField(
        Topic.objects.filter(kind=Topic.Kind.MARKETING),
        label=_("topic"),
        required=False,
        to_field_name="code",
    )
    notice_version = forms.ModelChoiceField(
        NoticeVersion.objects.all(),
        label=_("notice version the customer agreed to"),
        required=False,
        help_text=_("On a call: the version read out to the customer."),
    )
    customer_act = forms.ChoiceField(
        label=_("evidence of the customer's own act"),
        choices=(("", "---------"), *staff_grants.ACT_CHOICES),
        required=False,
    )
    act_reference = forms.CharField(
        label=_("call recording or signed form reference"),
        required=False,
        max_length=100,
    )
    file = forms.FileField(
        label=_("CSV file"),
        required=False,
        help_text=_(
            "Columns: customer_ref, channel, topic, action (grant or withdraw), "
            "notice (code:version:language), occurred_at (optional, ISO 8601); "
            "grant rows also customer_act (recorded_call or signed_form) and "
            "act_reference."
        ),
    )
    api_client = forms.ModelChoiceField(
        ApiClient.objects.all(),
        label=_("existing API client"),
        required=False,
        help_text=_("For a key rotation, or to change an existing client's channels."),
    )
    client_name = forms.CharField(
        label=_("new API client name"), required=False, max_length=100
    )
    channels = forms.ModelMultipleChoiceField(
        Channel.objects.all(),
        label=_("channels the client may read"),
        required=False,
        to_field_name="code",
    )

    class Meta:
        model = ApprovalRequest
        fields = ("kind", "reason")

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.approval = None
        for name in ("channel", "topic", "channels"):
            self.fields[name].label_from_instance = _label_with_code

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.approval = self._create(cleaned)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.error_dict.items():
                    target = field if field in self.fields else None
                    for error in errors:
                        self.add_error(target, error)
            else:
                self.add_error(None, exc)
        except ApplicationError as exc:
            self.add_error(None, str(exc.message))
        return cleaned

    def _need(self, cleaned, *names):
        missing = [n for n in names if not cleaned.get(n)]
        if missing:
            raise ValidationError(
                {n: _("Required for this kind of request.") for n in missing}
            )

    def _customer(self, ref: str) -> Customer:
        customer = Customer.objects.filter(external_ref=ref.strip()).first()
        if customer is None:
            raise ValidationError({"customer_ref": services.MSG_ROW_CUSTOMER})
        return customer

    def _create(self, cleaned) -> ApprovalRequest:
        kind, user, reason = cleaned["kind"], self.request.user, cleaned["reason"]
        Kind = ApprovalRequest.Kind
        if kind == Kind.CONTACT_RESTORE:
            self._need(cleaned, "contact_point")
            point = ContactPoint.objects.filter(pk=cleaned["contact_point"]).first()
            if point is None:
                raise ValidationError({"contact_point": _("No such contact point.")})
            return services.approval_request_contact_restore(
                contact_point=point, requested_by=user, reason=reason
            )
        if kind == Kind.CONSENT_RESTORE:
            self._need(
                cleaned,
                "customer_ref",
                "channel",
                "topic",
                "notice_version",
                "customer_act",
                "act_reference",
            )
            return services.approval_request_consent_restore(
                customer=self._customer(cleaned["customer_ref"]),
                channel=cleaned["channel"],
                topic=cleaned["topic"],
                notice_version=cleaned["notice_version"],
                customer_act=cleaned["customer_act"],
                act_reference=cleaned["act_reference"],
                requested_by=user,
                reason=reason,
            )
        if kind == Kind.CONSENT_IMPORT:
            self._need(cleaned, "file")
            upload = cleaned["file"]
            return services.approval_request_consent_import(
                content=upload.read(),
                filename=upload.name,
                requested_by=user,
                reason=reason,
            )
        if kind == Kind.API_KEY_ROTATE:
            self._need(cleaned, "api_client")
            return services.approval_request_api_key_rotate(
                client=cleaned["api_client"], requested_by=user, reason=reason
            )
        self._need(cleaned, "channels")
        return services.approval_request_api_client_channels(
            requested_by=user,
            reason=reason,
            client=cleaned.get("api_client"),
            name=cleaned.get("client_name") or "",
            channel_codes=[c.code for c in cleaned["channels"]],
        )


class DecisionForm(forms.Form):
    note = forms.CharField(label=_("note"), required=False, max_length=300)


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ServiceCreatedAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "summary",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
        "decide_link",
    )
    list_filter = ("status", "kind")
    list_select_related = ("requested_by", "decided_by")
    search_fields = ("=id",)
    readonly_fields = (
        "kind",
        "summary",
        "reason",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
        "decision_note",
        "payload_rows",
        "result_report",
    )
    # Requests are decided on their own page, never edited.
    add_form = ApprovalRequestForm
    created_attribute = "approval"
    add_fieldsets = (
        (None, {"fields": ("kind", "reason")}),
        (_("Clear a not-me or invalid flag"), {"fields": ("contact_point",)}),
        (
            _("Restore marketing consent"),
            {
                "fields": (
                    "customer_ref",
                    "channel",
                    "topic",
                    "notice_version",
                    "customer_act",
                    "act_reference",
                )
            },
        ),
        (_("Bulk import of consents"), {"fields": ("file",)}),
        (
            _("API clients: channels or key rotation"),
            {"fields": ("api_client", "client_name", "channels")},
        ),
    )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_approve_permission(self, request) -> bool:
        return request.user.has_perm(services.APPROVE_PERMISSION)

    @admin.display(description=_("rows"))
    def payload_rows(self, obj: ApprovalRequest):
        rows = obj.payload.get("rows")
        if not rows:
            return json.dumps(obj.payload, ensure_ascii=False)
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            _("line"),
            _("row"),
            _("errors"),
            format_html_join(
                "",
                "<tr><td>{}</td><td>{} {} {} {}</td><td>{}</td></tr>",
                (
                    (
                        r["line"],
                        r["customer_ref"],
                        r["channel"],
                        r["topic"],
                        r["action"],
                        "; ".join(r["errors"]) or "ok",
                    )
                    for r in rows
                ),
            ),
        )

    @admin.display(description=_("result report"))
    def result_report(self, obj: ApprovalRequest):
        rows = (obj.result or {}).get("rows")
        if not rows:
            return json.dumps(obj.result or {}, ensure_ascii=False)
        return format_html(
            "<p>{}</p><table>{}</table>",
            _("%(count)d row(s) applied") % {"count": obj.result.get("applied", 0)},
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        r["line"],
                        r["status"],
                        "; ".join(r.get("errors", [])) or r.get("ledger_seq", ""),
                    )
                    for r in rows
                ),
            ),
        )

    @admin.display(description=_("decision"))
    def decide_link(self, obj: ApprovalRequest):
        if obj.status != ApprovalRequest.Status.PENDING:
            return "-"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:backoffice_approvalrequest_decide", args=(obj.pk,)),
            _("decide"),
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="backoffice_approvalrequest_decide",
            )
        ] + super().get_urls()

    def decide_view(self, request, object_id):
        """Approve or reject, with an optional note. The requester cannot decide."""
        approval = self.get_object(request, unquote(object_id))
        if approval is None:
            raise Http404
        if not (
            self.has_view_permission(request, approval)
            and self.has_approve_permission(request)
        ):
            raise PermissionDenied
        form = DecisionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            approve = "approve" in request.POST
            try:
                decide = (
                    services.approval_request_approve
                    if approve
                    else services.approval_request_reject
                )
                decided = decide(
                    approval=approval,
                    approver=request.user,
                    note=form.cleaned_data["note"],
                )
            except ApplicationError as exc:
                self.message_user(request, str(exc.message), messages.ERROR)
            else:
                level = (
                    messages.ERROR
                    if decided.status == ApprovalRequest.Status.FAILED
                    else messages.SUCCESS
                )
                self.message_user(
                    request,
                    _("Request #%(id)d: %(status)s.")
                    % {"id": decided.pk, "status": decided.get_status_display()},
                    level,
                )
                issued = getattr(decided, "_issued_key", None)
                if issued is not None:
                    return self._new_key_page(request, decided, issued)
                return HttpResponseRedirect(
                    reverse(
                        "admin:backoffice_approvalrequest_change", args=(decided.pk,)
                    )
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": approval,
            "title": _("Decide on request #%(id)d") % {"id": approval.pk},
            "form": form,
            "rows": self.payload_rows(approval),
            "own_request": approval.requested_by_id == request.user.pk,
            "pending": approval.status == ApprovalRequest.Status.PENDING,
        }
        return TemplateResponse(request, "admin/backoffice/decide.html", context)

    def _new_key_page(self, request, approval: ApprovalRequest, issued):
        """The one time the clear key exists outside the sender: in this page's
        body, not cached, not in a message (messages travel in a cookie)."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": approval,
            "title": _("New API key for %(client)s") % {"client": issued.key.client},
            "key": issued.clear,
            "prefix": issued.key.prefix,
        }
        response = TemplateResponse(request, "admin/backoffice/new_key.html", context)
        response["Cache-Control"] = "no-store"
        return response


# Admin for the other apps' models that the back office serves (registered on import).
from backoffice import (  # noqa: E402, F401
    admin_api_clients,
    admin_assisted,
    admin_consent,
    admin_events,
    admin_reviews,
    admin_webhooks,
)
