"""Staff never create a marketing grant on their own.

A grant entered by staff (a four-eyes restore, an import row, a call-centre or
branch record) stands only for an act of the customer's own, so it needs:

- evidence of that act: a recorded call reference together with the notice version
  read out to the customer, or the reference of a form the customer signed;
- a second staff member who approved it (not the one who entered it);
- no withdrawal of that key by the customer through a self-service channel (portal,
  SMS reply, one-click e-mail, WeChat, a sending system's event) in the last
  ``STAFF_GRANT_REFUSED_AFTER_WITHDRAWAL_DAYS`` days: what the customer said
  themselves is not overturned by what staff say the customer said.

``consent_grant`` calls :func:`staff_grant_check` for every staff-entered source, so
no path can skip it; request forms and import parsing call the same rule early
(:func:`staff_grant_problems`) to report it before anything is queued.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence
from consent.models import Channel, ConsentEvent, Customer, NoticeVersion, Topic

Source = ConsentEvent.Source

STAFF_ENTERED_SOURCES = frozenset(
    {Source.STAFF, Source.IMPORT, Source.CALL_CENTRE, Source.BRANCH}
)
SELF_SERVICE_SOURCES = frozenset(
    {Source.PORTAL, Source.ONE_CLICK, Source.SMS_KEYWORD, Source.WECHAT, Source.API}
)

# Evidence keys (kept in the ledger row's evidence).
ACT = "customer_act"
ACT_REF = "customer_act_ref"
NOTICE_READ_OUT = "notice_read_out"
APPROVED_BY = "approved_by"

RECORDED_CALL = "recorded_call"
SIGNED_FORM = "signed_form"
ACT_CHOICES = (
    (RECORDED_CALL, _("Recorded call (reference and the notice read out)")),
    (SIGNED_FORM, _("Form signed by the customer (reference)")),
)

MSG_ACT_REQUIRED = _(
    "A grant entered by staff needs evidence of the customer's own act: a recorded "
    "call reference with the notice version read out, or a signed form reference."
)
MSG_ACT_REF_REQUIRED = _("Give the call recording or signed form reference.")
MSG_NOTICE_READ_OUT = _(
    "For a recorded call, the notice version granted must be the one read out to "
    "the customer."
)
MSG_SECOND_APPROVER = _(
    "A grant entered by staff needs a second staff member's approval."
)
MSG_RECENT_SELF_SERVICE_WITHDRAWAL = _(
    "The customer withdrew this consent themselves (%(source)s, %(date)s), less "
    "than %(days)d days ago; staff cannot switch it back on. Only the customer can, "
    "in the portal."
)


def notice_label(notice_version: NoticeVersion) -> str:
    """How a notice version is named in evidence and import files."""
    return f"{notice_version.code}:{notice_version.version}:{notice_version.language}"


def customer_act_evidence(
    *, act: str, reference: str, notice_version: NoticeVersion | None
) -> tuple[tuple[str, str], ...]:
    """The evidence pairs that record the customer's own act."""
    pairs = [(ACT, act or ""), (ACT_REF, (reference or "").strip())]
    if act == RECORDED_CALL and notice_version is not None:
        pairs.append((NOTICE_READ_OUT, notice_label(notice_version)))
    return tuple(pairs)


def refusal_window() -> timedelta:
    return timedelta(days=settings.STAFF_GRANT_REFUSED_AFTER_WITHDRAWAL_DAYS)


@dataclass(frozen=True)
class SelfServiceWithdrawal:
    channel_id: int | None
    topic_id: int | None
    source: str
    at: datetime

    def covers(self, channel_id: int, topic_id: int) -> bool:
        return self.channel_id in (None, channel_id) and self.topic_id in (
            None,
            topic_id,
        )


