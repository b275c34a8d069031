"""Forms for the portal, the report link and the admin workflow buttons."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backoffice.roles import COMPLAINT_HANDLER, COMPLAINT_REVIEWER, SUPERVISOR
from complaints.labels import label_with_code
from complaints.models import Category, Complaint, ComplaintReview, RootCause
from consent.identifiers import guess_kind, normalise
from consent.models import Channel, Topic


class _CatalogueMixin:
    def _catalogue(self) -> None:
        self.fields["channel"].queryset = Channel.objects.filter(is_active=True)
        self.fields["topic"].queryset = Topic.objects.filter(is_active=True)
        self.fields["channel"].label_from_instance = lambda c: c.label
        self.fields["topic"].label_from_instance = lambda t: t.label


class ComplaintForm(_CatalogueMixin, forms.Form):
    """What a signed-in customer files in the portal."""

    category = forms.ChoiceField(label=_("What went wrong?"), choices=Category.choices)
    channel = forms.ModelChoiceField(
        label=_("Channel"), queryset=Channel.objects.none(), required=False
    )
    topic = forms.ModelChoiceField(
        label=_("Product"), queryset=Topic.objects.none(), required=False
    )
    message_received_at = forms.DateTimeField(
        label=_("When did the message arrive?"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    message_excerpt = forms.CharField(
        label=_("What did the message say?"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    description = forms.CharField(
        label=_("Describe your complaint"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._catalogue()

    def clean_message_received_at(self):
        value = self.cleaned_data.get("message_received_at")
        if value and value > timezone.now():
            raise forms.ValidationError(_("This time is in the future."))
        return value


class ReportForm(forms.Form):
    """The short form behind a "report this message" link."""

    category = forms.ChoiceField(
        label=_("What is wrong with this message?"),
        choices=[
            (Category.UNWANTED_MARKETING, _("I never agreed to receive it")),
            (Category.WRONG_PERSON, _("It is not for me (wrong person)")),
            (Category.TOO_FREQUENT, _("Too many messages")),
            (Category.BAD_TIMING, _("Sent at a bad time")),
            (Category.MISLEADING, _("Misleading content")),
            (Category.DATA_LEAK_FRAUD, _("Looks like fraud or a data leak")),
            (Category.OTHER, _("Something else")),
        ],
        widget=forms.RadioSelect,
    )
    description = forms.CharField(
        label=_("Anything to add?"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class RatingForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("How satisfied are you with the outcome?"),
        choices=[(i, str(i)) for i in range(1, 6)],
        coerce=int,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class TextForm(forms.Form):
    text = forms.CharField(
        label=_("Text"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


def _staff_choices(queryset=None):
    users = (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .filter(
            Q(groups__name__in=(COMPLAINT_HANDLER, SUPERVISOR)) | Q(is_superuser=True)
        )
    )
    return users.distinct().order_by("username")


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(label=_("Handler"), queryset=_staff_choices())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = _staff_choices()


def _reviewer_choices():
    users = (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .filter(
            Q(groups__name__in=(COMPLAINT_REVIEWER, SUPERVISOR)) | Q(is_superuser=True)
        )
    )
    return users.distinct().order_by("username")


class ReviewerForm(forms.Form):
    reviewer = forms.ModelChoiceField(
        label=_("Reviewer"), queryset=get_user_model().objects.none()
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reviewer"].queryset = _reviewer_choices()


class CategoryForm(forms.Form):
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices)


class PauseForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("Reason"),
        choices=[("appraisal", _("External appraisal")), ("mediation", _("Mediation"))],
    )


class DecideForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Complaint.Outcome.choices)
    findings = forms.CharField(
        label=_("Findings"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )
    reasons = forms.CharField(
        label=_("Reasons"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )


class CloseForm(forms.Form):
    root_cause = forms.ChoiceField(label=_("Root cause"), choices=RootCause.choices)
    remediation_action = forms.CharField(
        label=_("Remediation action"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    remediation_owner = forms.CharField(
        label=_("Remediation owner"), required=False, max_length=150
    )
    remediation_due_on = forms.DateField(
        label=_("Remediation due"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class RemediationDoneForm(forms.Form):
    done_on = forms.DateField(
        label=_("Done on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(
        label=_("What was done"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReviewDecideForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=ComplaintReview.Outcome.choices
    )
    decision = forms.CharField(
        label=_("Review decision"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class StaffIntakeForm(forms.ModelForm):
    """A complaint received by phone, at a branch, by letter or from a regulator."""

    source = forms.ChoiceField(
        label=_("Source"),
        choices=[
            (Complaint.Source.PHONE, Complaint.Source.PHONE.label),
            (Complaint.Source.BRANCH, Complaint.Source.BRANCH.label),
            (Complaint.Source.LETTER, Complaint.Source.LETTER.label),
            (Complaint.Source.REGULATOR, Complaint.Source.REGULATOR.label),
        ],
    )
    category = forms.ChoiceField(
        label=_("Category"),
        choices=[("", _("Suggest from the text"))] + list(Category.choices),
        required=False,
    )
    contact_address = forms.CharField(
        label=_("Reply address"),
        required=False,
        max_length=200,
        help_text=_("Only for a complainant who is not a customer (e-mail or phone)."),
    )

    class Meta:
        model = Complaint
        fields = (
            "source",
            "identity_verification",
            "customer",
            "channel",
            "topic",
            "category",
            "message_received_at",
            "message_excerpt",
            "description",
            "received_at",
            "complainant_count",
            "named_staff",
            "named_units",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("channel", "topic"):
            self.fields[name].label_from_instance = label_with_code

    def clean_contact_address(self) -> str:
        value = self.cleaned_data.get("contact_address", "").strip()
        if value:
            kind = guess_kind(value)
            self.cleaned_data["contact_kind"] = kind
            return normalise(kind, value)
        return value
