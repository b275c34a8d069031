"""Limits, messages and throttles shared by the portal's services."""

from __future__ import annotations

from datetime import timedelta

from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

from consent.errors import ApplicationError

CODE_TTL = timedelta(minutes=10)
CODES_PER_HOUR = 5
WRONG_CODES_BEFORE_LOCK = 5
LOCK_TIME = timedelta(minutes=15)

MSG_TOO_MANY_CODES = _(
    "Too many codes were asked for. Please wait an hour before asking for a new one."
)
MSG_LOCKED = _(
    "Too many wrong codes. For your security, please wait 15 minutes and try again."
)
MSG_CODE_WRONG = _("This code is not correct. Check the latest message and try again.")
MSG_CODE_EXPIRED = _("This code has expired. Ask for a new one.")
MSG_NOTICE_OUTDATED = _(
    "The consent wording has changed since the page was shown. "
    "Please read it again and save."
)
MSG_LAST_VERIFIED = _(
    "You cannot remove your only verified phone number or e-mail address: you need "
    "it to sign in."
)
MSG_PAUSE_END = _("The end date must be after today and within one year.")
MSG_NOK_IDENTIFY = _("Give the customer reference or the phone number or e-mail.")
MSG_NOK_NO_CUSTOMER = _("Choose the customer this report is about first.")
MSG_REQUEST_DONE = _("This request was already processed.")


# --- throttling (cache) ---


def _incr(key: str, timeout: timedelta) -> int:
    cache.add(key, 0, int(timeout.total_seconds()))
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, int(timeout.total_seconds()))
        return 1


def _send_keys(blind_index: str, ip: str | None) -> list[str]:
    """``ip`` None: a request the bank sends on its own (an address staff or an
    import added), counted against the address only."""
    keys = [f"portal:codes:id:{blind_index}"]
    return keys if ip is None else [*keys, f"portal:codes:ip:{ip}"]


def _fail_keys(blind_index: str, ip: str) -> list[str]:
    return [f"portal:fails:id:{blind_index}", f"portal:fails:ip:{ip}"]


def _lock_key(fail_key: str) -> str:
    return fail_key.replace(":fails:", ":lock:")


def _check_send_allowed(blind_index: str, ip: str | None) -> None:
    if any((cache.get(k) or 0) >= CODES_PER_HOUR for k in _send_keys(blind_index, ip)):
        raise ApplicationError(MSG_TOO_MANY_CODES, code="throttled")
    for key in _send_keys(blind_index, ip):
        _incr(key, timedelta(hours=1))


def _check_not_locked(blind_index: str, ip: str) -> None:
    if any(cache.get(_lock_key(k)) for k in _fail_keys(blind_index, ip)):
        raise ApplicationError(MSG_LOCKED, code="locked")


def _register_failure(blind_index: str, ip: str) -> None:
    for key in _fail_keys(blind_index, ip):
        if _incr(key, LOCK_TIME) >= WRONG_CODES_BEFORE_LOCK:
            cache.set(_lock_key(key), 1, int(LOCK_TIME.total_seconds()))
            cache.delete(key)