def self_service_withdrawals(
    *, customer_ids: Iterable[int], now: datetime | None = None
) -> dict[int, list[SelfServiceWithdrawal]]:
    """Withdrawals (and stops of all marketing) these customers made themselves in
    the refusal window (by when they said it), in one query."""
    since = (now or timezone.now()) - refusal_window()
    rows = ConsentEvent.objects.filter(
        customer_id__in=list(customer_ids),
        action__in=(ConsentEvent.Action.WITHDRAW, ConsentEvent.Action.OPT_OUT_ALL),
        source__in=SELF_SERVICE_SOURCES,
        occurred_at__gte=since,
    )
    out: dict[int, list[SelfServiceWithdrawal]] = {}
    for customer_id, channel_id, topic_id, source, at in rows.values_list(
        "customer_id", "channel_id", "topic_id", "source", "occurred_at"
    ):
        out.setdefault(customer_id, []).append(
            SelfServiceWithdrawal(channel_id, topic_id, source, at)
        )
    return out


def _approver_missing(evidence: Mapping[str, str], actor: Actor | str | None) -> bool:
    approver = (evidence.get(APPROVED_BY) or "").strip()
    if not approver:
        return True
    ident = str(actor or "").split(":", 1)[-1]
    return approver == ident


def staff_grant_problems(
    *,
    customer: Customer,
    channel: Channel,
    topic: Topic,
    notice_version: NoticeVersion | None,
    evidence: Mapping[str, str],
    actor: Actor | str | None = None,
    require_approver: bool = True,
    withdrawals: dict[int, list[SelfServiceWithdrawal]] | None = None,
    now: datetime | None = None,
) -> list[ApplicationError]:
    """Every reason this staff-entered grant is refused (empty: it may be made).
    ``withdrawals`` from :func:`self_service_withdrawals` saves the query when many
    rows are checked at once."""
    problems: list[ApplicationError] = []
    if withdrawals is None:
        withdrawals = self_service_withdrawals(customer_ids=[customer.pk], now=now)
    for withdrawal in withdrawals.get(customer.pk, ()):
        if withdrawal.covers(channel.pk, topic.pk):
            problems.append(
                ApplicationError(
                    MSG_RECENT_SELF_SERVICE_WITHDRAWAL
                    % {
                        "source": Source(withdrawal.source).label,
                        "date": timezone.localtime(withdrawal.at).date().isoformat(),
                        "days": settings.STAFF_GRANT_REFUSED_AFTER_WITHDRAWAL_DAYS,
                    },
                    code="recent_self_service_withdrawal",
                )
            )
            break
    act = evidence.get(ACT, "")
    if act not in (RECORDED_CALL, SIGNED_FORM):
        problems.append(ApplicationError(MSG_ACT_REQUIRED, code="customer_act"))
    elif not (evidence.get(ACT_REF) or "").strip():
        problems.append(ApplicationError(MSG_ACT_REF_REQUIRED, code="customer_act"))
    elif act == RECORDED_CALL and (
        notice_version is None
        or evidence.get(NOTICE_READ_OUT) != notice_label(notice_version)
    ):
        problems.append(ApplicationError(MSG_NOTICE_READ_OUT, code="notice_read_out"))
    if require_approver and _approver_missing(evidence, actor):
        problems.append(
            ApplicationError(MSG_SECOND_APPROVER, code="second_approver_required")
        )
    return problems


def staff_grant_check(
    *,
    customer: Customer,
    channel: Channel,
    topic: Topic,
    notice_version: NoticeVersion | None,
    evidence: Evidence | Mapping[str, str] | None,
    actor: Actor | str | None = None,
    require_approver: bool = True,
    now: datetime | None = None,
) -> None:
    """Refuse (``ApplicationError``, nothing changed) a staff-entered grant that
    breaks the rule in the module docstring."""
    if isinstance(evidence, Evidence):
        evidence = evidence.as_dict()
    problems = staff_grant_problems(
        customer=customer,
        channel=channel,
        topic=topic,
        notice_version=notice_version,
        evidence=evidence or {},
        actor=actor,
        require_approver=require_approver,
        now=now,
    )
    if problems:
        raise problems[0]
