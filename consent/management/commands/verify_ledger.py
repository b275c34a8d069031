from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from consent.ledger import GENESIS_HASH, verify_chain
from consent.models import ConsentEvent, LedgerHead


def _pages(size: int = 5000):
    """The ledger in seq order, fetched in keyset pages (no long-lived cursor)."""
    last = 0
    while True:
        page = list(ConsentEvent.objects.filter(seq__gt=last).order_by("seq")[:size])
        yield from page
        if len(page) < size:
            return
        last = page[-1].seq


class Command(BaseCommand):
    help = "Walk the consent ledger's hash chain and report the first broken row."

    def handle(self, *args, **options) -> None:
        checked, broken = verify_chain(_pages())
        if broken is not None:
            raise CommandError(
                f"Ledger broken at seq {broken.seq}: {broken.reason} "
                f"({checked} rows before it are intact)."
            )
        head = LedgerHead.objects.filter(pk=1).first()
        last = ConsentEvent.objects.order_by("-seq").first()
        head_seq = head.ledger_seq if head else 0
        last_hash = last.hash if last else GENESIS_HASH
        if head and (head_seq != checked or head.ledger_hash != last_hash):
            raise CommandError(
                f"Ledger head says seq {head_seq} but the chain ends at {checked}: "
                "rows are missing from the end."
            )
        self.stdout.write(
            self.style.SUCCESS(f"Ledger intact: {checked} rows verified.")
        )
