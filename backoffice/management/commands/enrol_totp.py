from __future__ import annotations

import io

import qrcode
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from backoffice import otp


class Command(BaseCommand):
    help = (
        "Give a staff member (or the first superuser) a confirmed authenticator and "
        "backup codes. Prints the otpauth URI, the secret, a QR code and the codes."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Remove the user's existing authenticator first.",
        )
        parser.add_argument(
            "--no-qr", action="store_true", help="Do not draw the QR code."
        )

    def handle(self, *args, **options):
        user = (
            get_user_model()
            .objects.filter(username=options["username"], is_staff=True)
            .first()
        )
        if user is None:
            raise CommandError("No staff user with that username.")
        if otp.has_confirmed_device(user) and not options["replace"]:
            raise CommandError(
                "This user already has an authenticator; use --replace to reset it."
            )
        device, codes = otp.totp_enrol(user=user, replace=options["replace"])
        self.stdout.write(f"otpauth URI: {device.config_url}")
        self.stdout.write(f"Secret (type it into the app): {otp.totp_secret(device)}")
        if not options["no_qr"]:
            qr = qrcode.QRCode(border=1)
            qr.add_data(device.config_url)
            buffer = io.StringIO()
            qr.print_ascii(out=buffer, invert=True)
            self.stdout.write(buffer.getvalue())
        self.stdout.write("Backup codes (each works once):")
        for code in codes:
            self.stdout.write(f"  {code}")
