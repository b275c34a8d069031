"""Triage in Django admin: queues, the workflow buttons, statistics and the export.

Nothing here changes a complaint directly: the add form and every button call a
service, so each change lands on the timeline with its actor.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from backoffice.admin_mixins import AuditedAdminMixin
from backoffice.models import AccessLog
from complaints import charts, selectors, services
from complaints import forms as cforms
from complaints.models import (
    Category,
    Complaint,
    ComplaintEvent,
    ComplaintExtension,
    ComplaintMessage,
    ComplaintNote,
    ComplaintReview,
    Escalation,
    Matter,
)
from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence
from consent.replica import read_from_replica


class QueueFilter(admin.SimpleListFilter):
    title = _("queue")
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return (
            ("overdue", _("Overdue")),
            ("due_48h", _("Due within 48 hours")),
            ("unassigned", _("Unassigned")),
            ("mine", _("Mine")),
            ("open", _("All open")),
        )

    def queryset(self, request, queryset):
        value = self.value()
        if value == "overdue":
            return queryset.overdue()
        if value == "due_48h":
            return queryset.due_within(48)
        if value == "unassigned":
            return queryset.open().filter(assignee__isnull=True)
        if value == "mine":
            return queryset.open().filter(assignee=request.user)
        if value == "open":
            return queryset.open()
        return queryset


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TimelineInline(_ReadOnlyInline):
    model = ComplaintEvent
    fields = ("at", "kind", "from_status", "to_status", "actor", "detail")
    readonly_fields = fields
    verbose_name_plural = _("Timeline")


class MessageInline(_ReadOnlyInline):
    model = ComplaintMessage
    fields = ("created_at", "kind", "subject", "body", "recipient", "sent_at", "author")
    readonly_fields = fields
    verbose_name_plural = _("Messages to the customer")


class NoteInline(_ReadOnlyInline):
    model = ComplaintNote
    fields = ("created_at", "author", "text")
    readonly_fields = fields
    verbose_name_plural = _("Internal notes (staff only)")


class ExtensionInline(_ReadOnlyInline):
    model = ComplaintExtension
    fields = ("step", "status", "reason", "requested_by", "requested_at", "approved_by")
    readonly_fields = fields


class ReviewInline(_ReadOnlyInline):
    model = ComplaintReview
    fields = ("requested_at", "due_at", "reason", "reviewer", "outcome", "decided_at")
    readonly_fields = fields


# name -> (form class or None, title, statuses it applies to, supervisor only)
_OPEN = Complaint.OPEN_STATUSES
_DECIDED = (*Complaint.DECIDED_STATUSES, Complaint.Status.CLOSED)
WORKFLOW = {
    "take": (None, _("Take this complaint"), _OPEN, False),
    "assign": (cforms.AssignForm, _("Assign"), _OPEN, True),
    "investigate": (
        None,
        _("Start investigation"),
        (Complaint.Status.ACKNOWLEDGED,),
        False,
    ),
    "reply": (cforms.TextForm, _("Reply to the customer"), None, False),
    "note": (cforms.TextForm, _("Add an internal note"), None, False),
    "recategorise": (cforms.CategoryForm, _("Correct the category"), None, False),
    "extend": (cforms.ReasonForm, _("Extend the deadline"), _OPEN, False),
    "approve_extension": (None, _("Approve the pending extension"), _OPEN, True),
    "pause": (cforms.PauseForm, _("Pause the clock"), _OPEN, False),
    "resume": (None, _("Resume the clock"), _OPEN, False),
    "new_facts": (
        cforms.TextForm,
        _("Record new facts (restarts the clock)"),
        _OPEN,
        False,
    ),
    "decide": (
        cforms.DecideForm,
        _("Decide and send the decision letter"),
        (Complaint.Status.INVESTIGATING,),
        False,
    ),
    "close": (cforms.CloseForm, _("Close"), Complaint.DECIDED_STATUSES, False),
    "reopen": (cforms.ReasonForm, _("Reopen (customer disputes)"), _DECIDED, False),
    "review_request": (
        cforms.ReasonForm,
        _("Record a review request"),
        _DECIDED,
        False,
    ),
    "review_assign": (cforms.ReviewerForm, _("Assign the review"), _DECIDED, True),
    "review_decide": (cforms.ReviewDecideForm, _("Decide the review"), _DECIDED, False),
}


def _open_review(complaint: Complaint) -> ComplaintReview | None:
    return complaint.reviews.filter(decided_at__isnull=True).first()


def _run_action(name: str, complaint: Complaint, user, data: dict, request) -> str:
    """Call the service behind a button; returns the success message."""
    staff = Actor.staff(user)
    if name == "take":
        services.complaint_assign(complaint=complaint, assignee=user, by=user)
    elif name == "assign":
        services.complaint_assign(
            complaint=complaint, assignee=data["assignee"], by=user
        )
    elif name == "investigate":
        services.complaint_start_investigation(complaint=complaint, user=user)
    elif name == "reply":
        services.complaint_reply(complaint=complaint, user=user, text=data["text"])
    elif name == "note":
        services.complaint_note_add(complaint=complaint, author=user, text=data["text"])
    elif name == "recategorise":
        services.complaint_recategorise(
            complaint=complaint, category=data["category"], user=user
        )
    elif name == "extend":
        services.complaint_extend(complaint=complaint, reason=data["reason"], user=user)
    elif name == "approve_extension":
        pending = complaint.extensions.filter(
            status=ComplaintExtension.Status.PENDING
        ).first()
        if pending is None:
            raise ApplicationError(services.MSG_EXTENSION_NOT_PENDING)
        services.complaint_extension_approve(extension=pending, user=user)
    elif name == "pause":
        services.complaint_clock_pause(
            complaint=complaint, reason=data["reason"], user=user
        )
    elif name == "resume":
        services.complaint_clock_resume(complaint=complaint, user=user)
    elif name == "new_facts":
        services.complaint_new_facts(
            complaint=complaint, text=data["text"], actor=staff
        )
    elif name == "decide":
        services.complaint_decide(complaint=complaint, user=user, **data)
    elif name == "close":
        services.complaint_close(complaint=complaint, user=user, **data)
    elif name == "reopen":
        services.complaint_reopen(
            complaint=complaint, reason=data["reason"], actor=staff
        )
    elif name == "review_request":
        services.complaint_review_request(
            complaint=complaint, reason=data["reason"], actor=staff
        )
    elif name in ("review_assign", "review_decide"):
        review = _open_review(complaint)
        if review is None:
            raise ApplicationError(services.MSG_REVIEW_DECIDED)
        if name == "review_assign":
            services.complaint_review_assign(
                review=review, reviewer=data["reviewer"], by=user
            )
        else:
            services.complaint_review_decide(review=review, user=user, **data)
    return gettext("Done: %(action)s") % {"action": WORKFLOW[name][1]}


@admin.register(Complaint)
class ComplaintAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = (
        "reference_display",
        "due_badge",
        "status",
        "category",
        "channel",
        "topic",
        "age",
        "assignee",
    )
    list_display_links = ("reference_display",)
    list_filter = (
        QueueFilter,
        "status",
        "category",
        "channel",
        "topic",
        "source",
        "is_major",
    )
    list_select_related = ("channel", "topic", "assignee")
    search_fields = ("reference",)
    date_hierarchy = "received_at"
    list_per_page = 50
    actions = ("take_selected", "group_into_matter", "run_escalation_check")
    inlines = (TimelineInline, MessageInline, NoteInline, ExtensionInline, ReviewInline)
    change_form_template = "admin/complaints/complaint/change_form.html"
    change_list_template = "admin/complaints/complaint/change_list.html"
    add_form = cforms.StaffIntakeForm
    masked_fields = {"contact_address": "contact_kind"}
    fieldsets = (
        (
            _("Complaint"),
            {
                "fields": (
                    "reference",
                    "status",
                    "source",
                    "customer",
                    "channel",
                    "topic",
                    "masked_address",
                    "category",
                    "suggested_category",
                    "classification_evidence",
                    "message_received_at",
                    "message_excerpt",
                    "description",
                    "complainant_count",
                    "matter",
                    "is_major",
                )
            },
        ),
        (_("Protection applied at intake"), {"fields": ("protection",)}),
        (
            _("Deadlines"),
            {
                "fields": (
                    "policy",
                    "received_at",
                    "ack_due_at",
                    "acknowledged_at",
                    "first_response_due_at",
                    "clock_started_at",
                    "due_at",
                    "extension_step",
                    "extension_reason",
                    "paused_at",
                    "pause_reason",
                    "paused_total",
                    "escalated_at",
                )
            },
        ),
        (_("Handling"), {"fields": ("assignee", "named_staff")}),
        (
            _("Decision"),
            {
                "fields": (
                    "outcome",
                    "findings",
                    "reasons",
                    "decided_by",
                    "decided_at",
                    "decision_sent_at",
                )
            },
        ),
        (
            _("Root cause and remediation"),
            {
                "fields": (
                    "root_cause",
                    "remediation_action",
                    "remediation_owner",
                    "closed_at",
                )
            },
        ),
        (
            _("Customer rating"),
            {"fields": ("satisfaction", "satisfaction_comment", "rated_at")},
        ),
    )

    class Media:
        css = {"all": ("complaints/admin.css",)}

    # --- queue columns ---

    @admin.display(description=_("due"), ordering="due_at")
    def due_badge(self, obj: Complaint):
        if obj.due_at is None:
            return "—"
        now = timezone.now()
        if not obj.is_open:
            state, label = "done", obj.get_status_display()
        elif obj.paused_at is not None:
            state, label = "paused", gettext("paused")
        elif obj.due_at < now:
            state, label = "overdue", gettext("overdue")
        elif obj.due_at < now + timedelta(hours=48):
            state, label = "soon", gettext("due soon")
        else:
            state, label = "ok", ""
        return format_html(
            '<span class="cmp-due cmp-due-{}" title="{}">{}</span>',
            state,
            label,
            timezone.localtime(obj.due_at).strftime("%Y-%m-%d %H:%M"),
        )

    def get_ordering(self, request):
        return ("open_rank", "due_at")

    @admin.display(description=_("reference"), ordering="reference")
    def reference_display(self, obj: Complaint):
        if obj.is_major:
            return format_html(
                '{}<span class="cmp-major">{}</span>', obj.reference, gettext("major")
            )
        return obj.reference

    @admin.display(description=_("age (days)"), ordering="received_at")
    def age(self, obj: Complaint) -> int:
        return (timezone.now() - obj.received_at).days

    # --- permissions and rows ---

    def get_queryset(self, request):
        # Open complaints first, each group by deadline: the queue is worked top down.
        qs = Complaint.objects.annotate(
            open_rank=Case(
                When(status__in=Complaint.OPEN_STATUSES, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        ).order_by(*self.get_ordering(request))
        return selectors.complaints_for_staff(user=request.user, queryset=qs)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return [f for fs in self.fieldsets for f in fs[1]["fields"]]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return ((None, {"fields": list(self.add_form.base_fields)}),)
        return self.fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
            kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def get_changeform_initial_data(self, request):
        return {"received_at": timezone.now()}

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "named_staff":
            kwargs["widget"] = forms.SelectMultiple(attrs={"size": 4})
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    raw_id_fields = ("customer",)

    def save_model(self, request, obj, form, change):
        if change:
            return
        data = form.cleaned_data
        complaint = services.complaint_create(
            source=data["source"],
            description=data["description"],
            actor=Actor.staff(request.user),
            customer=data.get("customer"),
            channel=data.get("channel"),
            topic=data.get("topic"),
            category=data.get("category") or None,
            message_excerpt=data.get("message_excerpt") or "",
            message_received_at=data.get("message_received_at"),
            received_at=data.get("received_at") or timezone.now(),
            contact_kind=data.get("contact_kind", ""),
            contact_address=data.get("contact_address", ""),
            complainant_count=data.get("complainant_count") or 1,
            evidence=Evidence.from_request(request),
        )
        obj.pk = complaint.pk
        obj.__dict__.update(Complaint.objects.get(pk=complaint.pk).__dict__)
        self.audit(request, AccessLog.Action.CHANGE, obj, fields=["created"])

    def save_related(self, request, form, formsets, change):
        if not change:
            form.instance.named_staff.set(form.cleaned_data.get("named_staff") or [])

    # --- change page: workflow buttons ---

    def _workflow_forms(self, request, complaint: Complaint) -> list[dict]:
        supervisor = services.is_supervisor(request.user)
        review = _open_review(complaint)
        items = []
        for name, (form_class, title, statuses, supervisor_only) in WORKFLOW.items():
            if statuses is not None and complaint.status not in statuses:
                continue
            if supervisor_only and not supervisor:
                continue
            if name == "take" and complaint.assignee_id is not None:
                continue
            if (
                name == "approve_extension"
                and not complaint.extensions.filter(
                    status=ComplaintExtension.Status.PENDING
                ).exists()
            ):
                continue
            if name == "pause" and complaint.paused_at is not None:
                continue
            if name == "resume" and complaint.paused_at is None:
                continue
            if name == "review_request" and review is not None:
                continue
            if name in ("review_assign", "review_decide") and review is None:
                continue
            if name == "review_decide" and review.reviewer_id != request.user.pk:
                continue
            items.append(
                {
                    "name": name,
                    "title": title,
                    "form": form_class(prefix=name) if form_class else None,
                    "url": reverse(
                        "admin:complaints_complaint_act", args=[complaint.pk, name]
                    ),
                }
            )
        return items

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        complaint = self.get_object(request, object_id)
        if complaint is not None:
            extra_context.update(
                workflow=self._workflow_forms(request, complaint)
                if self.has_change_permission(request, complaint)
                else [],
                show_save=False,
                show_save_and_continue=False,
                show_save_and_add_another=False,
                show_delete=False,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/act/<str:action>/",
                wrap(self.action_view),
                name="complaints_complaint_act",
            ),
            path(
                "statistics/",
                wrap(self.statistics_view),
                name="complaints_complaint_statistics",
            ),
            path(
                "export.csv",
                wrap(self.export_view),
                name="complaints_complaint_export",
            ),
            *super().get_urls(),
        ]

    def action_view(self, request, object_id: int, action: str):
        return require_POST(self._action)(request, object_id, action)

    def _action(self, request, object_id: int, action: str):
        if action not in WORKFLOW:
            raise Http404
        complaint = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_change_permission(request, complaint):
            raise PermissionDenied
        form_class = WORKFLOW[action][0]
        data: dict = {}
        if form_class is not None:
            form = form_class(request.POST, prefix=action)
            if not form.is_valid():
                for errors in form.errors.values():
                    for error in errors:
                        messages.error(request, error)
                return HttpResponseRedirect(self._change_url(complaint))
            data = form.cleaned_data
        try:
            done = _run_action(action, complaint, request.user, data, request)
        except ValidationError as exc:
            for error in exc.messages:
                messages.error(request, error)
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
        else:
            self.audit(request, AccessLog.Action.CHANGE, complaint, fields=[action])
            messages.success(request, done)
        return HttpResponseRedirect(self._change_url(complaint))

    def _change_url(self, complaint: Complaint) -> str:
        return reverse("admin:complaints_complaint_change", args=[complaint.pk])

    # --- bulk actions ---

    @admin.action(description=_("Take the selected complaints (assign to me)"))
    def take_selected(self, request, queryset):
        taken = 0
        for complaint in queryset.filter(assignee__isnull=True):
            try:
                services.complaint_assign(
                    complaint=complaint, assignee=request.user, by=request.user
                )
                taken += 1
            except ApplicationError as exc:
                messages.error(request, f"{complaint.reference}: {exc.message}")
        messages.success(request, gettext("Taken: %(count)d") % {"count": taken})

    @admin.action(description=_("Group the selected complaints into one matter"))
    def group_into_matter(self, request, queryset):
        first = queryset.select_related("channel", "topic").first()
        if first is None:
            return
        title = " / ".join(
            filter(
                None,
                [
                    first.category,
                    first.channel and first.channel.code,
                    first.topic and first.topic.code,
                    f"{timezone.localdate():%Y-%m-%d}",
                ],
            )
        )
        matter = first.matter or Matter.objects.create(title=title)
        matter = services.complaint_link_matter(
            complaints=list(queryset), matter=matter, user=request.user
        )
        messages.success(
            request,
            gettext("Linked to matter %(matter)s%(major)s")
            % {
                "matter": matter.title,
                "major": gettext(" (major complaint)") if matter.major_since else "",
            },
        )

    @admin.action(description=_("Run the escalation check now"))
    def run_escalation_check(self, request, queryset):
        created = services.complaint_escalations_run()
        messages.success(
            request, gettext("New escalations: %(count)d") % {"count": len(created)}
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        extra_context["queue_counts"] = selectors.complaint_queue_counts(
            user=request.user
        )
        return super().changelist_view(request, extra_context)

    # --- statistics and export ---

    def _date_range(self, request) -> tuple[date | None, date | None, forms.Form]:
        form = StatisticsFilterForm(request.GET or None)
        if form.is_valid():
            return form.cleaned_data["date_from"], form.cleaned_data["date_to"], form
        return None, None, form

    def statistics_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        date_from, date_to, form = self._date_range(request)
        # Read replica (consent/replica.py): the figures are read there when it is
        # within its lag bound.
        with read_from_replica():
            figures = selectors.complaint_statistics(
                date_from=date_from, date_to=date_to
            )
            hotspots = selectors.complaint_hotspots()
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Complaint statistics"),
            "opts": self.model._meta,
            "form": form,
            "stats": figures,
            "hotspots": hotspots,
            "category_labels": dict(Category.choices),
            "charts": {
                "category": charts.bar_chart(
                    figures.by_category, title=gettext("By category")
                ),
                "channel": charts.bar_chart(
                    figures.by_channel, title=gettext("By channel")
                ),
                "product": charts.bar_chart(
                    figures.by_product, title=gettext("By product")
                ),
                "root_cause": charts.bar_chart(
                    figures.by_root_cause, title=gettext("By root cause")
                ),
                "week": charts.line_chart(
                    [(f"{d:%m-%d}", n) for d, n in figures.by_week],
                    title=gettext("Complaints per week"),
                ),
                "satisfaction": charts.bar_chart(
                    [(f"{score} ★", n) for score, n in figures.satisfaction_counts],
                    title=gettext("Satisfaction"),
                ),
            },
            "export_url": reverse("admin:complaints_complaint_export")
            + ("?" + request.GET.urlencode() if request.GET else ""),
        }
        return TemplateResponse(request, "admin/complaints/statistics.html", context)

    def export_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        date_from, date_to, _form = self._date_range(request)
        qs = Complaint.objects.all()
        if date_from:
            qs = qs.filter(received_at__date__gte=date_from)
        if date_to:
            qs = qs.filter(received_at__date__lte=date_to)

        class Echo:
            def write(self, value):
                return value

        self.audit(request, AccessLog.Action.EXPORT, fields=["regulator_csv"])
        writer = csv.writer(Echo())
        response = StreamingHttpResponse(
            (
                writer.writerow(row)
                for row in selectors.regulator_export_rows(queryset=qs)
            ),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = (
            f'attachment; filename="complaints-{timezone.localdate():%Y%m%d}.csv"'
        )
        return response


class StatisticsFilterForm(forms.Form):
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


@admin.register(Matter)
class MatterAdmin(admin.ModelAdmin):
    list_display = ("title", "created_at", "major_since", "complaint_count")
    readonly_fields = ("major_since",)

    @admin.display(description=_("complaints"))
    def complaint_count(self, obj: Matter) -> int:
        return obj.complaints.count()


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    list_display = ("complaint", "kind", "due_at", "created_at", "notified")
    list_filter = ("kind",)
    list_select_related = ("complaint",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
