"""The work queue of replies read from plain language: take one, then confirm the
reading or undo it, within one business day. Actions call ``consent.reviews``; every
view, search and action is access-logged."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from backoffice.admin_mixins import AuditedAdminMixin
from backoffice.models import AccessLog
from consent import reviews
from consent.errors import ApplicationError
from consent.models import ConsentRequest, InboundEvent, ReplyReview


class OwnerFilter(admin.SimpleListFilter):
    title = _("owner")
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        return (("me", _("Mine")), ("none", _("Nobody yet")))

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(review_owner=request.user)
        if self.value() == "none":
            return queryset.filter(review_owner__isnull=True)
        return queryset


class DueFilter(admin.SimpleListFilter):
    title = _("due")
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return (("overdue", _("Overdue")),)

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            return queryset.overdue(timezone.now())
        return queryset


@admin.register(ReplyReview)
class ReplyReviewAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = (
        "review_due_at",
        "due_state",
        "review_status",
        "review_owner",
        "effect",
        "reply",
        "type",
        "client",
        "received_at",
    )
    list_filter = ("review_status", OwnerFilter, DueFilter, "effect", "type")
    list_select_related = ("client", "review_owner")
    search_fields = ("event_id",)
    ordering = ("review_due_at",)
    fields = (
        "review_status",
        "review_owner",
        "review_due_at",
        "reviewed_at",
        "reviewed_by",
        "effect",
        "reply",
        "type",
        "client",
        "event_id",
        "channel",
        "received_at",
        "result",
    )
    readonly_fields = tuple(f for f in fields if f != "review_owner")
    actions = ("assign_to_me", "confirm", "undo")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "review_owner":
            from django.contrib.auth import get_user_model

            kwargs["queryset"] = get_user_model().objects.filter(
                is_active=True, is_staff=True
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("reply"))
    def reply(self, obj: InboundEvent) -> str:
        return (obj.payload or {}).get("text", "")[:120]

    @admin.display(description=_("due status"))
    def due_state(self, obj: InboundEvent) -> str:
        # In words, not colour alone.
        if obj.review_status != InboundEvent.ReviewStatus.PENDING:
            return _("Closed")
        if obj.review_due_at and obj.review_due_at < timezone.now():
            return format_html("<strong>{}</strong>", _("Overdue"))
        return _("Due")

    def save_model(self, request, obj, form, change):
        """Only the owner is editable, and it changes through the service."""
        if "review_owner" in form.changed_data:
            try:
                reviews.reply_review_assign(review=obj, owner=obj.review_owner)
            except ApplicationError as exc:
                self.message_user(request, str(exc.message), messages.ERROR)
                return
            self.audit(request, AccessLog.Action.CHANGE, obj, fields=["review_owner"])

    def _run(self, request, queryset, service, field: str, done) -> None:
        count = 0
        for review in queryset:
            try:
                service(review)
            except ApplicationError as exc:
                self.message_user(
                    request, f"{review.event_id}: {exc.message}", messages.ERROR
                )
                continue
            self.audit(request, AccessLog.Action.CHANGE, review, fields=[field])
            count += 1
        if count:
            self.message_user(request, done % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Assign to me"), permissions=("change",))
    def assign_to_me(self, request, queryset) -> None:
        self._run(
            request,
            queryset,
            lambda r: reviews.reply_review_assign(review=r, owner=request.user),
            "review_owner",
            _("%(count)d reply review(s) assigned to you."),
        )

    @admin.action(
        description=_("Confirm: the reply was read right"), permissions=("change",)
    )
    def confirm(self, request, queryset) -> None:
        self._run(
            request,
            queryset,
            lambda r: reviews.reply_review_confirm(review=r, user=request.user),
            "review_status",
            _("%(count)d reply review(s) confirmed."),
        )

    @admin.action(
        description=_("Undo: restore what the reply stopped"), permissions=("change",)
    )
    def undo(self, request, queryset) -> None:
        self._run(
            request,
            queryset,
            lambda r: reviews.reply_review_undo(review=r, user=request.user),
            "review_status",
            _("%(count)d reply review(s) undone; what they stopped is restored."),
        )


@admin.register(ConsentRequest)
class ConsentRequestAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Who asked which customer for which consent, and the answer (read-only)."""

    list_display = ("created_at", "customer", "channel", "topic", "client", "status")
    list_filter = ("status", "channel", "topic", "client")
    list_select_related = ("customer", "channel", "topic", "client")
    search_fields = ("customer__external_ref",)
    fields = (
        "customer",
        "channel",
        "topic",
        "client",
        "status",
        "created_at",
        "answered_at",
        "answer_event",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
