"""Admin for what sending systems pushed: inbound events, send records and the
violations found in them. All read-only: they are evidence, and compliance officers
read them to see which sender sent what, why it was not allowed, and how long after
the person said no."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from consent.models import InboundEvent, SendRecord, Violation


class _EvidenceAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _short(blind_index: str) -> str:
    return f"{blind_index[:12]}…"


def format_delay(delay: timedelta | None) -> str:
    """ "3 d 4 h 5 min" style, the unit compliance reports use."""
    if delay is None:
        return "—"
    minutes = int(delay.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d"] if days else []
    if days or hours:
        parts.append(f"{hours} h")
    parts.append(f"{minutes} min")
    return " ".join(parts)


@admin.register(InboundEvent)
class InboundEventAdmin(_EvidenceAdmin):
    list_display = (
        "received_at",
        "client",
        "type",
        "channel",
        "effect",
        "needs_review",
        "event_id",
        "key",
    )
    list_filter = ("type", "effect", "needs_review", "client", "channel")
    list_select_related = ("client", "channel")
    search_fields = ("event_id",)
    date_hierarchy = "received_at"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "client",
                    "event_id",
                    "type",
                    "channel",
                    "topic",
                    "key",
                    "occurred_at",
                    "received_at",
                )
            },
        ),
        (_("Outcome"), {"fields": ("effect", "needs_review", "payload", "result")}),
    )
    readonly_fields = (
        "client",
        "event_id",
        "type",
        "channel",
        "topic",
        "key",
        "occurred_at",
        "received_at",
        "effect",
        "needs_review",
        "payload",
        "result",
    )

    @admin.display(description=_("key (blind index)"))
    def key(self, obj: InboundEvent) -> str:
        return _short(obj.blind_index)


@admin.register(SendRecord)
class SendRecordAdmin(_EvidenceAdmin):
    list_display = ("sent_at", "client", "channel", "topic", "key")
    list_filter = ("client", "channel", "topic")
    list_select_related = ("client", "channel", "topic")
    date_hierarchy = "sent_at"
    fields = ("client", "channel", "topic", "key", "sent_at")
    readonly_fields = fields

    @admin.display(description=_("key (blind index)"))
    def key(self, obj: SendRecord) -> str:
        return _short(obj.blind_index)


@admin.register(Violation)
class ViolationAdmin(_EvidenceAdmin):
    list_display = (
        "sent_at",
        "sender",
        "channel",
        "topic",
        "reason_list",
        "withdrawn_at",
        "delay_after_withdrawal",
        "key",
    )
    list_filter = ("client", "channel", "topic")
    list_select_related = ("client", "channel", "topic")
    date_hierarchy = "sent_at"
    fields = (
        "sender",
        "event",
        "channel",
        "topic",
        "key",
        "reason_list",
        "sent_at",
        "withdrawn_at",
        "delay_after_withdrawal",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description=_("sender"), ordering="client__name")
    def sender(self, obj: Violation) -> str:
        return obj.client.name

    @admin.display(description=_("reasons"))
    def reason_list(self, obj: Violation) -> str:
        return ", ".join(obj.reasons)

    @admin.display(description=_("sent after withdrawal by"), ordering="delay")
    def delay_after_withdrawal(self, obj: Violation) -> str:
        return format_delay(obj.delay)

    @admin.display(description=_("key (blind index)"))
    def key(self, obj: Violation) -> str:
        return _short(obj.blind_index)
