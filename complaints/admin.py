"""Triage in Django admin: queues, the workflow buttons, statistics and the export.

Nothing here changes a complaint directly: the add form and every button call a
service, so each change lands on the timeline with its actor.
"""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from backoffice.admin_mixins import AuditedAdminMixin, UnmaskForm
from backoffice.models import AccessLog
from backoffice.spreadsheets import writer_for_people
from complaints import charts, labels, selectors, services
from complaints import forms as cforms
from complaints.calendars import horizon_end
from complaints.models import (
    BusinessUnit,
    Calendar,
    CalendarDay,
    Category,
    Complaint,
    ComplaintEvent,
    ComplaintExtension,
    ComplaintMessage,
    ComplaintNote,
    ComplaintReview,
    Escalation,
    Matter,
    RegulatorCode,
    RootCause,
)
from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence
from consent.models import Channel, Topic
from consent.replica import read_from_replica


def due_soon_label() -> str:
    return gettext("Due within %(hours)d hours") % {
        "hours": settings.COMPLAINT_DUE_SOON_HOURS
    }


class QueueFilter(admin.SimpleListFilter):
    title = _("queue")
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return (
            ("overdue", _("Overdue")),
            ("due_soon", due_soon_label()),
            ("unassigned", _("Unassigned")),
            ("mine", _("Mine")),
            ("open", _("All open")),
        )

    def queryset(self, request, queryset):
        value = self.value()
        if value == "overdue":
            return queryset.overdue()
        if value == "due_soon":
            return queryset.due_within()
        if value == "unassigned":
            return queryset.open().filter(assignee__isnull=True)
        if value == "mine":
            return queryset.open().filter(assignee=request.user)
        if value == "open":
            return queryset.open()
        return queryset


class _CatalogueFilter(admin.SimpleListFilter):
    """A channel or product filter that shows names, not codes."""

    model = None

    def lookups(self, request, model_admin):
        return [(obj.code, obj.label) for obj in self.model.objects.all()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{f"{self.parameter_name}__code": self.value()})
        return queryset


class ChannelFilter(_CatalogueFilter):
    title = _("channel")
    parameter_name = "channel"
    model = Channel


class TopicFilter(_CatalogueFilter):
    title = _("product")
    parameter_name = "topic"
    model = Topic


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
    "remediation_done": (
        cforms.RemediationDoneForm,
        _("Record the remediation as done"),
        (Complaint.Status.CLOSED,),
        False,
    ),
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


