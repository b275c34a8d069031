"""Admin for the consent core. Evidence (ledger, feed, projections) is read-only for
everyone, superusers included; changes go through services, never through forms."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from backoffice.admin_mixins import AuditedAdminMixin, approval_request_link
from consent.models import (
    Channel,
    ConsentEvent,
    ConsentState,
    Contactability,
    ContactPoint,
    Customer,
    NoticeVersion,
    OptOut,
    SuppressedIdentifier,
    SuppressionChange,
    Topic,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Evidence admin, like django-axes' log admins: look, never touch."""

    @admin.display(description=_("permitted topics"))
    def permitted(self, obj) -> str:
        return ", ".join(obj.permitted_topics) or "—"

    @admin.display(description=_("reasons"))
    def reason_codes(self, obj) -> str:
        return ", ".join(obj.reasons) or "—"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name_en",
        "name_zh",
        "address_kind",
        "position",
        "is_active",
    )
    list_editable = ("position", "is_active")
    readonly_fields = ("code", "address_kind")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name_en",
        "name_zh",
        "kind",
        "held_by_care_pause",
        "customer_may_refuse",
        "is_active",
    )
    list_filter = ("kind", "customer_may_refuse", "is_active")

    def get_readonly_fields(self, request, obj=None):
        # The code and kind are cited by the ledger; only labels change after creation.
        return ("code", "kind") if obj else ()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(NoticeVersion)
class NoticeVersionAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "version",
        "language",
        "title",
        "effective_from",
        "short_hash",
    )
    list_filter = ("code", "language")
    readonly_fields = ("sha256", "created_at")

    @admin.display(description=_("SHA-256"))
    def short_hash(self, obj: NoticeVersion) -> str:
        return f"{obj.sha256[:12]}…"

    def has_change_permission(self, request, obj=None) -> bool:
        # A published wording is evidence: publish a new version instead.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ContactPointInline(admin.TabularInline):
    model = ContactPoint
    fields = ("kind", "masked", "status", "verified_at", "removed_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("address"))
    def masked(self, obj: ContactPoint) -> str:
        return obj.masked


class ConsentStateInline(admin.TabularInline):
    model = ConsentState
    fields = ("channel", "topic", "status", "source", "updated_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("channel", "topic")


@admin.register(Customer)
class CustomerAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("external_ref", "status", "preferred_language", "created_at")
    list_filter = ("status", "preferred_language")
    search_fields = ("external_ref",)
    fields = (
        "external_ref",
        "status",
        "preferred_language",
        "created_at",
        "erased_at",
        "assisted_link",
    )
    readonly_fields = (
        "external_ref",
        "status",
        "created_at",
        "erased_at",
        "assisted_link",
    )
    inlines = (ContactPointInline, ConsentStateInline)
    actions = ("export_masked_csv",)

    @admin.display(description=_("call centre or branch"))
    def assisted_link(self, obj: Customer) -> str:
        """Record what the customer asks on a call or at a counter."""
        if obj is None or obj.pk is None:
            return "-"
        url = reverse("admin:backoffice_assistedrecord_add")
        return format_html(
            '<a href="{}?{}">{}</a>',
            url,
            urlencode({"customer_ref": obj.external_ref}),
            _("Record a withdrawal, not me or care pause"),
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ContactPoint)
class ContactPointAdmin(AuditedAdminMixin, ReadOnlyAdmin):
    list_display = ("customer", "kind", "masked", "status", "verified_at", "removed_at")
    list_filter = ("kind", "status")
    list_select_related = ("customer",)
    search_fields = ("customer__external_ref",)
    fields = (
        "customer",
        "kind",
        "masked_address",
        "restore_request",
        "status",
        "verified_at",
        "created_at",
        "removed_at",
    )
    readonly_fields = fields
    masked_fields = {"address": "kind"}
    actions = ("export_masked_csv",)

    @admin.display(description=_("address"))
    def masked(self, obj: ContactPoint) -> str:
        return obj.masked

    @admin.display(description=_("four-eyes"))
    def restore_request(self, obj: ContactPoint) -> str:
        if obj.status == ContactPoint.Status.ACTIVE:
            return "-"
        return approval_request_link(
            "contact_restore", _("Request clearing this flag"), contact_point=obj.pk
        )


@admin.register(ConsentEvent)
class ConsentEventAdmin(AuditedAdminMixin, ReadOnlyAdmin):
    list_display = (
        "seq",
        "occurred_at",
        "customer",
        "action",
        "channel",
        "topic",
        "source",
        "actor",
        "short_hash",
    )
    list_filter = ("action", "source", "channel", "topic")
    list_select_related = ("customer", "channel", "topic")
    search_fields = ("customer__external_ref", "actor")
    date_hierarchy = "occurred_at"
    fields = (
        "seq",
        "customer",
        "contact_point",
        "channel",
        "topic",
        "action",
        "source",
        "actor",
        "notice_version",
        "evidence",
        "occurred_at",
        "recorded_at",
        "prev_hash",
        "hash",
    )
    readonly_fields = fields

    @admin.display(description=_("hash"))
    def short_hash(self, obj: ConsentEvent) -> str:
        return f"{obj.hash[:12]}…"


@admin.register(ConsentState)
class ConsentStateAdmin(AuditedAdminMixin, ReadOnlyAdmin):
    list_display = ("customer", "channel", "topic", "status", "source", "updated_at")
    list_filter = ("status", "channel", "topic", "source")
    list_select_related = ("customer", "channel", "topic")
    search_fields = ("customer__external_ref",)


@admin.register(OptOut)
class OptOutAdmin(AuditedAdminMixin, ReadOnlyAdmin):
    list_display = ("customer", "since", "event")
    list_select_related = ("customer", "event")
    search_fields = ("customer__external_ref",)


@admin.register(Contactability)
class ContactabilityAdmin(ReadOnlyAdmin):
    list_display = (
        "key",
        "channel",
        "suppressed",
        "permitted",
        "reason_codes",
        "paused_until",
        "personalisation",
        "seq",
        "updated_at",
    )
    list_filter = ("channel", "suppressed", "personalisation")
    list_select_related = ("channel",)
    exclude = ("identifier",)

    @admin.display(description=_("key (blind index)"))
    def key(self, obj: Contactability) -> str:
        return f"{obj.blind_index[:12]}…"


@admin.register(SuppressionChange)
class SuppressionChangeAdmin(ReadOnlyAdmin):
    list_display = (
        "seq",
        "created_at",
        "channel",
        "key_index",
        "suppressed",
        "permitted",
        "reason_codes",
        "personalisation",
    )
    list_filter = ("channel", "suppressed")
    list_select_related = ("channel", "key")

    @admin.display(description=_("key (blind index)"))
    def key_index(self, obj: SuppressionChange) -> str:
        return f"{obj.key.blind_index[:12]}…"


@admin.register(SuppressedIdentifier)
class SuppressedIdentifierAdmin(ReadOnlyAdmin):
    list_display = (
        "kind",
        "short_index",
        "reason",
        "channel",
        "review_pending",
        "created_at",
    )
    list_filter = ("kind", "reason", "channel", "review_pending")

    @admin.display(description=_("blind index"))
    def short_index(self, obj: SuppressedIdentifier) -> str:
        return f"{obj.blind_index[:12]}…"
