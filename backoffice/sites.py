"""The back-office admin site: password and authenticator code, no data otherwise.

``BackofficeAdminSite`` is django-otp's ``OTPAdminSite`` with a one-field code entry
(a 6-digit authenticator code or a single-use backup code), lockout by django-axes on
both the password and the code, and an enrolment page for staff who have no
authenticator yet: they see the QR code and nothing else until they confirm it.
"""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import logout
from django.contrib.auth.signals import user_login_failed
from django.http import HttpResponseRedirect
from django.shortcuts import resolve_url
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django_otp import login as otp_login
from django_otp.admin import OTPAdminSite
from django_otp.forms import OTPAuthenticationFormMixin

from backoffice import otp

MSG_CODE_INVALID = _("That code is not valid. Enter the current 6-digit code.")


def _otp_failed(request, username: str) -> None:
    """Count a wrong code as a failed sign-in, so django-axes locks out guessing."""
    user_login_failed.send(
        sender=__name__, credentials={"username": username}, request=request
    )


def _is_verified(user) -> bool:
    """OTPMiddleware adds ``is_verified``; a user signed in during this very request
    is a fresh object that only carries ``otp_device``."""
    check = getattr(user, "is_verified", None)
    if check is not None:
        return check()
    return getattr(user, "otp_device", None) is not None


class StaffLoginForm(AdminAuthenticationForm, OTPAuthenticationFormMixin):
    """Password and code in one form; staff without a device pass on to enrolment."""

    otp_token = forms.CharField(
        label=_("Authenticator code"),
        required=False,
        help_text=_("The 6-digit code from your app, or one of your backup codes."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )
    otp_device = forms.CharField(required=False, widget=forms.HiddenInput)
    otp_challenge = forms.CharField(required=False, widget=forms.HiddenInput)

    otp_error_messages = {
        **OTPAuthenticationFormMixin.otp_error_messages,
        "token_required": _("Enter the code from your authenticator app."),
        "invalid_token": MSG_CODE_INVALID,
        "device_required": MSG_CODE_INVALID,
    }

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        if user is not None and otp.has_confirmed_device(user):
            try:
                self.clean_otp(user)
            except forms.ValidationError:
                _otp_failed(self.request, user.get_username())
                raise
        return cleaned

    def _chosen_device(self, user):
        return otp.device_for_token(user, self.cleaned_data.get("otp_token", ""))

    def full_clean(self):
        """A wrong password or code is a form-wide error; mark every sign-in field
        invalid and point it at the message, so screen readers announce both."""
        super().full_clean()
        if self.is_bound and self.non_field_errors():
            for name in ("username", "password", "otp_token"):
                attrs = self.fields[name].widget.attrs
                attrs["aria-invalid"] = "true"
                attrs["aria-describedby"] = " ".join(
                    part
                    for part in ("login-error", self[name].aria_describedby)
                    if part
                )


def _actions_need_a_permission(model_admin) -> None:
    """Deny by default: an admin action that does not name the permission it needs
    requires the change permission, so read-only roles are never offered it."""
    for action in model_admin.actions or ():
        func = getattr(type(model_admin), action) if isinstance(action, str) else action
        func = getattr(func, "__func__", func)
        if not getattr(func, "allowed_permissions", None):
            func.allowed_permissions = ("change",)


class EnrolForm(forms.Form):
    token = forms.CharField(
        label=_("6-digit code"),
        min_length=6,
        max_length=6,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}
        ),
    )


class BackofficeAdminSite(OTPAdminSite):
    site_header = _("Consent centre back office")
    site_title = _("Consent centre back office")
    index_title = _("Back office")
    login_form = StaffLoginForm
    login_template = "admin/backoffice/login.html"

    def __init__(self, name: str = "admin"):
        super().__init__(name)

    def register(self, model_or_iterable, admin_class=None, **options):
        super().register(model_or_iterable, admin_class, **options)
        models = (
            model_or_iterable
            if isinstance(model_or_iterable, list | tuple)
            else [model_or_iterable]
        )
        for model in models:
            _actions_need_a_permission(self._registry[model])

    def get_urls(self):
        return [
            path("enrol/", csrf_protect(never_cache(self.enrol_view)), name="enrol")
        ] + super().get_urls()

    @staticmethod
    def _needs_enrolment(request) -> bool:
        user = request.user
        return (
            user.is_authenticated
            and user.is_active
            and user.is_staff
            and not _is_verified(user)
            and not otp.has_confirmed_device(user)
        )

    def login(self, request, extra_context=None):
        if self._needs_enrolment(request):
            return HttpResponseRedirect(reverse(f"{self.name}:enrol"))
        response = super().login(request, extra_context)
        if request.method == "POST" and self._needs_enrolment(request):
            return HttpResponseRedirect(reverse(f"{self.name}:enrol"))
        return response

    def enrol_view(self, request):
        """Show the QR code for a new authenticator and confirm it with one code."""
        if self.has_permission(request):
            return HttpResponseRedirect(reverse(f"{self.name}:index"))
        if not self._needs_enrolment(request):
            return HttpResponseRedirect(resolve_url(f"{self.name}:login"))
        user = request.user
        device = otp.totp_device_pending(user=user)
        form = EnrolForm(request.POST or None)
        backup_codes = None
        if request.method == "POST" and form.is_valid():
            if device.verify_token(form.cleaned_data["token"]):
                backup_codes = otp.totp_device_confirm(device=device)
                otp_login(request, device)
            else:
                username = user.get_username()
                _otp_failed(request, username)
                if AxesProxyHandler.is_locked(request, {"username": username}):
                    logout(request)
                    return HttpResponseRedirect(resolve_url(f"{self.name}:login"))
                form.add_error("token", MSG_CODE_INVALID)
        context = {
            **self.each_context(request),
            "available_apps": [],
            "title": _("Set up your authenticator"),
            "form": form,
            "qr_data_uri": otp.qr_svg_data_uri(device.config_url),
            "secret": otp.totp_secret(device),
            "backup_codes": backup_codes,
        }
        return TemplateResponse(request, "admin/backoffice/enrol.html", context)
