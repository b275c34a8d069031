"""Bulk synthetic customers for load tests and benchmarks, written consistently.

Everything a service would write is written, one batch per transaction under the
ledger head lock (live writers interleave between batches): customers, encrypted
contact points with blind indexes, hash-chained ledger rows continuing from the
head, the consent projection, opt-outs, the contactability keys (computed by
``consent.contactability.compute``) and one feed row per key. ``verify_ledger`` and
``rebuild_consent_state`` agree with the result. On PostgreSQL rows go in with COPY;
elsewhere with ``bulk_create`` in batches.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from consent import check_keys, contactability, crypto, hooks
from consent.ledger import canonical_payload, lock_head, row_hash
from consent.models import (
    Channel,
    ConsentEvent,
    ConsentState,
    Contactability,
    ContactPoint,
    Customer,
    NoticeVersion,
    OptOut,
    SuppressionChange,
    Topic,
)

ACTOR = "system:seed_customers"
EVIDENCE = {"request_id": "seed-customers"}
SOURCE = ConsentEvent.Source.IMPORT
# Shares chosen so that about 30% of the keys end up suppressed.
GRANT_SHARE = 0.78
EMAIL_SHARE = 0.6
OPT_OUT_SHARE = 0.10
WITHDRAW_SHARE = 0.05


@dataclass
class _Event:
    """The ledger fields ``canonical_payload`` reads, without a model instance."""

    id: int
    seq: int
    customer_id: int
    action: str
    occurred_at: datetime
    recorded_at: datetime
    contact_point_id: int | None = None
    channel_id: int | None = None
    topic_id: int | None = None
    notice_version_id: int | None = None
    source: str = SOURCE
    actor: str = ACTOR
    evidence: dict = field(default_factory=lambda: dict(EVIDENCE))
    detail: dict | None = None
    prev_hash: str = ""
    hash: str = ""


@dataclass
class _Batch:
    customers: list = field(default_factory=list)
    points: list = field(default_factory=list)
    events: list = field(default_factory=list)
    states: list = field(default_factory=list)
    opt_outs: list = field(default_factory=list)
    keys: list = field(default_factory=list)
    changes: list = field(default_factory=list)


class _Ids:
    """Reserve a block of primary keys up front (rows reference each other)."""

    @staticmethod
    def reserve(model, count: int) -> int:
        table = model._meta.db_table
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
                (sequence,) = cursor.fetchone()
                cursor.execute("SELECT nextval(%s)", [sequence])
                (start,) = cursor.fetchone()
                cursor.execute("SELECT setval(%s, %s)", [sequence, start + count])
                return start
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")  # noqa: S608
            return cursor.fetchone()[0]


class Command(BaseCommand):
    help = "Create N synthetic customers with consents, keys and feed rows (bulk)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--count", type=int, required=True)
        parser.add_argument("--batch", type=int, default=10_000)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--quiet", action="store_true", help="No progress bar.")

    def handle(self, *args, count: int, batch: int, seed: int, quiet: bool, **options):
        self.rng = random.Random(seed)
        self._catalogue()
        self._computed: dict = {}
        self.postgres = connection.vendor == "postgresql"
        # One transaction per batch, each taking the ordering lock only for its own
        # rows: live writers interleave between batches instead of waiting for the
        # whole load.
        done = 0
        bar = tqdm(total=count, unit="customer", disable=quiet)
        while done < count:
            size = min(batch, count - done)
            with transaction.atomic():
                head = lock_head()
                self._skip_row_triggers()
                self.head = head
                self._write(self._build(size))
                head.save(update_fields=["ledger_seq", "ledger_hash", "feed_seq"])
            done += size
            bar.update(size)
        bar.close()
        if self.postgres:
            # Fresh statistics, or the planner guesses on millions of new rows.
            with connection.cursor() as cursor:
                for model in (Contactability, SuppressionChange, ContactPoint):
                    cursor.execute(f"ANALYZE {model._meta.db_table}")
        self.stdout.write(
            f"Seeded {count} customers; ledger at {head.ledger_seq}, "
            f"feed at {head.feed_seq}."
        )

    def _skip_row_triggers(self) -> None:
        """On PostgreSQL, load like pg_restore --disable-triggers when allowed: the rows
        are consistent by construction (ids reserved up front), and per-row foreign
        key checks would otherwise take most of the run. Without the privilege the
        checks simply run."""
        if not self.postgres:
            return
        from django.db import DatabaseError

        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")
        except DatabaseError:
            self.stderr.write("Foreign keys checked row by row (not a superuser).")

    # --- building ----------------------------------------------------------------

    def _catalogue(self) -> None:
        channels = {c.code: c for c in Channel.objects.filter(is_active=True)}
        self.phone_channels = [
            c for c in channels.values() if c.address_kind == "phone"
        ]
        self.email_channels = [
            c for c in channels.values() if c.address_kind == "email"
        ]
        self.marketing = list(Topic.objects.filter(is_active=True, kind="marketing"))
        self.topic_infos = [
            contactability.TopicInfo(t.code, t.is_marketing, t.held_by_care_pause)
            for t in Topic.objects.filter(is_active=True)
        ]
        self.bits = dict(
            Topic.objects.filter(is_active=True).values_list("code", "bit")
        )
        self.topic_codes = {t.pk: t.code for t in self.marketing}
        self.notices = {
            n.language: n.pk
            for n in NoticeVersion.objects.filter(code="marketing").order_by("-version")
        }

    def _event(self, batch: _Batch, now: datetime, **fields) -> _Event:
        head = self.head
        event = _Event(
            id=self.next_event_id,
            seq=head.ledger_seq + 1,
            occurred_at=now,
            recorded_at=now,
            prev_hash=head.ledger_hash,
            **fields,
        )
        event.hash = row_hash(event.prev_hash, canonical_payload(event))
        head.ledger_seq, head.ledger_hash = event.seq, event.hash
        self.next_event_id += 1
        batch.events.append(event)
        return event

    def _build(self, size: int) -> _Batch:
        rng, now, batch = self.rng, timezone.now(), _Batch()
        emails = [rng.random() < EMAIL_SHARE for _ in range(size)]
        n_points = size + sum(emails)
        customer_id = _Ids.reserve(Customer, size)
        point_id = _Ids.reserve(ContactPoint, n_points)
        # Upper bound: an add per point, a grant per channel and topic, two more.
        max_events = n_points + size * (len(self.phone_channels) + 1) * 3 + size * 2
        self.next_event_id = _Ids.reserve(ConsentEvent, max_events)
        key_id = _Ids.reserve(
            Contactability, size * len(self.phone_channels) + n_points
        )
        for i in range(size):
            cid = customer_id + i
            language = "en" if rng.random() < 0.2 else "zh-hans"
            batch.customers.append((cid, f"SEED{cid:09d}", language, now))
            points = [("phone", f"+8613{cid:09d}", self.phone_channels)]
            if emails[i]:
                points.append(("email", f"seed{cid}@example.com", self.email_channels))
            states: dict[tuple[int, int], list] = {}
            point_rows = []
            for kind, address, channels in points:
                bi = ContactPoint.index_for(kind, address)
                batch.points.append(
                    (point_id, cid, kind, crypto.encrypt(address), bi, now)
                )
                point_rows.append((address, bi, channels))
                self._event(
                    batch,
                    now,
                    customer_id=cid,
                    contact_point_id=point_id,
                    action=ConsentEvent.Action.CONTACT_ADDED,
                )
                point_id += 1
                for channel in channels:
                    if rng.random() >= GRANT_SHARE:
                        continue
                    for topic in rng.sample(self.marketing, rng.randint(1, 3)):
                        event = self._event(
                            batch,
                            now,
                            customer_id=cid,
                            channel_id=channel.pk,
                            topic_id=topic.pk,
                            action=ConsentEvent.Action.GRANT,
                            notice_version_id=self.notices.get(language),
                        )
                        states[(channel.pk, topic.pk)] = ["granted", event]
            if states and rng.random() < WITHDRAW_SHARE:
                channel_id, topic_id = rng.choice(sorted(states))
                event = self._event(
                    batch,
                    now,
                    customer_id=cid,
                    channel_id=channel_id,
                    topic_id=topic_id,
                    action=ConsentEvent.Action.WITHDRAW,
                )
                states[(channel_id, topic_id)] = ["withdrawn", event]
            opted_out = rng.random() < OPT_OUT_SHARE
            if opted_out:
                event = self._event(
                    batch, now, customer_id=cid, action=ConsentEvent.Action.OPT_OUT_ALL
                )
                batch.opt_outs.append((cid, event.id, now))
                for value in states.values():
                    if value[0] == "granted":
                        value[:] = ["withdrawn", event]
            for (channel_id, topic_id), (status, event) in states.items():
                batch.states.append(
                    (cid, channel_id, topic_id, status, SOURCE, event.id, now)
                )
            for address, bi, channels in point_rows:
                for channel in channels:
                    per_topic = tuple(
                        sorted(
                            (self.topic_codes[t], (status, SOURCE))
                            for (ch, t), (status, _e) in states.items()
                            if ch == channel.pk
                        )
                    )
                    state = self._compute(opted_out, per_topic)
                    self.head.feed_seq += 1
                    batch.keys.append(
                        (
                            key_id,
                            address,
                            bi,
                            channel.pk,
                            state,
                            self.head.feed_seq,
                            now,
                        )
                    )
                    key_id += 1
        return batch

    def _compute(self, opted_out: bool, per_topic: tuple) -> contactability.KeyState:
        """compute() is pure; customers fall into few patterns, so remember them."""
        cache_key = (opted_out, per_topic)
        state = self._computed.get(cache_key)
        if state is None:
            holder = contactability.Holder(
                opted_out=opted_out,
                states=dict(per_topic),
                quiet_hours=hooks.registry.default_preferences.quiet_hours,
            )
            state = contactability.compute(holders=[holder], topics=self.topic_infos)
            self._computed[cache_key] = state
        return state

    # --- writing -----------------------------------------------------------------

    def _write(self, batch: _Batch) -> None:
        if self.postgres:
            self._copy(batch)
        else:
            self._bulk_create(batch)

    def _copy(self, batch: _Batch) -> None:
        import json

        encoded: dict[int, tuple] = {}

        def key_fields(state):
            # States are shared by many keys (see _compute): encode each once.
            hit = encoded.get(id(state))
            if hit is None:
                hit = encoded[id(state)] = encode(state)
            return hit

        def encode(state):
            return (
                state.suppressed,
                json.dumps(state.permitted_topics),
                json.dumps(state.reasons),
                json.dumps(state.topic_reasons),
                state.paused_until,
                json.dumps(state.quiet_hours) if state.quiet_hours else None,
                state.max_per_week,
                state.personalisation,
            )

        state_cols = (
            "suppressed, permitted_topics, reasons, topic_reasons, paused_until, "
            "quiet_hours, max_per_week, personalisation"
        )
        tables = [
            (
                "consent_customer",
                "id, external_ref, display_name_encrypted, preferred_language, status, "
                "created_at",
                (
                    (c, ref, "", lang, "active", at)
                    for c, ref, lang, at in batch.customers
                ),
            ),
            (
                "consent_contactpoint",
                "id, customer_id, kind, address_encrypted, blind_index, status, "
                "verified_at, created_at",
                (
                    (p, c, k, enc, bi, "active", at, at)
                    for p, c, k, enc, bi, at in batch.points
                ),
            ),
            (
                "consent_consentevent",
                "id, seq, customer_id, contact_point_id, channel_id, topic_id, action, "
                "source, actor, notice_version_id, evidence, occurred_at, recorded_at, "
                "prev_hash, hash",
                (
                    (
                        e.id,
                        e.seq,
                        e.customer_id,
                        e.contact_point_id,
                        e.channel_id,
                        e.topic_id,
                        e.action,
                        e.source,
                        e.actor,
                        e.notice_version_id,
                        json.dumps(e.evidence),
                        e.occurred_at,
                        e.recorded_at,
                        e.prev_hash,
                        e.hash,
                    )
                    for e in batch.events
                ),
            ),
            (
                "consent_consentstate",
                "customer_id, channel_id, topic_id, status, source, event_id, "
                "updated_at",
                iter(batch.states),
            ),
            ("consent_optout", "customer_id, event_id, since", iter(batch.opt_outs)),
            (
                "consent_contactability",
                f"id, identifier, blind_index, channel_id, {state_cols}, seq, "
                "updated_at",
                (
                    (k, ident, bi, ch, *key_fields(s), seq, at)
                    for k, ident, bi, ch, s, seq, at in batch.keys
                ),
            ),
            (
                "consent_suppressionchange",
                f"seq, key_id, channel_id, {state_cols}, created_at",
                (
                    (seq, k, ch, *key_fields(s), at)
                    for k, _i, _b, ch, s, seq, at in batch.keys
                ),
            ),
            (
                "consent_checkkey",
                "channel_id, digest, permitted, held, reasons, quiet_start, quiet_end, "
                "quiet_tz, max_per_week",
                (
                    (
                        c.channel_id,
                        c.digest,
                        c.permitted,
                        c.held,
                        c.reasons,
                        c.quiet_start,
                        c.quiet_end,
                        c.quiet_tz,
                        c.max_per_week,
                    )
                    for c in self._check_rows(batch)
                ),
            ),
        ]
        with connection.cursor() as cursor:
            for table, columns, rows in tables:
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)

    def _check_rows(self, batch: _Batch):
        for _k, _i, bi, ch, state, _seq, _at in batch.keys:
            yield check_keys.pack(
                channel_id=ch, blind_index=bi, state=state, bits=self.bits
            )

    def _bulk_create(self, batch: _Batch) -> None:
        Customer.objects.bulk_create(
            Customer(id=c, external_ref=ref, preferred_language=lang, created_at=at)
            for c, ref, lang, at in batch.customers
        )
        ContactPoint.objects.bulk_create(
            ContactPoint(
                id=p,
                customer_id=c,
                kind=k,
                address_encrypted=enc,
                blind_index=bi,
                verified_at=at,
                created_at=at,
            )
            for p, c, k, enc, bi, at in batch.points
        )
        ConsentEvent.objects.bulk_create(
            (
                ConsentEvent(
                    id=e.id,
                    seq=e.seq,
                    customer_id=e.customer_id,
                    contact_point_id=e.contact_point_id,
                    channel_id=e.channel_id,
                    topic_id=e.topic_id,
                    action=e.action,
                    source=e.source,
                    actor=e.actor,
                    notice_version_id=e.notice_version_id,
                    evidence=e.evidence,
                    occurred_at=e.occurred_at,
                    recorded_at=e.recorded_at,
                    prev_hash=e.prev_hash,
                    hash=e.hash,
                )
                for e in batch.events
            ),
            batch_size=2000,
        )
        ConsentState.objects.bulk_create(
            (
                ConsentState(
                    customer_id=c,
                    channel_id=ch,
                    topic_id=t,
                    status=st,
                    source=src,
                    event_id=ev,
                    updated_at=at,
                )
                for c, ch, t, st, src, ev, at in batch.states
            ),
            batch_size=2000,
        )
        OptOut.objects.bulk_create(
            OptOut(customer_id=c, event_id=ev, since=at) for c, ev, at in batch.opt_outs
        )
        Contactability.objects.bulk_create(
            (
                Contactability(
                    id=k,
                    identifier=ident,
                    blind_index=bi,
                    channel_id=ch,
                    seq=seq,
                    updated_at=at,
                    **s.as_fields(),
                )
                for k, ident, bi, ch, s, seq, at in batch.keys
            ),
            batch_size=2000,
        )
        SuppressionChange.objects.bulk_create(
            (
                SuppressionChange(
                    seq=seq, key_id=k, channel_id=ch, created_at=at, **s.as_fields()
                )
                for k, _i, _b, ch, s, seq, at in batch.keys
            ),
            batch_size=2000,
        )
        check_keys.write(list(self._check_rows(batch)))
