"""What a new customer found in the portal, and the barriers of a keyboard and
screen-reader walk, fixed; each test fails on the earlier pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from consent import links
from consent.models import (
    Channel,
    ConsentEvent,
    ConsentState,
    ContactPoint,
    NoticeVersion,
    OptOut,
    Topic,
)
from preferences.models import CarePause, SettingChange
from tests.factories import CustomerFactory, add_email, add_phone, grant

pytestmark = pytest.mark.django_db


# --- one-click unsubscribe: three scopes ----------------------------------------------


@pytest.fixture
def email_customer(customer, sms, credit_card, personal_loan, notice_en):
    email = Channel.objects.get(code="email")
    add_email(customer, "holder@example.com")
    add_phone(customer, "13800138000")
    for channel, topic in ((email, credit_card), (email, personal_loan)):
        grant(customer, channel, topic, notice_en)
    grant(customer, sms, credit_card, notice_en)
    return customer


def _link(customer, channel_code="email", topic_code="credit_card"):
    return links.unsubscribe_path(
        customer=customer,
        channel=Channel.objects.get(code=channel_code),
        topic=Topic.objects.get(code=topic_code),
    )


def _granted(customer) -> set[tuple[str, str]]:
    return set(
        ConsentState.objects.granted()
        .filter(customer=customer)
        .values_list("channel__code", "topic__code")
    )


def test_unsubscribe_page_offers_three_scopes(client, email_customer):
    page = client.get(_link(email_customer)).content.decode()
    for scope in ("product", "channel", "all"):
        assert f'name="scope" value="{scope}"' in page
    assert "Only Credit cards by E-mail" in page
    assert "All marketing by E-mail" in page
    assert "All marketing on every channel" in page
    assert _granted(email_customer) == {
        ("email", "credit_card"),
        ("email", "personal_loan"),
        ("sms", "credit_card"),
    }


def test_this_product_only(client, email_customer):
    client.post(_link(email_customer), {"scope": "topic"})
    assert _granted(email_customer) == {
        ("email", "personal_loan"),
        ("sms", "credit_card"),
    }


def test_all_marketing_email(client, email_customer):
    page = client.post(_link(email_customer), {"scope": "channel"}).content.decode()
    assert "any marketing by E-mail" in page
    assert _granted(email_customer) == {("sms", "credit_card")}
    event = ConsentEvent.objects.filter(action="withdraw").get()
    assert event.channel.code == "email" and event.topic is None
    assert event.source == "one_click" and event.evidence["scope"] == "channel"
    assert "Undo" not in page


def test_all_marketing_every_channel(client, email_customer):
    page = client.post(_link(email_customer), {"scope": "all"}).content.decode()
    assert "no longer receive marketing on any channel" in page
    assert _granted(email_customer) == set()
    assert OptOut.objects.filter(customer=email_customer).exists()
    event = ConsentEvent.objects.get(action="opt_out_all")
    assert event.source == "one_click"


def test_rfc8058_post_keeps_its_single_meaning(client, email_customer):
    """A mail client's one-click POST unsubscribes from the list it came from,
    whatever else is posted."""
    response = client.post(
        _link(email_customer), {"List-Unsubscribe": "One-Click", "scope": "all"}
    )
    assert response.status_code == 200 and response.content == b"OK"
    assert _granted(email_customer) == {
        ("email", "personal_loan"),
        ("sms", "credit_card"),
    }
    assert not OptOut.objects.exists()


def test_unknown_scope_changes_nothing(client, email_customer):
    response = client.post(_link(email_customer), {"scope": "everything"})
    assert response.status_code == 400
    assert len(_granted(email_customer)) == 3


def test_undo_cites_the_notice_in_the_customers_language(
    client, customer, phone_point, sms, credit_card, notice_en
):
    customer.preferred_language = "zh-hans"
    customer.save()
    notice_zh = NoticeVersion.objects.get(
        code="marketing", version=1, language="zh-hans"
    )
    grant(customer, sms, credit_card, notice_zh)
    path = links.unsubscribe_path(customer=customer, channel=sms, topic=credit_card)
    client.cookies["django_language"] = "en"  # the visitor reads English
    page = client.post(path, {"scope": "topic"}).content.decode()
    assert f'name="notice_version" value="{notice_zh.pk}"' in page
    assert 'lang="zh-Hans"' in page
    undo = page.split('name="undo" value="')[1].split('"')[0]
    # A form posting the English notice is refused: the grant would cite it.
    client.post(path + "/undo", {"undo": undo, "notice_version": notice_en.pk})
    assert ConsentState.objects.get(customer=customer).status == "withdrawn"
    client.post(path + "/undo", {"undo": undo, "notice_version": notice_zh.pk})
    restored = ConsentEvent.objects.filter(action="grant").order_by("seq").last()
    assert restored.notice_version == notice_zh
    assert ConsentState.objects.get(customer=customer).status == "granted"


# --- stop all marketing, and back -----------------------------------------------------


def test_stop_all_is_a_link_to_a_confirmation(portal_client):
    page = portal_client.get(reverse("portal:preferences")).content.decode()
    assert f'<a class="btn btn-danger" href="{reverse("portal:stop_all")}">' in page
    confirm = portal_client.get(reverse("portal:stop_all")).content.decode()
    assert 'name="confirm" value="yes"' in confirm
    assert not OptOut.objects.exists()


def test_marketing_again_restores_the_earlier_choices_the_customer_ticks(
    portal_client, customer, sms, credit_card, personal_loan, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    grant(customer, sms, personal_loan, notice_en)
    portal_client.post(reverse("portal:stop_all"), {"confirm": "yes"})
    assert _granted(customer) == set()
    page = portal_client.get(reverse("portal:marketing_again")).content.decode()
    assert 'value="sms:credit_card" checked' in page
    assert 'value="sms:personal_loan" checked' in page
    assert notice_en.text in page
    seq = ConsentEvent.objects.order_by("seq").last().seq
    response = portal_client.post(
        reverse("portal:marketing_again"),
        {
            "confirm": "yes",
            "restore": ["sms:credit_card"],
            "notice_version": notice_en.pk,
        },
    )
    assert response.status_code == 302
    assert _granted(customer) == {("sms", "credit_card")}
    fresh = ConsentEvent.objects.filter(seq__gt=seq).order_by("seq")
    assert [e.action for e in fresh] == ["opt_in_all", "grant"]
    assert fresh.last().notice_version == notice_en
    assert fresh.last().source == "portal"


def test_marketing_again_without_the_tick_is_an_error_and_changes_nothing(
    portal_client, customer, sms, credit_card, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    portal_client.post(reverse("portal:stop_all"), {"confirm": "yes"})
    response = portal_client.post(
        reverse("portal:marketing_again"),
        {"restore": ["sms:credit_card"], "notice_version": notice_en.pk},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "<title>Error:" in page and 'href="#confirm"' in page
    assert OptOut.objects.filter(customer=customer).exists()
    assert _granted(customer) == set()


# --- care pause -----------------------------------------------------------------------


def test_change_the_pause_is_prefilled_and_asks_before_it_narrows(
    portal_client, customer
):
    until = timezone.localdate() + timedelta(days=20)
    portal_client.post(
        reverse("portal:care_pause"),
        {
            "until": until.isoformat(),
            "scope": "marketing+collections",
            "reason": "illness",
        },
    )
    page = portal_client.get(reverse("portal:care_pause")).content.decode()
    assert f'value="{until.isoformat()}"' in page
    assert re.search(r'value="marketing\+collections"[^>]*checked', page)
    assert re.search(r'value="illness"[^>]*checked', page)
    # Narrowing is never silent: it asks first and changes nothing until confirmed.
    narrower = {"until": until.isoformat(), "scope": "marketing", "reason": "illness"}
    events = ConsentEvent.objects.count()
    asked = portal_client.post(reverse("portal:care_pause"), narrower)
    assert asked.status_code == 200
    page = asked.content.decode()
    assert "confirm that collections messages may be sent again" in page
    assert 'name="confirm_narrow"' in page
    assert ConsentEvent.objects.count() == events
    assert CarePause.objects.active_at(timezone.now()).get().holds_collections
    response = portal_client.post(
        reverse("portal:care_pause"),
        {**narrower, "confirm_narrow": "on"},
        follow=True,
    )
    assert "collections messages are no longer paused" in response.content.decode()
    assert CarePause.objects.active_at(timezone.now()).get().scope == "marketing"


def test_care_pause_errors_are_linked_and_tied_to_the_group(portal_client):
    page = portal_client.post(reverse("portal:care_pause"), {"until": ""}).content
    page = page.decode()
    assert "<title>Error: Care pause" in page
    assert 'role="alert" tabindex="-1" autofocus' in page
    assert 'href="#id_until"' in page and 'href="#id_reason_0"' in page
    assert 'aria-describedby="id_reason_helptext id_reason_error"' in page
    assert re.search(r'name="reason"[^>]*aria-invalid="true"', page)
    assert re.search(r'<input[^>]*name="until"[^>]*aria-invalid="true"', page)


def test_radios_are_not_invalid_before_any_input(portal_client):
    page = portal_client.get(reverse("portal:care_pause")).content.decode()
    radios = re.findall(r'<input type="radio"[^>]*>', page)
    assert radios
    assert not any("required" in r or "aria-invalid" in r for r in radios)


# --- not me, contested ----------------------------------------------------------------


def test_customer_contests_a_not_me_flag_with_a_code_and_staff_decide(
    portal_client, customer, phone_point, last_code, sms, credit_card, notice_en
):
    from consent import services
    from consent.ledger import Actor
    from preferences.models import NotMeReport

    add_email(customer, "holder@example.com")
    grant(customer, sms, credit_card, notice_en)
    services.contact_point_mark_not_me(
        contact_point=phone_point, source="portal", actor=Actor.public("not_me_page")
    )
    listing = portal_client.get(reverse("portal:contact_points")).content.decode()
    contest = reverse("portal:contact_point_contest", args=[phone_point.pk])
    assert contest in listing
    portal_client.post(contest, {"action": "send"})
    wrong = portal_client.post(contest, {"action": "confirm", "code": "000000"})
    assert "not correct" in wrong.content.decode() or last_code() == "000000"
    assert not NotMeReport.objects.exists()
    response = portal_client.post(contest, {"action": "confirm", "code": last_code()})
    assert response.status_code == 302
    # A task for staff; the flag stays until they decide.
    report = NotMeReport.objects.get()
    assert report.contested_by == customer and report.contact_point == phone_point
    assert report.reviewed_at is None
    phone_point.refresh_from_db()
    assert phone_point.status == ContactPoint.Status.NOT_ME
    assert not ConsentEvent.objects.filter(action="contact_restored").exists()
    listing = portal_client.get(reverse("portal:contact_points")).content.decode()
    assert "bank staff are checking it" in listing
    assert contest not in listing
    # Asking again opens no second task.
    again = portal_client.post(contest, {"action": "send"}, follow=True)
    assert "Bank staff are checking it" in again.content.decode()
    assert NotMeReport.objects.count() == 1


def test_contest_is_only_for_own_not_me_numbers(portal_client, customer, phone_point):
    other = CustomerFactory()
    theirs = add_phone(other, "13700137000")
    url = reverse("portal:contact_point_contest", args=[theirs.pk])
    assert portal_client.get(url).status_code == 404
    active = reverse("portal:contact_point_contest", args=[phone_point.pk])
    assert portal_client.post(active, {"action": "send"}).status_code == 302


# --- overview, history and export -----------------------------------------------------


def test_overview_shows_the_frequency_caps(portal_client):
    page = portal_client.get(reverse("portal:dashboard")).content.decode()
    assert "No limit set" in page
    portal_client.post(reverse("portal:frequency"), {"cap_sms": "5", "cap_email": "2"})
    page = portal_client.get(reverse("portal:dashboard")).content.decode()
    assert "SMS: at most 5 per 7 days" in page
    assert "E-mail: at most 2 per 7 days" in page


def test_history_shows_settings_next_to_consents(portal_client, customer):
    until = timezone.localdate() + timedelta(days=10)
    portal_client.post(reverse("portal:frequency"), {"cap_sms": "3"})
    portal_client.post(reverse("portal:personalisation"), {"refuse": "on"})
    portal_client.post(
        reverse("portal:care_pause"),
        {"until": until.isoformat(), "scope": "marketing", "reason": "hardship"},
    )
    portal_client.post(reverse("portal:care_pause"), {"action": "end"})
    portal_client.post(
        reverse("portal:contact_settings"),
        {
            "quiet_start": "22:00",
            "quiet_end": "07:30",
            "time_zone": "Asia/Shanghai",
            "preferred_channel": "",
            "preferred_language": "en",
        },
    )
    assert SettingChange.objects.filter(customer=customer).count() == 5
    page = portal_client.get(reverse("portal:history")).content.decode()
    order = [
        page.index("Set quiet hours 22:00–07:30"),
        page.index("Ended the care pause"),
        page.index(f"Started a care pause until {until.isoformat()}"),
        page.index("Refused marketing chosen from my profile"),
        page.index("Set frequency caps per 7 days: SMS at most 3"),
        page.index("Added +86****8000"),
    ]
    assert order == sorted(order)
    # Saving the same settings again adds nothing.
    portal_client.post(reverse("portal:frequency"), {"cap_sms": "3"})
    assert SettingChange.objects.filter(customer=customer).count() == 5


def test_history_cells_say_what_they_are_on_phones(portal_client):
    page = portal_client.get(reverse("portal:history")).content.decode()
    for label in ("When", "What", "How", "By", "Wording"):
        assert f'data-label="{label}"' in page
    page = portal_client.get(reverse("portal:contact_points")).content.decode()
    for label in ("Type", "Address", "Status"):
        assert f'data-label="{label}"' in page


def test_english_wording_in_a_chinese_page_is_marked(
    portal_client, customer, sms, credit_card, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    portal_client.cookies["django_language"] = "zh-hans"
    page = portal_client.get(reverse("portal:history")).content.decode()
    assert '<span lang="en">Marketing consent notice v1</span>' in page


def test_readable_export_in_the_customers_language_and_time(
    portal_client, customer, sms, credit_card, notice_en
):
    customer.preferred_language = "zh-hans"
    customer.save()
    event = grant(customer, sms, credit_card, notice_en)
    response = portal_client.get(reverse("portal:export_readable"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    page = response.content.decode()
    assert '<html lang="zh-Hans">' in page
    assert "信用卡" in page and "短信" in page
    assert "+8613800138000" in page  # the customer's own address, in full
    local = timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M")
    assert local in page and "Asia/Shanghai" in page
    assert '"channel"' not in page and "credit_card" not in page


def test_readable_export_lists_the_customers_complaints(
    portal_client, customer, sms, credit_card
):
    """The complaints app adds its section through a hook (preferences does not
    import complaints)."""
    from complaints.services.intake import complaint_create
    from consent.ledger import Actor

    complaint = complaint_create(
        source="portal",
        description="Messages at midnight",
        actor=Actor.customer(customer),
        customer=customer,
        channel=sms,
        topic=credit_card,
        category="bad_timing",
    )
    page = portal_client.get(reverse("portal:export_readable")).content.decode()
    assert complaint.reference in page and "Messages at midnight" in page


def test_my_data_offers_both_exports(portal_client):
    page = portal_client.get(reverse("portal:my_data")).content.decode()
    assert reverse("portal:export_readable") in page
    assert reverse("portal:export") in page


# --- complaints shown with labels -----------------------------------------------------


def test_complaint_pages_show_labels_not_codes(portal_client, customer, sms, notice_en):
    from complaints.services.intake import complaint_create
    from consent.ledger import Actor

    car_loan = Topic.objects.get(code="car_loan")
    grant(customer, sms, car_loan, notice_en)
    complaint = complaint_create(
        source="portal",
        description="I never agreed to this",
        actor=Actor.customer(customer),
        customer=customer,
        channel=sms,
        topic=car_loan,
        category="unwanted_marketing",
    )
    url = reverse("complaints:portal_detail", kwargs={"reference": complaint.reference})
    page = portal_client.get(url).content.decode()
    assert "Stopped marketing about Car loans by SMS" in page
    assert "car_loan" not in page and "channel: sms" not in page
    portal_client.cookies["django_language"] = "zh-hans"
    page = portal_client.get(url).content.decode()
    assert "car_loan" not in page and "汽车贷款" in page and "短信" in page


def test_complaint_form_marks_optional_once(portal_client):
    page = portal_client.get(reverse("complaints:portal_create")).content.decode()
    assert "(optional) (optional)" not in page and "(optional)(optional)" not in page
    assert "What went wrong?" in page
    portal_client.cookies["django_language"] = "zh-hans"
    page = portal_client.get(reverse("complaints:portal_create")).content.decode()
    assert "（选填）（选填）" not in page and "(选填)" not in page
    assert "涉及什么产品" not in page


# --- keyboard -------------------------------------------------------------------------


def test_switches_do_not_submit_on_enter_and_save_is_within_reach(portal_client):
    page = portal_client.get(reverse("portal:preferences")).content.decode()
    form = page.split('class="card matrix-form"')[1]
    first_submit = re.search(r"<button[^>]*>", form).group(0)
    assert 'type="submit"' in first_submit and 'name="keep"' in first_submit
    assert 'class="save-bar"' in form
    assert "aria-describedby" not in re.search(
        r'<input[^>]*role="switch"[^>]*>', form
    ).group(0)


def test_per_channel_layout(portal_client):
    page = portal_client.get(reverse("portal:preferences") + "?by=channel")
    page = page.content.decode()
    assert "Channels (rows) and products (columns)" in page
    assert page.count('role="switch"') == 48
    assert 'Personal loans<span class="visually-hidden">: SMS</span>' in page


def test_code_pages_have_their_own_titles(client, phone_point):
    client.post(reverse("portal:sign_in"), {"identifier": "13800138000"})
    sign_in = client.get(reverse("portal:sign_in_code")).content.decode()
    client.post(reverse("portal:not_me"), {"identifier": "13800138000"})
    not_me = client.get(reverse("portal:not_me_code")).content.decode()
    title = re.compile(r"<title>(.*?)</title>", re.S)
    assert title.search(sign_in).group(1) != title.search(not_me).group(1)


def test_enter_on_a_switch_saves_nothing_and_keeps_the_switches(
    portal_client, customer, sms, credit_card, notice_en
):
    """A browser sends the form through its first submit button when Enter is
    pressed on a checkbox: that button saves nothing and gives the page back as
    set, with the focus on the save button."""
    grant(customer, sms, credit_card, notice_en)
    response = portal_client.post(
        reverse("portal:preferences"),
        {
            "keep": "1",
            "notice_version": notice_en.pk,
            "shown": ["sms:credit_card"],
            "cell": ["sms:personal_loan"],
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Not saved yet" in page and "autofocus" in page
    assert re.search(r'id="cell-sms-personal_loan"[^>]*checked', page)
    assert not re.search(r'id="cell-sms-credit_card"[^>]*checked', page)
    assert '<input type="hidden" name="shown" value="sms:credit_card">' in page
    assert _granted(customer) == {("sms", "credit_card")}
    assert ConsentEvent.objects.filter(action="withdraw").count() == 0


def test_messages_from_the_bank_carry_their_language(
    portal_client, customer, django_capture_on_commit_callbacks
):
    from complaints.services.intake import complaint_create
    from consent.ledger import Actor

    with django_capture_on_commit_callbacks(execute=True):
        complaint = complaint_create(
            source="portal",
            description="Too many messages",
            actor=Actor.customer(customer),
            customer=customer,
        )
    url = reverse("complaints:portal_detail", kwargs={"reference": complaint.reference})
    portal_client.cookies["django_language"] = "zh-hans"
    page = portal_client.get(url).content.decode()
    assert '<article class="notice" lang="en">' in page


def test_chinese_pages_use_chinese_punctuation(portal_client):
    portal_client.post(reverse("portal:frequency"), {"cap_sms": "3", "cap_email": "2"})
    portal_client.cookies["django_language"] = "zh-hans"
    page = portal_client.get(reverse("portal:history")).content.decode()
    assert "设置每 7 天接收频次上限：短信最多 3 条、电子邮件最多 2 条" in page
    page = portal_client.get(reverse("complaints:portal_create")).content.decode()
    assert "您遇到了什么问题？" in page and "（选填）" in page
    assert page.count("（选填）") == 4  # channel, product, time, text: once each
