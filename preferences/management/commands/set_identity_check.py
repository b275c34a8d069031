from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from consent.models import Customer


class Command(BaseCommand):
    help = (
        "Store the facts asked of a customer who shares a phone number or e-mail "
        "address (last four characters of the ID document number, date of birth), "
        "encrypted. Banks load them from their customer records."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customer", required=True, help="customer reference")
        parser.add_argument("--id-tail", default="", help="last four characters")
        parser.add_argument("--birth-date", default="", help="YYYY-MM-DD")

    def handle(self, *args, customer: str, id_tail: str, birth_date: str, **options):
        from preferences.portal_actions import identity_check_set

        found = Customer.objects.filter(external_ref=customer).first()
        if found is None:
            raise CommandError("No customer with this reference.")
        if not id_tail and not birth_date:
            raise CommandError("Give --id-tail or --birth-date (or both).")
        try:
            born = date.fromisoformat(birth_date) if birth_date else None
            identity_check_set(customer=found, id_number_tail=id_tail, birth_date=born)
        except ValueError as exc:
            raise CommandError("--birth-date reads YYYY-MM-DD.") from exc
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS("Stored, encrypted."))
