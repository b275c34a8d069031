"""Admin for sending systems: clients, their channels and their API keys.

Creating a client, widening its channels and rotating its key are four-eyes
approval requests: the approver sees the new key once, on the page that confirms
the decision (never in a message, which would travel in a cookie). The key list
shows hashes' prefixes only and cannot be edited.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from consent.api_clients import api_key_revoke
from consent.errors import ApplicationError
from consent.feed_positions import FeedStatus, sender_lag_of_position
from consent.models import ApiClient, ApiKey, SenderFeedPosition

MSG_ROTATE_ONE = _("Choose one client: each key rotation is its own request.")


def _request_url(kind: str, client: ApiClient) -> str:
    query = urlencode({"kind": kind, "api_client": client.pk})
    return f"{reverse('admin:backoffice_approvalrequest_add')}?{query}"


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ("prefix", "created_at", "expires_at", "revoked_at", "last_used_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class SenderFeedPositionInline(admin.StackedInline):
    """How far behind the feed the client is; staff set the bound for "stale"."""

    model = SenderFeedPosition
    verbose_name_plural = _("feed position")
    fields = ("feed_status", "cursor", "read_at", "stale_alerted_at", "max_lag_minutes")
    readonly_fields = ("feed_status", "cursor", "read_at", "stale_alerted_at")
    can_delete = False
    max_num = 1
    min_num = 1

    @admin.display(description=_("status"))
    def feed_status(self, obj: SenderFeedPosition | None) -> str:
        return feed_status_label(obj)


def feed_status_label(position: SenderFeedPosition | None) -> str:
    lag = sender_lag_of_position(position if position and position.pk else None)
    label = str(FeedStatus.LABELS[lag.status])
    if lag.lag is None:
        return label
    minutes = int(lag.lag.total_seconds() // 60)
    return _("%(status)s (last read %(minutes)d min ago, bound %(bound)d min)") % {
        "status": label,
        "minutes": minutes,
        "bound": int(lag.max_lag.total_seconds() // 60),
    }


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    """Clients are created, and their channels widened, only through a four-eyes
    approval request ("API client channels"); here staff rename, pause, set the
    rate limit and rotate keys."""

    list_display = (
        "name",
        "is_active",
        "rate_per_minute",
        "channel_codes",
        "feed_status",
        "created_at",
    )
    list_filter = ("is_active", "channels")
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "is_active")}),
        (
            _("Access"),
            {
                "fields": (
                    "channel_codes",
                    "may_push_profile_tags",
                    "rate_per_minute",
                    "request_link",
                    "rotation_link",
                )
            },
        ),
    )
    # The profile-tags scope is set when the client is registered
    # (``create_api_client --profile-tags``), never widened here.
    readonly_fields = ("channel_codes", "may_push_profile_tags", "request_link")
    # Shown on the change page only.
    change_readonly = ("rotation_link",)
    inlines = (SenderFeedPositionInline, ApiKeyInline)
    actions = ("rotate_key",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("feed_position")
            .prefetch_related("channels")
        )

    @admin.display(description=_("feed"))
    def feed_status(self, obj: ApiClient) -> str:
        try:
            position = obj.feed_position
        except SenderFeedPosition.DoesNotExist:
            position = None
        return feed_status_label(position)

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, *self.change_readonly)

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description=_("channels"))
    def channel_codes(self, obj: ApiClient) -> str:
        return ", ".join(c.code for c in obj.channels.all())

    @admin.display(description=_("change channels"))
    def request_link(self, obj: ApiClient) -> str:
        url = reverse("admin:backoffice_approvalrequest_add")
        return format_html(
            '<a href="{}?kind=api_client_channels&amp;api_client={}">{}</a>',
            url,
            obj.pk,
            _("Request a channel change (needs a second approver)"),
        )

    @admin.display(description=_("API key"))
    def rotation_link(self, obj: ApiClient) -> str:
        if obj.pk is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>',
            _request_url("api_key_rotate", obj),
            _("Request a new API key (needs a second approver)"),
        )

    def save_model(self, request, obj, form, change) -> None:
        obj.save(update_fields=["name", "is_active", "rate_per_minute"])

    @admin.action(
        description=_("Request a key rotation (old key valid 7 more days)"),
        permissions=["change"],
    )
    def rotate_key(self, request, queryset):
        """Opens the approval request for the one chosen client: a key is issued
        only when a second staff member approves, and only they see it."""
        clients = list(queryset[:2])
        if len(clients) != 1:
            self.message_user(request, MSG_ROTATE_ONE, messages.ERROR)
            return None
        return HttpResponseRedirect(_request_url("api_key_rotate", clients[0]))


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = (
        "client",
        "prefix",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    list_filter = ("client",)
    list_select_related = ("client",)
    readonly_fields = (
        "client",
        "prefix",
        "key_hash",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    actions = ("revoke",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_revoke_permission(self, request) -> bool:
        """Keys are never edited, but staff who may change keys may revoke them."""
        return request.user.has_perm("consent.change_apikey")

    @admin.action(description=_("Revoke the selected keys now"), permissions=["revoke"])
    def revoke(self, request, queryset) -> None:
        done = 0
        for key in queryset:
            try:
                api_key_revoke(key=key)
                done += 1
            except ApplicationError:
                continue
        self.message_user(
            request, _("%(count)d key(s) revoked.") % {"count": done}, messages.SUCCESS
        )
