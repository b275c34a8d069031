"""One-time codes and sign-in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.core.cache import cache
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext

from consent.errors import ApplicationError
from consent.identifiers import guess_kind, mask, normalise
from consent.models import (
    ContactPoint,
    Customer,
)
from preferences.models import (
    OneTimeCode,
)
from preferences.services._common import (
    CODE_TTL,
    MSG_CODE_EXPIRED,
    MSG_CODE_WRONG,
    _check_not_locked,
    _check_send_allowed,
    _fail_keys,
    _register_failure,
)

# --- one-time codes ---


def _code_hash(blind_index: str, code: str) -> str:
    return salted_hmac("preferences.one_time_code", f"{blind_index}:{code}").hexdigest()


@dataclass(frozen=True)
class CodeTarget:
    """An address a code goes to: its kind, normalised value and blind index."""

    kind: str
    normalised: str

    @property
    def blind_index(self) -> str:
        return ContactPoint.index_for(self.kind, self.normalised)

    @property
    def masked(self) -> str:
        return mask(self.kind, self.normalised)

    @classmethod
    def parse(cls, raw: str, kind: str | None = None) -> CodeTarget:
        """Raises ValidationError (invalid phone or e-mail) before anything is sent."""
        kind = kind or guess_kind(raw)
        return cls(kind=kind, normalised=normalise(kind, raw))


def one_time_code_issue(
    *,
    purpose: str,
    target: CodeTarget,
    ip: str | None,
    deliver: bool = True,
    contact_point: ContactPoint | None = None,
    confirm_url: str = "",
) -> None:
    """Count the request against the throttles, then (if ``deliver``) store a fresh
    code's hash and send the code. Callers pass ``deliver=False`` for addresses that
    may not sign in, so the answer looks the same either way. ``ip`` None: the bank
    asks on its own (counted against the address only). ``confirm_url``: the message
    asks to confirm the address and offers the link beside the code."""
    blind_index = target.blind_index
    _check_send_allowed(blind_index, ip)
    if not deliver:
        return
    code = f"{secrets.randbelow(10**6):06d}"
    now = timezone.now()
    OneTimeCode.objects.filter(
        blind_index=blind_index, purpose=purpose, used_at__isnull=True
    ).update(expires_at=now)
    OneTimeCode.objects.create(
        purpose=purpose,
        blind_index=blind_index,
        contact_point=contact_point,
        code_hash=_code_hash(blind_index, code),
        created_at=now,
        expires_at=now + CODE_TTL,
    )
    from consent.tasks import send_message_task

    if confirm_url:
        subject = gettext("Please confirm your contact details")
        body = gettext(
            "This address was added to your bank record. No marketing is sent to "
            "it until you confirm it. Your code is %(code)s (valid for 10 minutes), "
            "or open this link: %(url)s . Never share them. If this is not you, "
            "ignore this message."
        ) % {"code": code, "url": confirm_url}
    else:
        subject = gettext("Your verification code")
        body = gettext(
            "Your verification code is %(code)s. It is valid for 10 minutes. "
            "Never share it. If you did not ask for it, ignore this message."
        ) % {"code": code}
    send_message_task.delay(
        to=target.normalised,
        kind=target.kind,
        subject=subject,
        body=body,
        purpose=f"otp_{purpose}",
    )


def one_time_code_check(
    *, purpose: str, blind_index: str, code: str, ip: str
) -> OneTimeCode:
    """Use up the current code for this address, or count a wrong attempt."""
    _check_not_locked(blind_index, ip)
    now = timezone.now()
    expected = _code_hash(blind_index, (code or "").strip())
    rows = OneTimeCode.objects.filter(
        blind_index=blind_index, purpose=purpose, used_at__isnull=True
    ).order_by("-created_at")[:3]
    for row in rows:
        if not constant_time_compare(row.code_hash, expected):
            continue
        if row.expires_at <= now:
            _register_failure(blind_index, ip)
            raise ApplicationError(MSG_CODE_EXPIRED, code="code_expired")
        used = OneTimeCode.objects.filter(pk=row.pk, used_at__isnull=True).update(
            used_at=now
        )
        if used:
            cache.delete(_fail_keys(blind_index, ip)[0])
            return row
    _register_failure(blind_index, ip)
    raise ApplicationError(MSG_CODE_WRONG, code="code_wrong")


def sign_in_start(*, target: CodeTarget, ip: str) -> None:
    """Send a sign-in code if a verified, active address matches. The caller shows the
    same answer whatever happens, so nobody learns who is a customer."""
    may_sign_in = (
        ContactPoint.objects.for_identifier(target.kind, target.normalised)
        .active()
        .filter(
            verified_at__isnull=False,
            removed_at__isnull=True,
            customer__status=Customer.Status.ACTIVE,
        )
        .exists()
    )
    one_time_code_issue(
        purpose=OneTimeCode.Purpose.SIGN_IN, target=target, ip=ip, deliver=may_sign_in
    )


def sign_in_finish(*, blind_index: str, code: str, ip: str) -> list[Customer]:
    """Check the code; return the customers this address lets the holder act for
    (more than one on a shared phone)."""
    one_time_code_check(
        purpose=OneTimeCode.Purpose.SIGN_IN, blind_index=blind_index, code=code, ip=ip
    )
    return list(
        Customer.objects.filter(
            status=Customer.Status.ACTIVE,
            contact_points__blind_index=blind_index,
            contact_points__status=ContactPoint.Status.ACTIVE,
            contact_points__verified_at__isnull=False,
            contact_points__removed_at__isnull=True,
        )
        .distinct()
        .order_by("pk")
    )
