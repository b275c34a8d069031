"""Admin for call-centre and branch records: one form records a customer's
withdrawal, "not me" or care pause at once (``backoffice.assisted``); the records
are read-only afterwards, and every view and search of them is access-logged."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backoffice import assisted
from backoffice.admin_mixins import AuditedAdminMixin, ServiceCreatedAdminMixin
from backoffice.models import AssistedRecord
from consent import hooks
from consent.errors import ApplicationError
from consent.models import Channel, Customer, Topic

MSG_REQUIRED = _("Required for this kind of record.")
MSG_NO_CUSTOMER = _("Unknown customer reference.")
MSG_PAUSE_END = _("The end date must be after today and within one year.")


def _label_with_code(obj) -> str:
    return f"{obj.label} ({obj.code})"


class AssistedRecordForm(forms.ModelForm):
    """One form for the three kinds; the fields the chosen kind needs are required.
    Validating the form records the change (the service runs in ``clean``), as the
    four-eyes request form does."""

    customer_ref = forms.CharField(label=_("customer reference"), max_length=64)
    scope = forms.ChoiceField(
        label=_("withdraw"), choices=assisted.SCOPE_CHOICES, required=False
    )
    channel = forms.ModelChoiceField(
        Channel.objects.filter(is_active=True),
        label=_("channel"),
        required=False,
        to_field_name="code",
    )
    topic = forms.ModelChoiceField(
        Topic.objects.filter(kind=Topic.Kind.MARKETING),
        label=_("product"),
        required=False,
        to_field_name="code",
    )
    address = forms.CharField(
        label=_("phone number or e-mail address that is not theirs"),
        required=False,
        max_length=254,
    )
    pause_until = forms.DateField(
        label=_("pause until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    pause_scope = forms.ChoiceField(label=_("pause"), required=False)
    pause_reason = forms.ChoiceField(label=_("reason"), required=False)

    class Meta:
        model = AssistedRecord
        fields = ("kind", "via", "reference", "on_behalf_of", "relationship")
        widgets = {"kind": forms.RadioSelect}

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.record = None
        vias = assisted.assisted_vias_for(request.user) if request else []
        self.fields["via"].choices = [
            (value, label)
            for value, label in AssistedRecord.Via.choices
            if value in vias
        ]
        if len(vias) == 1:
            self.fields["via"].initial = vias[0]
        pauses = hooks.care_pauses()
        self.fields["pause_scope"].choices = pauses.scopes()
        self.fields["pause_reason"].choices = pauses.reasons()
        self.fields["reference"].help_text = _(
            "The call recording or branch visit reference: kept as evidence."
        )
        for name in ("channel", "topic"):
            self.fields[name].label_from_instance = _label_with_code

    def _need(self, cleaned, *names):
        missing = {n: MSG_REQUIRED for n in names if not cleaned.get(n)}
        if missing:
            raise ValidationError(missing)

    def _ends_at(self, until) -> datetime:
        today = timezone.localdate()
        if until <= today or until > today + timedelta(days=365):
            raise ValidationError({"pause_until": MSG_PAUSE_END})
        return timezone.make_aware(datetime.combine(until, datetime.min.time()))

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.record = self._create(cleaned)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.error_dict.items():
                    target = field if field in self.fields else None
                    for error in errors:
                        self.add_error(target, error)
            else:
                self.add_error(None, exc)
        except (ApplicationError, PermissionDenied) as exc:
            self.add_error(None, str(getattr(exc, "message", exc)))
        return cleaned

    def _create(self, cleaned) -> AssistedRecord:
        customer = Customer.objects.filter(
            external_ref=cleaned["customer_ref"].strip()
        ).first()
        if customer is None:
            raise ValidationError({"customer_ref": MSG_NO_CUSTOMER})
        common = {
            "user": self.request.user,
            "via": cleaned["via"],
            "reference": cleaned["reference"],
            "customer": customer,
            "request": self.request,
        }
        kind = cleaned["kind"]
        if kind == AssistedRecord.Kind.WITHDRAWAL:
            self._need(cleaned, "scope")
            return assisted.assisted_withdrawal_record(
                scope=cleaned["scope"],
                channel=cleaned.get("channel"),
                topic=cleaned.get("topic"),
                **common,
            )
        if kind == AssistedRecord.Kind.NOT_ME:
            self._need(cleaned, "address")
            return assisted.assisted_not_me_record(address=cleaned["address"], **common)
        self._need(cleaned, "pause_until", "pause_scope", "pause_reason")
        return assisted.assisted_care_pause_record(
            ends_at=self._ends_at(cleaned["pause_until"]),
            scope=cleaned["pause_scope"],
            reason=cleaned["pause_reason"],
            on_behalf_of=cleaned["on_behalf_of"],
            relationship=cleaned.get("relationship") or "",
            **common,
        )


@admin.register(AssistedRecord)
class AssistedRecordAdmin(
    ServiceCreatedAdminMixin, AuditedAdminMixin, admin.ModelAdmin
):
    list_display = (
        "recorded_at",
        "customer",
        "kind",
        "via",
        "reference",
        "on_behalf_of",
        "summary",
        "recorded_by",
    )
    list_filter = ("kind", "via", "on_behalf_of")
    list_select_related = ("customer", "recorded_by")
    search_fields = ("customer__external_ref", "=reference")
    readonly_fields = (
        "recorded_at",
        "customer",
        "kind",
        "via",
        "reference",
        "on_behalf_of",
        "relationship",
        "summary",
        "ledger_events",
        "recorded_by",
    )
    # Evidence: recorded once, never edited.
    add_form = AssistedRecordForm
    created_attribute = "record"
    add_fieldsets = (
        (None, {"fields": ("kind", "via", "reference", "customer_ref")}),
        (
            _("Withdrawal of marketing consent"),
            {"fields": ("scope", "channel", "topic")},
        ),
        (_("Not me (wrong recipient)"), {"fields": ("address",)}),
        (
            _("Care pause"),
            {
                "fields": (
                    "pause_until",
                    "pause_scope",
                    "pause_reason",
                    "on_behalf_of",
                    "relationship",
                )
            },
        ),
    )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("kind", AssistedRecord.Kind.WITHDRAWAL)
        return initial
