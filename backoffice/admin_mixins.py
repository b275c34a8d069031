"""Admin building blocks for any model holding customer data: access audit and
masking of contact addresses.

Usage, in any app's admin::

    @admin.register(ContactPoint)
    class ContactPointAdmin(AuditedAdminMixin, admin.ModelAdmin):
        masked_fields = {"address": "kind"}   # clear attribute -> kind attribute
        readonly_fields = ("masked_address",)
        actions = ("export_masked_csv",)

Opening a change view, searching a list, saving changes, exporting and unmasking
each write an ``AccessLog`` row. Contact addresses are masked everywhere (lists,
detail, exports); the clear value is shown only through the "show" page, which asks
for a reason, needs ``backoffice.unmask_contact`` and is itself logged.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import label_for_field, lookup_field, unquote
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from backoffice.audit import access_log_record
from backoffice.models import AccessLog
from backoffice.spreadsheets import writer_for_people
from consent.identifiers import AddressKind, guess_kind, mask

UNMASK_PERMISSION = "backoffice.unmask_contact"
EXPORT_PERMISSION = "backoffice.export_data"
_ADDRESS_KINDS = {kind for kind, _label in AddressKind.CHOICES}


def mask_value(value: str, kind: str | None = None) -> str:
    """Mask a contact address for display: enough to recognise it, not to use it."""
    if not value:
        return ""
    if kind not in _ADDRESS_KINDS:
        kind = guess_kind(value)
    return mask(kind, value)


def customer_ref_of(obj) -> str:
    """The customer reference an object is about, for the access log."""
    if obj is None:
        return ""
    from consent.models import Customer

    if isinstance(obj, Customer):
        return obj.external_ref
    customer = getattr(obj, "customer", None)
    if customer is not None and hasattr(customer, "external_ref"):
        return customer.external_ref
    return str(getattr(obj, "customer_ref", "") or "")


def approval_request_link(kind: str, label, **params) -> str:
    """A link to a new four-eyes request of this kind, its fields filled in."""
    query = urlencode({"kind": kind, **params})
    url = f"{reverse('admin:backoffice_approvalrequest_add')}?{query}"
    return format_html('<a href="{}">{}</a>', url, label)


class UnmaskForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        min_length=5,
        max_length=300,
        help_text=_("Why you need the full address (kept in the access log)."),
    )


class AuditedAdminMixin:
    """Log staff access to customer data and mask contact addresses."""

    #: Clear-value attribute -> attribute holding its address kind (or None).
    masked_fields: dict[str, str | None] = {}
    #: Columns of the CSV export; defaults to ``list_display``.
    export_fields: tuple[str, ...] | None = None

    # --- helpers ----------------------------------------------------------------------

    def audit_object_type(self) -> str:
        return f"{self.opts.app_label}.{self.opts.model_name}"

    def audit_customer_ref(self, obj) -> str:
        return customer_ref_of(obj)

    def audit(self, request, action: str, obj=None, **kwargs) -> AccessLog:
        return access_log_record(
            user=request.user,
            action=action,
            request=request,
            object_type=self.audit_object_type(),
            object_id=getattr(obj, "pk", "") or "",
            customer_ref=self.audit_customer_ref(obj),
            **kwargs,
        )

    def mask_field(self, obj, field: str) -> str:
        kind_attr = self.masked_fields.get(field)
        kind = getattr(obj, kind_attr, None) if kind_attr else None
        return mask_value(getattr(obj, field, "") or "", kind)

    @admin.display(description=_("contact address"))
    def masked_address(self, obj) -> str:
        """The first masked field, with a "show" link to the audited unmask page."""
        if obj is None or obj.pk is None or not self.masked_fields:
            return ""
        field = next(iter(self.masked_fields))
        value = self.mask_field(obj, field)
        if not value:
            return "-"
        url = reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_unmask",
            args=(obj.pk, field),
        )
        return format_html('{} <a href="{}">{}</a>', value, url, _("show"))

    # --- tracked views ----------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            context = getattr(response, "context_data", None) or {}
            obj = context.get("original") or self.get_object(
                request, unquote(object_id)
            )
            if obj is not None:
                self.audit(request, AccessLog.Action.VIEW, obj)
        return response

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        terms = request.GET.get(SEARCH_VAR, "").strip()
        changelist = getattr(response, "context_data", {}) or {}
        changelist = changelist.get("cl")
        if terms and changelist is not None:
            # A search that lands on one record names its customer, so "who looked
            # this customer up" has an answer too.
            found = list(changelist.result_list[:2])
            self.audit(
                request,
                AccessLog.Action.SEARCH,
                found[0] if len(found) == 1 else None,
                search_terms=terms,
                result_count=changelist.result_count,
            )
        return response

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        fields = list(getattr(form, "changed_data", ()) or ())
        if fields or not change:
            self.audit(request, AccessLog.Action.CHANGE, obj, fields=fields)

    # --- export -----------------------------------------------------------------------

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm(EXPORT_PERMISSION) and self.has_view_permission(
            request
        )

    def _export_columns(self, request) -> list[str]:
        names = self.export_fields or self.get_list_display(request)
        return [n for n in names if n not in ("action_checkbox", "masked_address")]

    def _export_value(self, obj, name: str) -> str:
        if name in self.masked_fields:
            return self.mask_field(obj, name)
        _field, _attr, value = lookup_field(name, obj, self)
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return "" if value is None else str(value)

    @admin.action(description=_("Export selected (CSV, addresses masked)"))
    def export_masked_csv(self, request, queryset):
        if not self.has_export_permission(request):
            raise PermissionDenied
        columns = self._export_columns(request)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = (
            f'attachment; filename="{self.opts.model_name}-{stamp}.csv"'
        )
        writer = writer_for_people(response)
        writer.writerow([str(label_for_field(c, self.model, self)) for c in columns])
        count = 0
        for obj in queryset:
            writer.writerow([self._export_value(obj, c) for c in columns])
            count += 1
        self.audit(request, AccessLog.Action.EXPORT, fields=columns, result_count=count)
        return response

    export_masked_csv.allowed_permissions = ("export",)

    # --- unmask -----------------------------------------------------------------------

    def get_urls(self):
        info = (self.opts.app_label, self.opts.model_name)
        return [
            path(
                "<path:object_id>/unmask/<str:field>/",
                self.admin_site.admin_view(self.unmask_view),
                name="{}_{}_unmask".format(*info),
            )
        ] + super().get_urls()

    def unmask_view(self, request, object_id, field):
        """Show one clear address after the staff member gives a reason."""
        if field not in self.masked_fields:
            raise Http404
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not (
            self.has_view_permission(request, obj)
            and request.user.has_perm(UNMASK_PERMISSION)
        ):
            raise PermissionDenied
        form = UnmaskForm(request.POST or None)
        clear = None
        if request.method == "POST" and form.is_valid():
            self.audit(
                request,
                AccessLog.Action.UNMASK,
                obj,
                fields=[field],
                reason=form.cleaned_data["reason"],
            )
            clear = getattr(obj, field, "")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "title": _("Show contact address"),
            "form": form,
            "masked": self.mask_field(obj, field),
            "clear": clear,
            "field": field,
        }
        return TemplateResponse(request, "admin/backoffice/unmask.html", context)


class ServiceCreatedAdminMixin:
    """An admin whose add form calls a service that saves the object while the form
    validates (with the request, for evidence and the access log). The add page
    shows ``add_fieldsets``; a saved object is shown read-only and never edited.

    ``add_form`` takes ``request=``; after validation it holds what the service
    saved in the attribute named by ``created_attribute``."""

    add_form: type
    created_attribute: str
    add_fieldsets: tuple = ()

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.add_fieldsets
        return ((None, {"fields": self.readonly_fields}),)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, change=change, **kwargs)

        class RequestBoundForm(self.add_form):
            def __init__(self, *args, **kw):
                super().__init__(*args, request=request, **kw)

        return RequestBoundForm

    def save_model(self, request, obj, form, change) -> None:
        # The service saved it while validating the form: show that object.
        created = getattr(form, self.created_attribute)
        obj.pk = created.pk
        obj._state.adding = False
        obj.__dict__.update(
            {k: v for k, v in created.__dict__.items() if not k.startswith("_")}
        )

    def save_related(self, request, form, formsets, change) -> None:
        return None
