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
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from consent import consent_requests, crypto
from consent import services as consent_services
from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence
from consent.links import InvalidLink, undo_target, undo_token, unsubscribe_target
from consent.models import (
    Channel,
    ConsentEvent,
    ConsentRequest,
    ContactPoint,
    NoticeVersion,
    OptOut,
)
from preferences import confirm_links, forms, portal_actions, selectors, services
from preferences.auth import (
    client_ip,
    customer_login_required,
    portal_login,
    portal_logout,
)
from preferences.models import NextOfKinReport
from preferences.services import CodeTarget

PENDING_SIGN_IN = "portal_sign_in"
PENDING_CHOICE = "portal_sign_in_choice"
PENDING_NOT_ME = "portal_not_me"
PENDING_SHARED = "portal_shared_identifier"


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
            portal_actions.sign_in_request(target=target, ip=_ip(request))
        except ApplicationError as exc:
            _form_error(form, exc)
        else:
            request.session[PENDING_SIGN_IN] = {
                "bi": target.blind_index,
                "masked": target.masked,
                "kind": target.kind,
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
                # A shared number: the code proves the phone, not which holder.
                request.session[PENDING_CHOICE] = {
                    "ids": [c.pk for c in customers],
                    "bi": pending["bi"],
                    "masked": pending["masked"],
                    "kind": pending.get("kind", "phone"),
                }
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
    """A number held by several customers (joint account, family): the code proved
    the phone; a fact only the right holder knows says which customer signs in.
    Nobody is shown the other holders."""
    pending = request.session.get(PENDING_CHOICE)
    if not isinstance(pending, dict):
        return redirect("portal:sign_in")
    form = forms.IdentityForm(_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            customer = portal_actions.shared_identifier_identify(
                blind_index=pending["bi"],
                customer_ids=pending["ids"],
                ip=_ip(request),
                id_number_tail=form.cleaned_data["id_number_tail"],
                birth_date=form.cleaned_data["birth_date"],
            )
        except ApplicationError as exc:
            _form_error(form, exc)
        else:
            request.session.pop(PENDING_CHOICE, None)
            return _finish_sign_in(request, customer)
    return render(
        request,
        "portal/sign_in_choose.html",
        {"form": form, "masked": pending["masked"]},
    )


@require_http_methods(["GET", "POST"])
def shared_identifier(request):
    """Without the second fact the holder of a shared number may only stop
    messages to it: nothing of any customer is shown."""
    pending = request.session.get(PENDING_CHOICE)
    if not isinstance(pending, dict):
        return redirect("portal:sign_in")
    identifier = portal_actions.SharedIdentifier(
        kind=pending["kind"], blind_index=pending["bi"], masked=pending["masked"]
    )
    if request.method == "POST":
        events = portal_actions.shared_identifier_stop_marketing(
            identifier=identifier,
            evidence=_evidence(request, via="shared_identifier"),
        )
        if events:
            messages.success(
                request,
                _(
                    "Marketing to %(address)s is stopped. Our sending systems "
                    "already know."
                )
                % {"address": identifier.masked},
            )
        else:
            messages.info(
                request,
                _("No marketing is sent to %(address)s. Nothing was changed.")
                % {"address": identifier.masked},
            )
        return redirect("portal:shared_identifier")
    return render(request, "portal/shared_identifier.html", {"identifier": identifier})


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
        "caps": selectors.frequency_caps_shown(customer=customer),
        "erasure": selectors.erasure_request_pending(customer=customer),
        # No nagging: a request refused within the quiet period is not shown.
        "prompts": consent_requests.consent_requests_to_show(customer=customer),
    }
    return render(request, "portal/dashboard.html", context)


@customer_login_required
@require_POST
def consent_request_answer(request, pk: int):
    """The customer's yes or no to a consent request shown on the overview."""
    customer = request.customer
    asked = get_object_or_404(ConsentRequest, pk=pk, customer=customer)
    answer = request.POST.get("answer")
    notice = NoticeVersion.objects.filter(
        pk=request.POST.get("notice_version") or None
    ).first()
    if answer not in ("yes", "no") or (answer == "yes" and notice is None):
        messages.error(request, _("The form was incomplete. Nothing was changed."))
        return redirect("portal:dashboard")
    try:
        consent_requests.consent_request_answer(
            request=asked,
            accept=answer == "yes",
            notice_version=notice,
            evidence=_evidence(request),
        )
    except ApplicationError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(
            request,
            _("Saved. Sending systems know at once.")
            if answer == "yes"
            else _("Saved. We will not ask you about this again for a while."),
        )
    return redirect("portal:dashboard")


def _cells(values: list[str]) -> set[tuple[str, str]]:
    cells = set()
    for value in values:
        channel, _sep, topic = value.partition(":")
        if channel and topic:
            cells.add((channel, topic))
    return cells


def _switches_save(request, apply):
    """Save the switches a page moved, with ``apply`` (a service taking the cells
    shown and wanted, the page's notice and the evidence), and say what happened.
    Returns the refusal a service raised for the caller to show, or None."""
    notice = NoticeVersion.objects.filter(
        pk=request.POST.get("notice_version") or None
    ).first()
    if notice is None:
        messages.error(request, _("The form was incomplete. Nothing was changed."))
        return None
    try:
        events = apply(
            customer=request.customer,
            shown_on=_cells(request.POST.getlist("shown")),
            wanted_on=_cells(request.POST.getlist("cell")),
            notice_version=notice,
            evidence=_evidence(request),
        )
    except ApplicationError as exc:
        if exc.code == "no_confirmed_address":
            return exc
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
    return None


@customer_login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    customer = request.customer
    if request.method == "POST" and request.POST.get("keep"):
        return _preferences_unsaved(request, customer)
    if request.method == "POST":
        refused = _switches_save(request, services.consent_matrix_apply)
        if refused is not None:
            return _preferences_refused(request, customer, refused)
        return redirect("portal:preferences")
    matrix = selectors.preference_matrix(customer=customer)
    by_channel = request.GET.get("by") == "channel"
    return render(
        request,
        "portal/preferences.html",
        {"matrix": matrix, "by_channel": by_channel},
    )


def _preferences_refused(request, customer, exc: ApplicationError):
    """A switch on a channel without a confirmed address (a forged form: the page
    disables it): the page comes back as saved before, with the error."""
    return render(
        request,
        "portal/preferences.html",
        {
            "matrix": selectors.preference_matrix(customer=customer),
            "by_channel": request.GET.get("by") == "channel",
            "error": True,
            "matrix_error": {
                "channel": exc.extra.get("channel", ""),
                "message": str(exc.message),
            },
        },
        status=400,
    )


@customer_login_required
@require_POST
def service_messages(request):
    """Switch off (or back on) the service messages the customer may refuse."""
    refused = _switches_save(request, services.service_messages_apply)
    if refused is not None:
        messages.error(request, str(refused.message))
    return redirect("portal:preferences")


def _preferences_unsaved(request, customer):
    """Enter on a switch sends the form through its first submit button, which
    saves nothing: the page comes back with the switches as they were set and the
    focus on the save button."""
    matrix = selectors.preference_matrix(customer=customer)
    wanted = _cells(request.POST.getlist("cell"))
    for row in matrix.rows:
        for cell in row.cells:
            cell.on = (cell.channel.code, cell.topic.code) in wanted
    return render(
        request,
        "portal/preferences.html",
        {
            "matrix": matrix,
            "by_channel": request.GET.get("by") == "channel",
            "unsaved": True,
            "shown": [v for v in request.POST.getlist("shown") if ":" in v],
        },
    )


@customer_login_required
@require_http_methods(["GET", "POST"])
def stop_all(request):
    """Stopping everything is asked for on its own page and confirmed."""
    if OptOut.objects.filter(customer=request.customer).exists():
        messages.info(request, _("Nothing was changed."))
        return redirect("portal:preferences")
    if request.method == "GET" or request.POST.get("confirm") != "yes":
        return render(request, "portal/stop_all.html")
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
    """A deliberate restart. The choices that "stop all" withdrew are listed and
    come back only if the customer ticks them, each as a fresh grant."""
    customer = request.customer
    if not OptOut.objects.filter(customer=customer).exists():
        return redirect("portal:preferences")
    earlier = portal_actions.choices_before_stop_all(customer=customer)
    notice = selectors.notice_current()
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm") != "yes":
            error = _("Tick the box to confirm.")
        else:
            notice_shown = NoticeVersion.objects.filter(
                pk=request.POST.get("notice_version") or None
            ).first()
            try:
                events = portal_actions.marketing_again(
                    customer=customer,
                    restore=_cells(request.POST.getlist("restore")),
                    notice_version=notice_shown,
                    evidence=_evidence(request),
                )
            except ApplicationError as exc:
                error = str(exc.message)
            else:
                restored = len(events) - 1
                if restored:
                    messages.success(
                        request,
                        ngettext(
                            "Marketing can be received again; %(count)d earlier "
                            "choice is switched back on.",
                            "Marketing can be received again; %(count)d earlier "
                            "choices are switched back on.",
                            restored,
                        )
                        % {"count": restored},
                    )
                else:
                    messages.success(
                        request,
                        _(
                            "Marketing can be received again. Now switch on only "
                            "what you want."
                        ),
                    )
                return redirect("portal:preferences")
    return render(
        request,
        "portal/marketing_again.html",
        {"earlier": earlier, "notice": notice, "error": error},
        status=400 if error else 200,
    )


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
        portal_actions.contact_settings_save(
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
        portal_actions.frequency_caps_save(customer=customer, caps=form.caps())
        messages.success(request, _("Your limits are saved."))
        return redirect("portal:frequency")
    return render(request, "portal/frequency.html", {"form": form})


@customer_login_required
@require_http_methods(["GET", "POST"])
def care_pause(request):
    customer = request.customer
    pause = selectors.care_pause_active(customer=customer)
    initial = {}
    if pause is not None:
        # "Change the pause" starts from the running pause, so nothing narrows
        # unless the customer changes it.
        initial = {
            "until": timezone.localdate(pause.ends_at),
            "scope": pause.scope,
            "reason": pause.reason,
        }
    form = forms.CarePauseForm(_data(request), initial=initial, running=pause)
    if request.method == "POST":
        if request.POST.get("action") == "end":
            portal_actions.care_pause_end(customer=customer)
            messages.success(request, _("Your care pause has ended."))
            return redirect("portal:care_pause")
        if form.is_valid():
            try:
                portal_actions.care_pause_save(
                    customer=customer,
                    ends_at=form.ends_at(),
                    scope=form.cleaned_data["scope"],
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as exc:
                _form_error(form, exc)
            else:
                narrowed = form.narrows
                messages.success(
                    request,
                    _(
                        "Your care pause is changed: collections messages are no "
                        "longer paused, marketing still is."
                    )
                    if narrowed
                    else _("Your care pause is on."),
                )
                return redirect("portal:care_pause")
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
        portal_actions.personalisation_save(
            customer=customer, allowed=not form.cleaned_data["refuse"]
        )
        messages.success(request, _("Your choice is saved."))
        return redirect("portal:personalisation")
    return render(
        request,
        "portal/personalisation.html",
        {
            "form": form,
            "tags": selectors.profile_tags_shown(customer=customer),
            "clear_form": forms.ProfileTagsClearForm(),
            "allowed": pref.personalisation_allowed,
        },
    )


@customer_login_required
@require_POST
def profile_tags_clear(request):
    """Clear one profile tag or all of them; optionally refuse personalisation."""
    form = forms.ProfileTagsClearForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The form was incomplete. Nothing was changed."))
        return redirect("portal:personalisation")
    refuse = form.cleaned_data["refuse"]
    try:
        count = portal_actions.profile_tags_clear_save(
            customer=request.customer,
            tag_id=form.cleaned_data["tag"],
            refuse_personalisation=refuse,
            evidence=_evidence(request),
        )
    except ApplicationError as exc:
        messages.error(request, str(exc.message))
        return redirect("portal:personalisation")
    text = ngettext(
        "%(count)d profile tag cleared.", "%(count)d profile tags cleared.", count
    ) % {"count": count}
    if refuse and count:
        text = _("%(cleared)s Marketing is no longer chosen from your profile.") % {
            "cleared": text
        }
    elif refuse:
        text = _("Your choice is saved.")
    messages.success(request, text)
    return redirect("portal:personalisation")


@customer_login_required
@require_GET
def contact_points(request):
    points = selectors.contact_points_of(customer=request.customer)
    contested = selectors.contact_points_contested(customer=request.customer)
    for point in points:
        point.contest_open = point.pk in contested
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
@require_http_methods(["GET", "POST"])
def contact_point_contest(request, pk: int):
    """A number someone else marked "not me": the customer proves it is theirs
    with a code sent to it, and staff decide."""
    point = _own_point(request, pk)
    if point.status != ContactPoint.Status.NOT_ME:
        return redirect("portal:contact_points")
    if services.not_me_contest_open_for(contact_point=point) is not None:
        messages.info(request, str(services.MSG_CONTEST_OPEN))
        return redirect("portal:contact_points")
    form = forms.CodeForm(
        request.POST if request.POST.get("action") == "confirm" else None
    )
    sent = request.method == "POST"
    if request.method == "POST" and request.POST.get("action") == "send":
        try:
            portal_actions.not_me_contest_start(contact_point=point, ip=_ip(request))
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
            sent = False
        else:
            messages.success(
                request, _("We sent a code to %(address)s.") % {"address": point.masked}
            )
    elif request.method == "POST" and form.is_valid():
        try:
            portal_actions.not_me_contest_finish(
                contact_point=point, code=form.cleaned_data["code"], ip=_ip(request)
            )
        except ApplicationError as exc:
            _form_error(form, exc, "code")
        else:
            messages.success(
                request,
                _(
                    "Thank you. Bank staff will check that %(address)s is yours. "
                    "Until they have, nothing is sent to it."
                )
                % {"address": point.masked},
            )
            return redirect("portal:contact_points")
    return render(
        request,
        "portal/contact_point_contest.html",
        {"form": form, "point": point, "sent": sent},
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
    paginator = Paginator(selectors.HistoryEntries(request.customer), 20)
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


@customer_login_required
@require_GET
def export_readable(request):
    """The same data as the JSON file, for people: labels in the customer's
    language and times in their own time zone."""
    customer = request.customer
    with translation.override(customer.preferred_language):
        data = selectors.customer_export_readable(customer=customer)
        response = render(request, "portal/my_data_readable.html", data)
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="my-data-{stamp}.html"'
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
    # RFC 8058: a mail client's one-click POST means the list the message came
    # from; the page's buttons say which scope the person chose.
    scope = (
        portal_actions.UnsubscribeScope.PRODUCT
        if one_click
        else consent_services.unsubscribe_scope(request.POST.get("scope"))
    )
    if scope is None:
        return _invalid_link(request)
    event, undoable = portal_actions.one_click_unsubscribe_scoped(
        customer=target.customer,
        channel=target.channel,
        topic=target.topic,
        scope=scope,
        evidence=_evidence(
            request, via="rfc8058" if one_click else "link_page", scope=scope
        ),
    )
    if one_click:
        return HttpResponse("OK", content_type="text/plain; charset=utf-8")
    undo = undo_token(token=token, event_seq=event.seq) if event and undoable else ""
    notice = selectors.notice_current(language=target.customer.preferred_language)
    return render(
        request,
        "portal/unsubscribe_done.html",
        {
            "target": target,
            "token": token,
            "undo": undo,
            "scope": scope,
            "notice": notice,
            "notice_language": "zh-Hans"
            if notice and notice.language.startswith("zh")
            else "en",
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
    customer_language = selectors.language_code(target.customer.preferred_language)
    if notice is None or notice.language != customer_language:
        # The grant cites the wording in the customer's own language.
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


# --- confirming an address by its link (double opt-in) ---


@require_http_methods(["GET", "POST"])
def contact_confirm(request, token: str):
    """The link in a confirmation request. GET only shows what would be confirmed
    (mail scanners open links); the button's POST confirms."""
    try:
        point = confirm_links.confirm_target(token)
    except confirm_links.InvalidConfirmLink:
        return render(request, "portal/contact_confirm_invalid.html", status=400)
    if request.method == "POST":
        try:
            services.contact_point_link_confirm(
                token=token, evidence=_evidence(request, via="confirm_link")
            )
        except confirm_links.InvalidConfirmLink:  # confirmed in between
            return render(request, "portal/contact_confirm_invalid.html", status=400)
        return render(request, "portal/contact_confirm_done.html", {"point": point})
    return render(
        request, "portal/contact_confirm.html", {"point": point, "token": token}
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
                evidence=_evidence(request),
            )
        except (ValidationError, ApplicationError) as exc:
            _form_error(form, exc)
        else:
            return render(request, "portal/next_of_kin_done.html")
    return render(request, "portal/next_of_kin.html", {"form": form})


@require_http_methods(["GET", "POST"])
def next_of_kin_care_pause(request):
    """A relative asks for a care pause for the customer: marketing is paused at
    once, and staff check the request."""
    form = forms.NextOfKinCarePauseForm(_data(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.next_of_kin_report_allowed(ip=_ip(request))
            services.next_of_kin_report_create(
                kind=NextOfKinReport.Kind.CARE_PAUSE,
                customer_ref=data["customer_ref"].strip(),
                identifier=data["identifier"],
                deceased_name=data["customer_name"],
                reporter_name=data["reporter_name"],
                reporter_contact=data["reporter_contact"],
                relationship=data["relationship"],
                pause_until=form.ends_at(),
                pause_reason=data["reason"],
                evidence=_evidence(request),
            )
        except (ValidationError, ApplicationError) as exc:
            _form_error(form, exc)
        else:
            return render(request, "portal/next_of_kin_done.html", {"care_pause": True})
    return render(request, "portal/next_of_kin_care_pause.html", {"form": form})
