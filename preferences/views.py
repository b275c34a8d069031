"""Portal views: thin wrappers that validate a form, call a service or selector and
render. Every page works without JavaScript."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from consent import crypto
from consent import services as consent_services
from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence
from consent.links import InvalidLink, undo_target, undo_token, unsubscribe_target
from consent.models import Channel, ConsentEvent, ContactPoint, NoticeVersion, OptOut
from preferences import forms, selectors, services
from preferences.auth import (
    client_ip,
    customer_login_required,
    portal_login,
    portal_logout,
)
from preferences.services import CodeTarget

PENDING_SIGN_IN = "portal_sign_in"
PENDING_CHOICE = "portal_sign_in_choice"
PENDING_NOT_ME = "portal_not_me"


def _ip(request) -> str:
    return client_ip(request)


def _data(request):
    """Bound data on POST even when empty (an unticked box posts nothing)."""
    return request.POST if request.method == "POST" else None


def _evidence(request, **extra: str) -> Evidence:
    return Evidence.from_request(request, **extra)


def _form_error(form, exc: ValidationError | ApplicationError, field=None) -> None:
    if isinstance(exc, ApplicationError):
        form.add_error(field, str(exc.message))
    else:
        form.add_error(field, exc)


def _use_language(response, language: str):
    """The next page shows in the customer's language (LocaleMiddleware reads it)."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response


# --- public pages ---


@require_GET
def home(request):
    return render(request, "portal/home.html")


@require_http_methods(["GET", "POST"])
def sign_in(request):
    form = forms.SignInForm(_data(request))
    if request.method == "POST" and form.is_valid():
        target: CodeTarget = form.cleaned_data["identifier"]
        try:
            services.sign_in_start(target=target, ip=_ip(request))
        except ApplicationError as exc:
            _form_error(form, exc)
        else:
            request.session[PENDING_SIGN_IN] = {
                "bi": target.blind_index,
                "masked": target.masked,
            }
            return redirect("portal:sign_in_code")
    return render(request, "portal/sign_in.html", {"form": form})


