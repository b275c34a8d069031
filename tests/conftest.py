from __future__ import annotations

import pytest
from django.db import connection
from django.test import TransactionTestCase

from consent import messaging
from consent.ledger import Actor
from consent.models import Channel, Customer, NoticeVersion, Topic
from consent.signals import suspend_append_only_guard


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.MESSAGE_SENDER = "locmem"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LANGUAGE_CODE = "en"
    messaging.outbox.clear()
    _forget_process_caches()
    yield
    messaging.outbox.clear()
    _forget_process_caches()


def _forget_process_caches() -> None:
    """Each test starts from its own database state, not from another test's
    catalogue or API keys kept in memory."""
    from consent import catalogue
    from consent.api.authentication import forget_cached_keys

    catalogue._current = None
    forget_cached_keys()


def _flush_through_append_only_guard(original):
    """Transactional tests end with a flush, which SQLite runs as DELETE FROM; the
    append-only triggers would refuse it. PostgreSQL truncates and needs nothing."""

    def teardown(self):
        with suspend_append_only_guard():
            return original(self)

    return teardown


TransactionTestCase._fixture_teardown = _flush_through_append_only_guard(
    TransactionTestCase._fixture_teardown
)


def pytest_collection_modifyitems(items):
    """Every transactional test restores the migrated data (catalogue, roles) from
    the serialized copy. Mixing serialized and plain flushes on one worker would
    recreate content types under new ids and break the next serialized restore."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        uses_live_db = {"live_server", "transactional_db"} & set(item.fixturenames)
        if marker is None and not uses_live_db:
            continue
        kwargs = dict(marker.kwargs) if marker else {}
        if kwargs.get("transaction") or uses_live_db:
            kwargs.update(transaction=True, serialized_rollback=True)
            item.add_marker(pytest.mark.django_db(**kwargs), append=False)


@pytest.fixture
def tamper(db):
    """Run raw SQL against append-only tables, as an attacker with DB access would."""

    def run(sql: str, params=()):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL session_replication_role = replica")
                cursor.execute(sql, params)
                cursor.execute("SET LOCAL session_replication_role = DEFAULT")
            else:
                with suspend_append_only_guard():
                    cursor.execute(sql, params)

    return run


@pytest.fixture
def outbox():
    return messaging.outbox


@pytest.fixture
def sms(db) -> Channel:
    return Channel.objects.get(code="sms")


@pytest.fixture
def email_channel(db) -> Channel:
    return Channel.objects.get(code="email")


@pytest.fixture
def credit_card(db) -> Topic:
    return Topic.objects.get(code="credit_card")


@pytest.fixture
def personal_loan(db) -> Topic:
    return Topic.objects.get(code="personal_loan")


@pytest.fixture
def notice_en(db) -> NoticeVersion:
    return NoticeVersion.objects.get(code="marketing", version=1, language="en")


@pytest.fixture
def customer(db) -> Customer:
    from tests.factories import CustomerFactory

    return CustomerFactory()


@pytest.fixture
def customer_actor(customer) -> Actor:
    return Actor.customer(customer)


@pytest.fixture
def phone_point(customer):
    from tests.factories import add_phone

    return add_phone(customer, "13800138000")


# Back office: staff_user(role) and otp_admin_client(user) for any admin test.
from tests.backoffice.fixtures import otp_admin_client, staff_user  # noqa: E402, F401
