"""The pure decision, without the database."""

from __future__ import annotations

from datetime import UTC, datetime

from consent.contactability import Holder, Reason, TopicInfo, compute

TOPICS = [
    TopicInfo("credit_card", True),
    TopicInfo("wealth", True),
    TopicInfo("repayment_reminder", False),
    TopicInfo("collections", False, held_by_care_pause=True),
]
GRANTED = ("granted", "portal")
UNTIL = datetime(2030, 1, 1, tzinfo=UTC)


def test_grant_by_one_holder_and_no_refusal_permits():
    state = compute(
        holders=[Holder(states={"credit_card": GRANTED}), Holder()], topics=TOPICS
    )
    assert state.permitted_topics == [
        "collections",
        "credit_card",
        "repayment_reminder",
    ]
    assert state.suppressed is False
    assert state.topic_reasons["wealth"] == [Reason.NO_CONSENT]


def test_withdrawal_by_any_holder_beats_a_grant_by_another():
    state = compute(
        holders=[
            Holder(states={"credit_card": GRANTED}),
            Holder(states={"credit_card": ("withdrawn", "sms_keyword")}),
        ],
        topics=TOPICS,
    )
    assert "credit_card" not in state.permitted_topics
    assert state.reasons == [Reason.NO_CONSENT, Reason.WITHDRAWN]


def test_withdrawal_through_a_complaint_is_reported_as_complaint():
    state = compute(
        holders=[Holder(states={"credit_card": ("withdrawn", "complaint")})],
        topics=TOPICS,
    )
    assert state.topic_reasons["credit_card"] == [Reason.COMPLAINT]


def test_opt_out_or_deceased_holder_stops_marketing_not_service():
    for holder in (
        Holder(opted_out=True, states={"credit_card": GRANTED}),
        Holder(customer_status="deceased", states={"credit_card": GRANTED}),
    ):
        state = compute(holders=[holder], topics=TOPICS)
        assert state.permitted_topics == ["collections", "repayment_reminder"]
        assert Reason.OPT_OUT_ALL in state.reasons


def test_care_pause_scope_decides_whether_collections_are_held():
    marketing_only = compute(
        holders=[Holder(states={"credit_card": GRANTED}, pause_until=UNTIL)],
        topics=TOPICS,
    )
    assert marketing_only.permitted_topics == ["collections", "repayment_reminder"]
    assert marketing_only.paused_until == UNTIL
    with_collections = compute(
        holders=[Holder(pause_until=UNTIL, pause_holds_collections=True)], topics=TOPICS
    )
    assert with_collections.permitted_topics == ["repayment_reminder"]


def test_not_me_invalid_and_identifier_flags_block_everything():
    assert compute(
        holders=[Holder(contact_status="not_me")], topics=TOPICS
    ).reasons == [Reason.NOT_ME]
    assert compute(
        holders=[Holder(contact_status="invalid")], topics=TOPICS
    ).reasons == [Reason.INVALID]
    erased = compute(holders=[], topics=TOPICS, identifier_flags=["erased"])
    assert erased.permitted_topics == [] and erased.suppressed


def test_preferences_combine_to_the_most_protective():
    state = compute(
        holders=[
            Holder(
                states={"wealth": GRANTED},
                max_per_week=5,
                personalisation=True,
                quiet_hours={"start": "22:00", "end": "07:00", "tz": "Asia/Shanghai"},
            ),
            Holder(
                max_per_week=2,
                personalisation=False,
                quiet_hours={"start": "20:00", "end": "09:00", "tz": "Asia/Shanghai"},
            ),
        ],
        topics=TOPICS,
    )
    assert state.max_per_week == 2
    assert state.personalisation is False
    assert state.quiet_hours["start"] == "20:00"


def test_a_refusal_kept_against_the_identifier_holds_marketing_only():
    from datetime import timedelta

    from consent.contactability import Refusal

    since = datetime(2026, 6, 1, tzinfo=UTC)
    stop = [Refusal(reason="stop", since=since)]
    erased = [Refusal(reason="erased", since=since)]

    # Nobody holds it: everything is blocked, with the refusal as the reason.
    alone = compute(holders=[], topics=TOPICS, identifier_refusals=stop)
    assert alone.permitted_topics == [] and alone.reasons == [Reason.WITHDRAWN]

    before = Holder(
        states={"credit_card": GRANTED},
        granted_at={"credit_card": since - timedelta(days=1)},
    )
    state = compute(holders=[before], topics=TOPICS, identifier_refusals=erased)
    assert state.permitted_topics == ["collections", "repayment_reminder"]
    assert state.topic_reasons["credit_card"] == [Reason.OPT_OUT_ALL]

    after = Holder(
        states={"credit_card": GRANTED},
        granted_at={"credit_card": since + timedelta(days=1)},
        holder_since=since + timedelta(hours=1),
    )
    state = compute(holders=[after], topics=TOPICS, identifier_refusals=stop)
    assert "credit_card" in state.permitted_topics and not state.suppressed
    assert state.topic_reasons["wealth"] == [Reason.WITHDRAWN]

    # A grant made before the holder proved the address does not lift it.
    early = Holder(
        states={"credit_card": GRANTED},
        granted_at={"credit_card": since + timedelta(days=1)},
        holder_since=since + timedelta(days=2),
    )
    state = compute(holders=[early], topics=TOPICS, identifier_refusals=stop)
    assert "credit_card" not in state.permitted_topics