# Letters the handler sees as the customer will before they are sent.
PREVIEWED = ("decide", "reply")


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
    elif name == "remediation_done":
        services.complaint_remediation_done(complaint=complaint, user=user, **data)
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
        "channel_label",
        "topic_label",
        "age",
        "assignee",
    )
    list_display_links = ("reference_display",)
    list_filter = (
        QueueFilter,
        "status",
        "category",
        ChannelFilter,
        TopicFilter,
        "source",
        "identity_verification",
        "is_major",
    )
    list_select_related = ("channel", "topic", "assignee")
    # Any search box text goes to selectors.complaint_search (blind index for
    # addresses, words in the description); the field here only shows the box.
    search_fields = ("reference",)
    search_help_text = _(
        "Complaint or customer reference, phone number, e-mail address, or words "
        "from the description."
    )
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
                    "identity_verification",
                    "customer",
                    "channel_label",
                    "topic_label",
                    "named_units",
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
        (_("Protection applied at intake"), {"fields": ("protection_summary",)}),
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
                    "deadline_provisional",
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
                    "remediation_due_on",
                    "remediation_done_on",
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
        elif obj.due_at < now + timedelta(hours=settings.COMPLAINT_DUE_SOON_HOURS):
            state, label = "soon", gettext("due soon")
        else:
            state, label = "ok", ""
        # The state is written out, not only coloured (WCAG 1.4.1).
        return format_html(
            '<span class="cmp-due cmp-due-{}">{}{}</span>',
            state,
            timezone.localtime(obj.due_at).strftime("%Y-%m-%d %H:%M"),
            format_html('<span class="cmp-due-state">{}</span>', label)
            if label
            else "",
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

    @admin.display(description=_("channel"), ordering="channel__position")
    def channel_label(self, obj: Complaint) -> str:
        return obj.channel.label if obj.channel else "—"

    @admin.display(description=_("product"), ordering="topic__position")
    def topic_label(self, obj: Complaint) -> str:
        return obj.topic.label if obj.topic else "—"

    @admin.display(description=_("protection applied at intake"))
    def protection_summary(self, obj: Complaint) -> str:
        return selectors.protection_text(obj.protection) or "—"

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

    def get_search_results(self, request, queryset, search_term):
        return selectors.complaint_search(queryset=queryset, terms=search_term), False

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
            identity_verification=data.get("identity_verification") or "",
        )
        obj.pk = complaint.pk
        obj.__dict__.update(Complaint.objects.get(pk=complaint.pk).__dict__)
        self.audit(request, AccessLog.Action.CHANGE, obj, fields=["created"])

    def save_related(self, request, form, formsets, change):
        if not change:
            form.instance.named_staff.set(form.cleaned_data.get("named_staff") or [])
            form.instance.named_units.set(form.cleaned_data.get("named_units") or [])

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
            if name == "remediation_done" and (
                not complaint.remediation_action or complaint.remediation_done_on
            ):
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
                protection_text=selectors.protection_text(complaint.protection),
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
            path(
                "<int:object_id>/customer/",
                wrap(self.customer_view),
                name="complaints_complaint_customer",
            ),
            path(
                "<int:object_id>/customer/unmask/<int:point_id>/",
                wrap(self.customer_unmask_view),
                name="complaints_complaint_customer_unmask",
            ),
            path(
                "remediation/",
                wrap(self.remediation_view),
                name="complaints_complaint_remediation",
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
            statuses = WORKFLOW[action][2]
            offered = statuses is None or complaint.status in statuses
            if action in PREVIEWED and offered and not request.POST.get("confirm"):
                return self._preview(request, complaint, action, form)
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

    def _preview(self, request, complaint: Complaint, action: str, form):
        """Show the letter exactly as it will be sent; nothing is saved or sent
        until the handler confirms."""
        data = form.cleaned_data
        if action == "decide":
            subject, body = services.decision_letter(
                complaint=complaint,
                outcome=data["outcome"],
                findings=data["findings"],
                reasons=data["reasons"],
            )
        else:
            subject, body = services.reply_letter(
                complaint=complaint, text=data["text"]
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": complaint,
            "title": gettext("Check the letter before sending"),
            "subject": subject,
            "body": body,
            "form": form,
            "action_title": WORKFLOW[action][1],
            "action_url": reverse(
                "admin:complaints_complaint_act", args=[complaint.pk, action]
            ),
            "change_url": self._change_url(complaint),
        }
        return TemplateResponse(
            request, "admin/complaints/complaint/preview.html", context
        )

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
                    first.get_category_display(),
                    first.channel and first.channel.label,
                    first.topic and first.topic.label,
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
        extra_context["due_soon_label"] = due_soon_label()
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
        scope = selectors.complaints_for_staff(user=request.user)
        # Read replica (consent/replica.py): the figures are read there when it is
        # within its lag bound.
        with read_from_replica():
            figures = selectors.complaint_statistics(
                date_from=date_from, date_to=date_to, queryset=scope
            )
            hotspots = selectors.complaint_hotspots(queryset=scope)
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

    # --- the complainant's records ---

    def _complaint_with_customer(self, request, object_id: int) -> Complaint:
        complaint = get_object_or_404(
            self.get_queryset(request).select_related("customer"), pk=object_id
        )
        if not self.has_view_permission(request, complaint):
            raise PermissionDenied
        if complaint.customer is None:
            raise Http404
        return complaint

    def customer_view(self, request, object_id: int):
        """Consent states, ledger, feed, violations and sends of the complainant,
        addresses masked; every opening is in the access log."""
        complaint = self._complaint_with_customer(request, object_id)
        records = selectors.complaint_customer_records(customer=complaint.customer)
        self.audit(
            request,
            AccessLog.Action.VIEW,
            complaint,
            fields=["consent_states", "ledger", "feed", "violations", "sends"],
        )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Customer %(ref)s: consent and messages")
            % {"ref": complaint.customer.external_ref},
            "opts": self.model._meta,
            "original": complaint,
            "records": records,
            "change_url": self._change_url(complaint),
        }
        return TemplateResponse(
            request, "admin/complaints/complaint/customer.html", context
        )

    def customer_unmask_view(self, request, object_id: int, point_id: int):
        """One clear address of the complainant, after a reason (logged)."""
        complaint = self._complaint_with_customer(request, object_id)
        point = get_object_or_404(complaint.customer.contact_points.all(), pk=point_id)
        form = UnmaskForm(request.POST or None)
        clear = None
        if request.method == "POST" and form.is_valid():
            self.audit(
                request,
                AccessLog.Action.UNMASK,
                complaint,
                fields=[f"contactpoint:{point.pk}"],
                reason=form.cleaned_data["reason"],
            )
            clear = point.address
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": complaint,
            "title": gettext("Show contact address"),
            "form": form,
            "masked": point.masked,
            "clear": clear,
            "field": "address",
        }
        return TemplateResponse(request, "admin/backoffice/unmask.html", context)

    def remediation_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = MonthForm(request.GET or None)
        month = timezone.localdate()
        if form.is_valid() and form.cleaned_data.get("month"):
            month = form.cleaned_data["month"]
        report = selectors.remediation_report(
            month=month, queryset=selectors.complaints_for_staff(user=request.user)
        )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Root causes and remediation"),
            "opts": self.model._meta,
            "form": form,
            "report": report,
            "today": timezone.localdate(),
        }
        return TemplateResponse(request, "admin/complaints/remediation.html", context)

    def export_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        date_from, date_to, _form = self._date_range(request)
        qs = selectors.complaints_for_staff(user=request.user)
        if date_from:
            qs = qs.filter(received_at__date__gte=date_from)
        if date_to:
            qs = qs.filter(received_at__date__lte=date_to)

        class Echo:
            def write(self, value):
                return value

        self.audit(request, AccessLog.Action.EXPORT, fields=["regulator_csv"])
        writer = writer_for_people(Echo())
        language = translation.get_language()

        def rows():
            # Streamed after the view returns: keep the request's language.
            with translation.override(language):
                for row in selectors.regulator_export_rows(queryset=qs):
                    yield writer.writerow(row)

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="complaints-{timezone.localdate():%Y%m%d}.csv"'
        )
        return response


