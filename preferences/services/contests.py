"""A customer contests a "not me" flag someone else put on their address.

The customer proves with a code that they hold the address; that opens a task for
staff (a ``NotMeReport`` with ``contested_by``) and changes nothing yet: the person
who said "not me" had proved it too. Staff accept (the restore then goes through
four-eyes approval, like every clearing of the flag) or reject.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent.errors import ApplicationError
from consent.models import ContactPoint
from preferences.models import NotMeReport
from preferences.services._common import MSG_REQUEST_DONE

MSG_CONTEST_OPEN = _(
    "You already told us this is yours. Bank staff are checking it; you do not "
    "need to do anything."
)
MSG_NOT_A_CONTEST = _("This report is not a contest by a customer.")


def not_me_contest_open_for(*, contact_point: ContactPoint) -> NotMeReport | None:
    return NotMeReport.objects.filter(
        contact_point=contact_point, reviewed_at__isnull=True
    ).first()


@transaction.atomic
def not_me_contest_open(*, contact_point: ContactPoint) -> NotMeReport:
    """Open the staff task (the caller checked the customer's code)."""
    ContactPoint.objects.select_for_update().filter(pk=contact_point.pk).first()
    if not_me_contest_open_for(contact_point=contact_point) is not None:
        raise ApplicationError(MSG_CONTEST_OPEN, code="contest_open")
    return NotMeReport.objects.create(
        kind=contact_point.kind,
        blind_index=contact_point.blind_index,
        masked=contact_point.masked,
        contact_points=1,
        contested_by=contact_point.customer,
        contact_point=contact_point,
    )


@transaction.atomic
def not_me_contest_decide(
    *, report: NotMeReport, staff_user, decision: str
) -> NotMeReport:
    """Record the staff decision on a contest; it can be taken once."""
    report = NotMeReport.objects.select_for_update().get(pk=report.pk)
    if report.contested_by_id is None:
        raise ApplicationError(MSG_NOT_A_CONTEST, code="not_a_contest")
    if report.reviewed_at is not None:
        raise ApplicationError(MSG_REQUEST_DONE, code="already_processed")
    report.decision = NotMeReport.Decision(decision)
    report.reviewed_at = timezone.now()
    report.reviewed_by = staff_user.get_username()
    report.save(update_fields=["decision", "reviewed_at", "reviewed_by"])
    return report
