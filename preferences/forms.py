"""Portal forms: validation and clear messages only; writes happen in services."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent.identifiers import AddressKind
from consent.models import Channel, Customer
from preferences.models import CarePause, NextOfKinReport
from preferences.portal_actions import MSG_IDENTITY_EMPTY, code_normalise
from preferences.services import MSG_NOK_IDENTIFY, MSG_PAUSE_END, CodeTarget

TIME_ZONES = [
    ("Asia/Shanghai", _("China Standard Time (Beijing, Shanghai)")),
    ("Asia/Hong_Kong", _("Hong Kong")),
    ("Asia/Taipei", _("Taipei")),
    ("Asia/Singapore", _("Singapore")),
    ("Asia/Tokyo", _("Tokyo")),
    ("Europe/London", _("London")),
    ("Europe/Paris", _("Central European Time")),
    ("America/New_York", _("New York")),
    ("America/Los_Angeles", _("Los Angeles")),
    ("Australia/Sydney", _("Sydney")),
    ("UTC", _("UTC")),
]


class IdentifierField(forms.CharField):
    """A phone number or e-mail address, normalised into a ``CodeTarget``."""

    def __init__(self, *, kind: str | None = None, **kwargs):
        self.kind = kind
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.update({"autocomplete": "username", "spellcheck": "false"})
        return attrs

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        return CodeTarget.parse(value, self.kind)


class SignInForm(forms.Form):
    identifier = IdentifierField(
        label=_("Mobile number or e-mail address"),
        help_text=_("The number or address the bank has on file for you."),
    )


class CodeField(forms.CharField):
    """Six digits, typed on any keyboard: full-width digits and spaces are fine."""

    default_error_messages = {"invalid": _("Enter the 6 digits of the code.")}

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("6-digit code"))
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={
                    "inputmode": "numeric",
                    "autocomplete": "one-time-code",
                    "class": "code-input",
                }
            ),
        )
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        code = code_normalise(value)
        if not re.fullmatch(r"[0-9]{6}", code):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return code


class CodeForm(forms.Form):
    code = CodeField()


class IdentityForm(forms.Form):
    """A fact only the right holder of a shared number knows."""

    use_required_attribute = False

    id_number_tail = forms.CharField(
        label=_("Last four characters of your ID document number"),
        max_length=8,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    birth_date = forms.DateField(
        label=_("Or your date of birth"),
        required=False,
        widget=forms.DateInput(
            attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"
        ),
    )

    def clean(self):
        data = super().clean()
        if (
            not self.errors
            and not data.get("id_number_tail")
            and not data.get("birth_date")
        ):
            raise ValidationError(MSG_IDENTITY_EMPTY, code="identity_empty")
        return data


class ContactSettingsForm(forms.Form):
    quiet_start = forms.TimeField(
        label=_("Quiet hours start"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    quiet_end = forms.TimeField(
        label=_("Quiet hours end"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=TIME_ZONES)
    preferred_channel = forms.ModelChoiceField(
        label=_("Preferred channel"),
        queryset=Channel.objects.filter(is_active=True),
        required=False,
        empty_label=_("No preference"),
    )
    preferred_language = forms.ChoiceField(
        label=_("Language"), choices=Customer.Language.choices
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["preferred_channel"].label_from_instance = lambda c: c.label

    def clean_time_zone(self) -> str:
        value = self.cleaned_data["time_zone"]
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(_("Choose a time zone from the list.")) from exc
        return value

    def clean(self):
        data = super().clean()
        if data.get("quiet_start") and data.get("quiet_start") == data.get("quiet_end"):
            self.add_error("quiet_end", _("The end must differ from the start."))
        return data


class FrequencyCapForm(forms.Form):
    """One optional number per active channel."""

    def __init__(self, *args, channels: list[Channel], **kwargs):
        super().__init__(*args, **kwargs)
        self.channels = channels
        for channel in channels:
            self.fields[f"cap_{channel.code}"] = forms.IntegerField(
                label=channel.label,
                required=False,
                min_value=1,
                max_value=100,
                help_text=_("Messages per 7 days. Leave empty for no limit."),
                widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
            )

    def caps(self) -> dict[Channel, int | None]:
        return {c: self.cleaned_data.get(f"cap_{c.code}") for c in self.channels}


class CarePauseForm(forms.Form):
    until = forms.DateField(
        label=_("Pause until"),
        help_text=_("Messages start again on this date. At most one year ahead."),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    reason = forms.ChoiceField(
        label=_("Reason"),
        choices=CarePause.Reason.asked_choices,
        widget=forms.RadioSelect,
        help_text=_("Only the category is kept. Please do not send us health details."),
    )
    scope = forms.ChoiceField(
        label=_("What to pause"),
        choices=CarePause.Scope.choices,
        initial=CarePause.Scope.MARKETING,
        widget=forms.RadioSelect,
    )

    def clean_until(self):
        until = self.cleaned_data["until"]
        today = timezone.localdate()
        if until <= today or until > today + timedelta(days=365):
            raise ValidationError(MSG_PAUSE_END)
        return until

    def ends_at(self) -> datetime:
        until = self.cleaned_data["until"]
        return timezone.make_aware(datetime.combine(until, datetime.min.time()))


class PersonalisationForm(forms.Form):
    refuse = forms.BooleanField(
        label=_("Do not choose marketing for me based on my profile"),
        required=False,
        help_text=_(
            "You still receive the marketing you agreed to, but not selected from "
            "your personal characteristics (PIPL art. 24)."
        ),
    )


class ContactPointAddForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Type"),
        choices=[
            (AddressKind.PHONE, _("Mobile number")),
            (AddressKind.EMAIL, _("E-mail address")),
        ],
        widget=forms.RadioSelect,
        initial=AddressKind.PHONE,
    )
    address = forms.CharField(label=_("Number or address"), max_length=254)

    def clean(self):
        data = super().clean()
        if data.get("kind") and data.get("address"):
            try:
                data["target"] = CodeTarget.parse(data["address"], data["kind"])
            except ValidationError as exc:
                self.add_error("address", exc)
        return data


class NotMeForm(forms.Form):
    identifier = IdentifierField(
        label=_("The mobile number or e-mail address that received the message"),
        help_text=_("We will send a code to it, to check that it is yours."),
    )


class NextOfKinForm(forms.Form):
    deceased_name = forms.CharField(
        label=_("Full name of the person who died"), max_length=100
    )
    customer_ref = forms.CharField(
        label=_("Customer reference (if known)"), max_length=64, required=False
    )
    identifier = IdentifierField(
        label=_("Their mobile number or e-mail address (if no reference)"),
        required=False,
    )
    document_reference = forms.CharField(
        label=_("Death certificate or document reference"),
        max_length=100,
        help_text=_("Staff will check it."),
    )
    reporter_name = forms.CharField(label=_("Your name"), max_length=100)
    relationship = forms.ChoiceField(
        label=_("Your relationship to them"),
        choices=NextOfKinReport.Relationship.choices,
    )
    reporter_contact = forms.CharField(
        label=_("How we can reach you (phone or e-mail)"), max_length=254
    )

    def clean(self):
        data = super().clean()
        if not data.get("customer_ref") and not data.get("identifier"):
            if "identifier" not in self.errors:
                raise ValidationError(MSG_NOK_IDENTIFY)
        return data


class NextOfKinCarePauseForm(forms.Form):
    """A relative asks for a care pause for the customer (marketing only; staff
    check the request, and a pause of collections messages is asked by phone)."""

    customer_name = forms.CharField(
        label=_("Full name of the customer"), max_length=100
    )
    customer_ref = forms.CharField(
        label=_("Customer reference (if known)"), max_length=64, required=False
    )
    identifier = IdentifierField(
        label=_("Their mobile number or e-mail address (if no reference)"),
        required=False,
    )
    until = forms.DateField(
        label=_("Pause until"),
        help_text=_("Messages start again on this date. At most one year ahead."),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    reason = forms.ChoiceField(
        label=_("Reason"),
        choices=CarePause.Reason.asked_choices,
        widget=forms.RadioSelect,
        help_text=_("Only the category is kept. Please do not send us health details."),
    )
    reporter_name = forms.CharField(label=_("Your name"), max_length=100)
    relationship = forms.ChoiceField(
        label=_("Your relationship to them"),
        choices=NextOfKinReport.Relationship.choices,
    )
    reporter_contact = forms.CharField(
        label=_("How we can reach you (phone or e-mail)"), max_length=254
    )

    def clean_until(self):
        until = self.cleaned_data["until"]
        today = timezone.localdate()
        if until <= today or until > today + timedelta(days=365):
            raise ValidationError(MSG_PAUSE_END)
        return until

    def clean(self):
        data = super().clean()
        if not data.get("customer_ref") and not data.get("identifier"):
            if "identifier" not in self.errors:
                raise ValidationError(MSG_NOK_IDENTIFY)
        return data

    def ends_at(self) -> datetime:
        until = self.cleaned_data["until"]
        return timezone.make_aware(datetime.combine(until, datetime.min.time()))