class MonthForm(forms.Form):
    month = forms.DateField(
        label=_("Month"),
        required=False,
        input_formats=["%Y-%m"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
    )


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


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 3
    fields = ("day", "kind", "name")
    ordering = ("-day",)


@admin.register(Calendar)
class CalendarAdmin(admin.ModelAdmin):
    """Staff enter a newly published year here; open complaints with provisional
    deadlines are recalculated on save."""

    list_display = (
        "__str__",
        "covered_until",
        "covers_horizon",
        "source",
        "updated_at",
    )
    fields = ("code", "covered_until", "has_make_up_workdays", "source")
    inlines = (CalendarDayInline,)

    @admin.display(description=_("covers the coming days"), boolean=True)
    def covers_horizon(self, obj: Calendar) -> bool:
        return obj.covered_until >= horizon_end()

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        moved = services.complaint_deadlines_refresh(actor=Actor.staff(request.user))
        if moved:
            messages.info(
                request,
                gettext("Deadlines recalculated: %(count)d complaints")
                % {"count": moved},
            )


@admin.register(RegulatorCode)
class RegulatorCodeAdmin(admin.ModelAdmin):
    list_display = ("dimension", "value", "value_label", "code", "label")
    list_editable = ("code", "label")
    list_filter = ("dimension",)
    search_fields = ("value", "code", "label")

    @admin.display(description=_("meaning"))
    def value_label(self, obj: RegulatorCode) -> str:
        D = RegulatorCode.Dimension
        if obj.dimension == D.PRODUCT:
            return str(dict(Topic.Kind.choices).get(obj.value, obj.value))
        if obj.dimension == D.SUB_PRODUCT:
            return labels.topic_labels().get(obj.value, obj.value)
        if obj.dimension == D.ISSUE:
            return str(dict(Category.choices).get(obj.value, obj.value))
        return str(dict(RootCause.choices).get(obj.value, obj.value))


@admin.register(BusinessUnit)
class BusinessUnitAdmin(admin.ModelAdmin):
    list_display = ("code", "name_en", "name_zh")
    filter_horizontal = ("members",)


from complaints import admin_rights  # noqa: E402, F401  (registers the queue)
