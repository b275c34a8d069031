"""Staff queues for what the portal collects: erasure requests, not-me reports and
next-of-kin reports. Actions call services; the admin never edits these rows."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from backoffice.admin_mixins import AuditedAdminMixin
from consent.errors import ApplicationError
from preferences import services
from preferences.models import (
    CarePause,
    ErasureRequest,
    FrequencyCap,
    NextOfKinReport,
    NotMeReport,
    Preference,
)


class _ReadOnly(AuditedAdminMixin, admin.ModelAdmin):
    """Every view and search of these customer records is access-logged."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _run(modeladmin, request, queryset, service, done_message) -> None:
    done = 0
    for obj in queryset:
        try:
            service(obj, request.user)
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(
            request, done_message % {"count": done}, messages.SUCCESS
        )


@admin.register(ErasureRequest)
class ErasureRequestAdmin(_ReadOnly):
    list_display = (
        "customer",
        "status",
        "requested_at",
        "processed_at",
        "processed_by",
    )
    list_filter = ("status",)
    list_select_related = ("customer",)
    search_fields = ("customer__external_ref",)
    readonly_fields = (
        "customer",
        "status",
        "requested_at",
        "processed_at",
        "processed_by",
    )
    fields = (*readonly_fields, "staff_note")
    actions = ("carry_out", "decline")

    @admin.action(
        description=_("Carry out: erase the personal data"), permissions=("change",)
    )
    def carry_out(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            lambda obj, user: services.erasure_request_carry_out(
                request=obj, staff_user=user
            ),
            _("%(count)d request(s) carried out."),
        )

    @admin.action(
        description=_("Decline (legal retention applies)"), permissions=("change",)
    )
    def decline(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            lambda obj, user: services.erasure_request_decline(
                request=obj, staff_user=user, note=obj.staff_note
            ),
            _("%(count)d request(s) declined."),
        )


@admin.register(NotMeReport)
class NotMeReportAdmin(_ReadOnly):
    list_display = (
        "masked",
        "kind",
        "contact_points",
        "reported_at",
        "reviewed_at",
        "reviewed_by",
    )
    list_filter = ("kind", ("reviewed_at", admin.EmptyFieldListFilter))
    readonly_fields = (
        "masked",
        "kind",
        "blind_index",
        "contact_points",
        "reported_at",
        "reviewed_at",
        "reviewed_by",
    )
    actions = ("mark_reviewed",)

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    @admin.action(description=_("Mark as reviewed"))
    def mark_reviewed(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            lambda obj, user: services.not_me_report_review(
                report=obj, staff_user=user
            ),
            _("%(count)d report(s) reviewed."),
        )


@admin.register(NextOfKinReport)
class NextOfKinReportAdmin(_ReadOnly):
    list_display = (
        "reported_at",
        "kind",
        "customer",
        "customer_ref",
        "identifier_masked",
        "relationship",
        "status",
        "hold",
    )
    list_filter = ("status", "kind", "relationship")
    list_select_related = ("customer", "hold")
    raw_id_fields = ("customer",)
    fields = (
        "kind",
        "status",
        "hold",
        "replaced_pause",
        "pause_until",
        "pause_reason",
        "customer_ref",
        "identifier_masked",
        "deceased_name",
        "document_reference",
        "reporter_name",
        "relationship",
        "reporter_contact",
        "customer",
        "reported_at",
        "processed_at",
        "processed_by",
    )
    readonly_fields = (
        "kind",
        "status",
        "hold",
        "replaced_pause",
        "pause_until",
        "pause_reason",
        "customer_ref",
        "identifier_masked",
        "deceased_name",
        "document_reference",
        "reporter_name",
        "relationship",
        "reporter_contact",
        "reported_at",
        "processed_at",
        "processed_by",
    )
    actions = ("confirm", "reject")

    @admin.display(description=_("name given"))
    def deceased_name(self, obj):
        return obj.deceased_name

    def save_model(self, request, obj, form, change):
        """Choosing the customer of a pending report holds their marketing now."""
        super().save_model(request, obj, form, change)
        if obj.customer_id and obj.hold_id is None:
            services.next_of_kin_report_hold(report=obj, staff_user=request.user)

    @admin.display(description=_("document reference"))
    def document_reference(self, obj):
        return obj.document_reference

    @admin.display(description=_("reporter's name"))
    def reporter_name(self, obj):
        return obj.reporter_name

    @admin.display(description=_("reporter's contact"))
    def reporter_contact(self, obj):
        return obj.reporter_contact

    @admin.action(
        description=_(
            "Confirm: a death stops all marketing for good; a care pause stays"
        ),
        permissions=("change",),
    )
    def confirm(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            lambda obj, user: services.next_of_kin_report_confirm(
                report=obj, staff_user=user
            ),
            _("%(count)d report(s) confirmed."),
        )

    @admin.action(
        description=_("Not confirmed: end the hold, earlier choices apply again"),
        permissions=("change",),
    )
    def reject(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            lambda obj, user: services.next_of_kin_report_reject(
                report=obj, staff_user=user
            ),
            _("%(count)d report(s) closed."),
        )


@admin.register(Preference)
class PreferenceAdmin(_ReadOnly):
    list_display = (
        "customer",
        "quiet_start",
        "quiet_end",
        "time_zone",
        "preferred_channel",
        "personalisation_allowed",
        "updated_at",
    )
    list_select_related = ("customer", "preferred_channel")
    search_fields = ("customer__external_ref",)

    def has_change_permission(self, request, obj=None) -> bool:
        # Changes must refresh contactability: customers make them in the portal.
        return False


@admin.register(FrequencyCap)
class FrequencyCapAdmin(_ReadOnly):
    list_display = ("customer", "channel", "max_per_week")
    list_select_related = ("customer", "channel")
    search_fields = ("customer__external_ref",)

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CarePause)
class CarePauseAdmin(_ReadOnly):
    list_display = (
        "customer",
        "starts_at",
        "ends_at",
        "scope",
        "reason",
        "cancelled_at",
        "expiry_processed_at",
    )
    list_filter = ("scope", "reason")
    list_select_related = ("customer",)
    search_fields = ("customer__external_ref",)

    def has_change_permission(self, request, obj=None) -> bool:
        return False
