# Admin registrations for the consent core are being written.
