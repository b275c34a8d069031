"""Admin for webhooks: set one up (its signing secret is shown once), pause, resume,
replay from an earlier cursor, and the delivery log (read-only)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from consent import webhooks
from consent.models import ApiClient, WebhookDelivery, WebhookEndpoint

MSG_SECRET = _(
    "Signing secret for %(client)s's webhook (copy it now, it is not shown again): "
    "%(secret)s"
)


class WebhookForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "identifier_format", "batch_size")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if urlsplit(url).scheme not in ("http", "https"):
            raise forms.ValidationError(webhooks.MSG_URL_SCHEME)
        return url


class WebhookCreateForm(WebhookForm):
    after = forms.IntegerField(
        label=_("start after seq"),
        required=False,
        min_value=0,
        help_text=_(
            "Deliver feed rows after this seq. Empty: from now on (for a client "
            "that has just taken a snapshot)."
        ),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("client", "url", "identifier_format", "batch_size")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = ApiClient.objects.filter(
            is_active=True, webhook__isnull=True
        )


class ReplayForm(forms.Form):
    after = forms.IntegerField(
        label=_("replay every row after seq"),
        min_value=0,
        help_text=_("At or below the delivered cursor; rows are delivered again."),
    )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = (
        "client",
        "url",
        "is_paused",
        "cursor",
        "failures",
        "next_attempt_at",
        "last_success_at",
        "last_error",
    )
    list_filter = ("is_paused",)
    list_select_related = ("client",)
    search_fields = ("client__name",)
    fields = (
        "client",
        "url",
        "identifier_format",
        "batch_size",
        "is_paused",
        "cursor",
        "failures",
        "next_attempt_at",
        "last_success_at",
        "last_error",
        "replay_link",
    )
    readonly_fields = (
        "client",
        "is_paused",
        "cursor",
        "failures",
        "next_attempt_at",
        "last_success_at",
        "last_error",
        "replay_link",
    )
    actions = ("pause", "resume")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = WebhookForm if obj else WebhookCreateForm
        kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("client", "url", "identifier_format", "batch_size", "after")
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        if change:
            obj.save(update_fields=["url", "identifier_format", "batch_size"])
            return
        data = form.cleaned_data
        endpoint, secret = webhooks.webhook_endpoint_create(
            client=data["client"],
            url=data["url"],
            identifier_format=data["identifier_format"],
            batch_size=data["batch_size"],
            after=data.get("after"),
        )
        obj.pk = endpoint.pk
        self.message_user(
            request,
            format_html(
                "{}", MSG_SECRET % {"client": endpoint.client.name, "secret": secret}
            ),
            messages.WARNING,
        )

    @admin.display(description=_("replay"))
    def replay_link(self, obj: WebhookEndpoint) -> str:
        url = reverse("admin:consent_webhookendpoint_replay", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Replay from a cursor"))

    @admin.action(description=_("Pause delivery"), permissions=["change"])
    def pause(self, request, queryset) -> None:
        for endpoint in queryset:
            webhooks.webhook_endpoint_pause(endpoint=endpoint)
        self.message_user(request, _("Delivery paused."), messages.SUCCESS)

    @admin.action(description=_("Resume delivery"), permissions=["change"])
    def resume(self, request, queryset) -> None:
        for endpoint in queryset:
            webhooks.webhook_endpoint_resume(endpoint=endpoint)
        self.message_user(request, _("Delivery resumed."), messages.SUCCESS)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/replay/",
                self.admin_site.admin_view(self.replay_view),
                name="consent_webhookendpoint_replay",
            ),
            *super().get_urls(),
        ]

    def replay_view(self, request, object_id):
        endpoint = self.get_object(request, unquote(object_id))
        if endpoint is None:
            raise Http404
        if not self.has_change_permission(request, endpoint):
            raise PermissionDenied
        form = ReplayForm(request.POST or None, initial={"after": endpoint.cursor})
        if request.method == "POST" and form.is_valid():
            try:
                webhooks.webhook_endpoint_replay(
                    endpoint=endpoint, after=form.cleaned_data["after"]
                )
            except ValidationError as exc:
                for message in exc.message_dict.get("after", exc.messages):
                    form.add_error("after", message)
            else:
                self.message_user(
                    request,
                    _("Rows after %(seq)d will be delivered again.")
                    % {"seq": form.cleaned_data["after"]},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:consent_webhookendpoint_change", args=[endpoint.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Replay webhook deliveries"),
            "opts": self.model._meta,
            "original": endpoint,
            "form": form,
        }
        return TemplateResponse(request, "admin/consent/webhook_replay.html", context)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Every attempt to deliver a batch; read-only for everyone."""

    list_display = (
        "created_at",
        "endpoint",
        "message_id",
        "first_seq",
        "last_seq",
        "rows",
        "attempt",
        "status_code",
        "delivered",
        "duration_ms",
        "error",
    )
    list_filter = ("delivered", "endpoint")
    list_select_related = ("endpoint__client",)
    search_fields = ("=message_id",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