@require_http_methods(["GET", "POST"])
def sign_in_code(request):
    pending = request.session.get(PENDING_SIGN_IN)
    if not pending:
        return redirect("portal:sign_in")
    form = forms.CodeForm(_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            customers = services.sign_in_finish(
                blind_index=pending["bi"],
                code=form.cleaned_data["code"],
                ip=_ip(request),
            )
        except ApplicationError as exc:
            _form_error(form, exc, "code")
        else:
            request.session.pop(PENDING_SIGN_IN, None)
            if not customers:
                form.add_error("code", _("This code is not correct."))
            elif len(customers) == 1:
                return _finish_sign_in(request, customers[0])
            else:
                request.session[PENDING_CHOICE] = [c.pk for c in customers]
                return redirect("portal:sign_in_choose")
    return render(
        request, "portal/sign_in_code.html", {"form": form, "masked": pending["masked"]}
    )


def _finish_sign_in(request, customer):
    portal_login(request, customer)
    with translation.override(customer.preferred_language):
        messages.success(request, _("You are signed in."))
    return _use_language(redirect("portal:dashboard"), customer.preferred_language)


@require_http_methods(["GET", "POST"])
def sign_in_choose(request):
    """A shared phone (joint account, family) may act for each of its holders."""
    ids = request.session.get(PENDING_CHOICE)
    if not ids:
        return redirect("portal:sign_in")
    from consent.models import Customer

    customers = list(Customer.objects.filter(pk__in=ids, status="active"))
    form = forms.ChooseCustomerForm(_data(request), customers=customers)
    if request.method == "POST" and form.is_valid():
        chosen = next(c for c in customers if c.pk == form.cleaned_data["customer"])
        request.session.pop(PENDING_CHOICE, None)
        return _finish_sign_in(request, chosen)
    return render(request, "portal/sign_in_choose.html", {"form": form})


@require_POST
def sign_out(request):
    portal_logout(request)
    messages.info(request, _("You are signed out."))
    return redirect("portal:home")


# --- signed-in pages ---


@customer_login_required
@require_GET
def dashboard(request):
    customer = request.customer
    context = {
        "customer": customer,
        "matrix": selectors.preference_matrix(customer=customer),
        "pause": selectors.care_pause_active(customer=customer),
        "preference": selectors.preference_for(customer=customer),
        "erasure": selectors.erasure_request_pending(customer=customer),
    }
    return render(request, "portal/dashboard.html", context)


def _cells(values: list[str]) -> set[tuple[str, str]]:
    cells = set()
    for value in values:
        channel, _sep, topic = value.partition(":")
        if channel and topic:
            cells.add((channel, topic))
    return cells


@customer_login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    customer = request.customer
    if request.method == "POST":
        notice = NoticeVersion.objects.filter(
            pk=request.POST.get("notice_version") or None
        ).first()
        if notice is None:
            messages.error(request, _("The form was incomplete. Nothing was changed."))
            return redirect("portal:preferences")
        try:
            events = services.consent_matrix_apply(
                customer=customer,
                shown_on=_cells(request.POST.getlist("shown")),
                wanted_on=_cells(request.POST.getlist("cell")),
                notice_version=notice,
                evidence=_evidence(request),
            )
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
        else:
            if events:
                messages.success(
                    request,
                    _("Saved: %(count)d change(s). Sending systems know at once.")
                    % {"count": len(events)},
                )
            else:
                messages.info(request, _("Nothing was changed."))
        return redirect("portal:preferences")
    matrix = selectors.preference_matrix(customer=customer)
    return render(request, "portal/preferences.html", {"matrix": matrix})


@customer_login_required
@require_POST
def stop_all(request):
    if OptOut.objects.filter(customer=request.customer).exists():
        messages.info(request, _("Nothing was changed."))
        return redirect("portal:preferences")
    consent_services.consent_opt_out_all(
        customer=request.customer,
        source=ConsentEvent.Source.PORTAL,
        actor=Actor.customer(request.customer),
        evidence=_evidence(request),
    )
    messages.success(
        request,
        _("All marketing is stopped on every channel. Service messages continue."),
    )
    return redirect("portal:preferences")


@customer_login_required
@require_http_methods(["GET", "POST"])
def marketing_again(request):
    """A deliberate restart: nothing is switched back on by itself."""
    if request.method == "POST":
        if request.POST.get("confirm") != "yes":
            messages.error(request, _("Tick the box to confirm."))
            return redirect("portal:marketing_again")
        try:
            consent_services.consent_opt_in_all(
                customer=request.customer,
                source=ConsentEvent.Source.PORTAL,
                actor=Actor.customer(request.customer),
                evidence=_evidence(request),
            )
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(
                request,
                _("Marketing can be received again. Now switch on only what you want."),
            )
        return redirect("portal:preferences")
    return render(request, "portal/marketing_again.html")


@customer_login_required
@require_http_methods(["GET", "POST"])
def contact_settings(request):
    customer = request.customer
    pref = selectors.preference_for(customer=customer)
    initial = {
        "quiet_start": pref.quiet_start,
        "quiet_end": pref.quiet_end,
        "time_zone": pref.time_zone,
        "preferred_channel": pref.preferred_channel_id,
        "preferred_language": customer.preferred_language,
    }
    form = forms.ContactSettingsForm(_data(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.preference_update(
            customer=customer,
            quiet_start=data["quiet_start"],
            quiet_end=data["quiet_end"],
            time_zone=data["time_zone"],
            preferred_channel=data["preferred_channel"],
            preferred_language=data["preferred_language"],
        )
        with translation.override(data["preferred_language"]):
            messages.success(request, _("Your contact settings are saved."))
        return _use_language(
            redirect("portal:contact_settings"), data["preferred_language"]
        )
    return render(request, "portal/contact_settings.html", {"form": form})


@customer_login_required
@require_http_methods(["GET", "POST"])
def frequency(request):
    customer = request.customer
    channels = list(Channel.objects.filter(is_active=True))
    caps = selectors.frequency_caps(customer=customer)
    initial = {f"cap_{c.code}": caps.get(c.pk) for c in channels}
    form = forms.FrequencyCapForm(_data(request), initial=initial, channels=channels)
    if request.method == "POST" and form.is_valid():
        services.frequency_caps_set(customer=customer, caps=form.caps())
        messages.success(request, _("Your limits are saved."))
        return redirect("portal:frequency")
    return render(request, "portal/frequency.html", {"form": form})


@customer_login_required
@require_http_methods(["GET", "POST"])
def care_pause(request):
    customer = request.customer
    form = forms.CarePauseForm(_data(request))
    if request.method == "POST":
        if request.POST.get("action") == "end":
            services.care_pause_cancel(customer=customer)
            messages.success(request, _("Your care pause has ended."))
            return redirect("portal:care_pause")
        if form.is_valid():
            try:
                services.care_pause_start(
                    customer=customer,
                    ends_at=form.ends_at(),
                    scope=form.cleaned_data["scope"],
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("Your care pause is on."))
                return redirect("portal:care_pause")
    pause = selectors.care_pause_active(customer=customer)
    return render(request, "portal/care_pause.html", {"form": form, "pause": pause})


@customer_login_required
@require_http_methods(["GET", "POST"])
def personalisation(request):
    customer = request.customer
    pref = selectors.preference_for(customer=customer)
    form = forms.PersonalisationForm(
        _data(request), initial={"refuse": not pref.personalisation_allowed}
    )
    if request.method == "POST" and form.is_valid():
        services.personalisation_set(
            customer=customer, allowed=not form.cleaned_data["refuse"]
        )
        messages.success(request, _("Your choice is saved."))
        return redirect("portal:personalisation")
    return render(request, "portal/personalisation.html", {"form": form})


@customer_login_required
@require_GET
def contact_points(request):
    points = selectors.contact_points_of(customer=request.customer)
    return render(request, "portal/contact_points.html", {"points": points})


@customer_login_required
@require_http_methods(["GET", "POST"])
def contact_point_add(request):
    form = forms.ContactPointAddForm(_data(request))
    if request.method == "POST" and form.is_valid() and "target" in form.cleaned_data:
        try:
            point = services.contact_point_add_and_send(
                customer=request.customer,
                target=form.cleaned_data["target"],
                ip=_ip(request),
                evidence=_evidence(request),
            )
        except ValidationError as exc:
            form.add_error("address", exc.messages)
        except ApplicationError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request, _("We sent a code to %(address)s.") % {"address": point.masked}
            )
            return redirect("portal:contact_point_verify", pk=point.pk)
    return render(request, "portal/contact_point_add.html", {"form": form})


def _own_point(request, pk: int) -> ContactPoint:
    return get_object_or_404(
        ContactPoint, pk=pk, customer=request.customer, removed_at__isnull=True
    )


@customer_login_required
@require_http_methods(["GET", "POST"])
def contact_point_verify(request, pk: int):
    point = _own_point(request, pk)
    form = forms.CodeForm(_data(request))
    if request.method == "POST" and request.POST.get("action") == "resend":
        try:
            services.contact_point_code_resend(contact_point=point, ip=_ip(request))
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("We sent a new code."))
        return redirect("portal:contact_point_verify", pk=point.pk)
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_point_code_confirm(
                contact_point=point,
                code=form.cleaned_data["code"],
                ip=_ip(request),
                evidence=_evidence(request),
            )
        except ApplicationError as exc:
            _form_error(form, exc, "code")
        else:
            messages.success(
                request, _("%(address)s is verified.") % {"address": point.masked}
            )
            return redirect("portal:contact_points")
    return render(
        request, "portal/contact_point_verify.html", {"form": form, "point": point}
    )


@customer_login_required
@require_POST
def contact_point_remove(request, pk: int):
    point = _own_point(request, pk)
    try:
        services.contact_point_remove_own(
            contact_point=point, evidence=_evidence(request)
        )
    except ApplicationError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(
            request, _("%(address)s is removed.") % {"address": point.masked}
        )
    return redirect("portal:contact_points")


@customer_login_required
@require_GET
def history(request):
    paginator = Paginator(selectors.history_events(customer=request.customer), 20)
    page = paginator.get_page(request.GET.get("page"))
    lines = selectors.history_lines(page.object_list)
    return render(request, "portal/history.html", {"page": page, "lines": lines})


@customer_login_required
@require_http_methods(["GET", "POST"])
def my_data(request):
    customer = request.customer
    if request.method == "POST":
        services.erasure_request_create(customer=customer)
        messages.success(
            request,
            _("Your request is received. Staff will carry it out and tell you."),
        )
        return redirect("portal:my_data")
    pending = selectors.erasure_request_pending(customer=customer)
    return render(request, "portal/my_data.html", {"pending": pending})


@customer_login_required
@require_GET
def export(request):
    data = selectors.customer_export(customer=request.customer)
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="my-data-{stamp}.json"'
    response["Cache-Control"] = "no-store"
    return response


# --- one-click unsubscribe ---


def _invalid_link(request):
    return render(request, "portal/link_invalid.html", status=400)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """The signed token is the authority (RFC 8058): no cookie, no CSRF token."""
    try:
        target = unsubscribe_target(token)
    except InvalidLink:
        return _invalid_link(request)
    if request.method == "GET":
        return render(
            request,
            "portal/unsubscribe_confirm.html",
            {"target": target, "token": token},
        )
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    event, was_granted = services.one_click_unsubscribe(
        customer=target.customer,
        channel=target.channel,
        topic=target.topic,
        evidence=_evidence(request, via="rfc8058" if one_click else "link_page"),
    )
    if one_click:
        return HttpResponse("OK", content_type="text/plain; charset=utf-8")
    undo = undo_token(token=token, event_seq=event.seq) if event and was_granted else ""
    return render(
        request,
        "portal/unsubscribe_done.html",
        {
            "target": target,
            "token": token,
            "undo": undo,
            "notice": selectors.notice_current(),
        },
    )


@require_POST
def unsubscribe_undo(request, token: str):
    try:
        target, event_seq = undo_target(request.POST.get("undo", ""))
    except InvalidLink:
        return _invalid_link(request)
    notice = NoticeVersion.objects.filter(
        pk=request.POST.get("notice_version") or None
    ).first()
    restored = None
    error = ""
    if notice is None:
        error = _("The form was incomplete. Nothing was changed.")
    else:
        try:
            restored = services.one_click_undo(
                customer=target.customer,
                channel=target.channel,
                topic=target.topic,
                event_seq=event_seq,
                notice_version=notice,
                evidence=_evidence(request, via="link_undo"),
            )
        except ApplicationError as exc:
            error = str(exc.message)
    return render(
        request,
        "portal/unsubscribe_undone.html",
        {"target": target, "restored": restored, "error": error, "token": token},
    )


# --- not me ---


@require_http_methods(["GET", "POST"])
def not_me(request):
    form = forms.NotMeForm(_data(request))
    if request.method == "POST" and form.is_valid():
        target: CodeTarget = form.cleaned_data["identifier"]
        try:
            services.not_me_start(target=target, ip=_ip(request))
        except ApplicationError as exc:
            _form_error(form, exc)
        else:
            request.session[PENDING_NOT_ME] = {
                "kind": target.kind,
                "value": crypto.encrypt(target.normalised),
            }
            return redirect("portal:not_me_code")
    return render(request, "portal/not_me.html", {"form": form})


@require_http_methods(["GET", "POST"])
def not_me_code(request):
    pending = request.session.get(PENDING_NOT_ME)
    if not pending:
        return redirect("portal:not_me")
    target = CodeTarget(
        kind=pending["kind"], normalised=crypto.decrypt(pending["value"])
    )
    form = forms.CodeForm(_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.not_me_finish(
                target=target,
                code=form.cleaned_data["code"],
                ip=_ip(request),
                evidence=_evidence(request),
            )
        except ApplicationError as exc:
            _form_error(form, exc, "code")
        else:
            request.session.pop(PENDING_NOT_ME, None)
            return render(request, "portal/not_me_done.html", {"masked": target.masked})
    return render(
        request, "portal/not_me_code.html", {"form": form, "masked": target.masked}
    )


@require_http_methods(["GET", "POST"])
def next_of_kin(request):
    form = forms.NextOfKinForm(_data(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.next_of_kin_report_allowed(ip=_ip(request))
            services.next_of_kin_report_create(
                customer_ref=data["customer_ref"].strip(),
                identifier=data["identifier"],
                deceased_name=data["deceased_name"],
                reporter_name=data["reporter_name"],
                reporter_contact=data["reporter_contact"],
                relationship=data["relationship"],
                document_reference=data["document_reference"],
            )
        except (ValidationError, ApplicationError) as exc:
            _form_error(form, exc)
        else:
            return render(request, "portal/next_of_kin_done.html")
    return render(request, "portal/next_of_kin.html", {"form": form})
