from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from backoffice.roles import ALL_ROLES
from backoffice.staff import staff_create


class Command(BaseCommand):
    help = (
        "Create a staff member in one role (complaint_handler, supervisor, "
        "compliance_officer, auditor). Prints a generated password unless one is "
        "given; the staff member enrols an authenticator at first sign-in or with "
        "enrol_totp."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ALL_ROLES)
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password",
            default=None,
            help="Set this password instead of a generated one.",
        )

    def handle(self, *args, **options):
        try:
            user, password = staff_create(
                username=options["username"],
                role=options["role"],
                email=options["email"],
                password=options["password"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Staff member {user.get_username()} ({options['role']})"
            )
        )
        if options["password"] is None:
            self.stdout.write(f"Password: {password}")
        self.stdout.write(
            "Next: sign in at /admin/ and scan the QR code, or run "
            f"`manage.py enrol_totp {user.get_username()}`."
        )
