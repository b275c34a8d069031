"""The project's own error for business rules that are not field validation."""

from __future__ import annotations


class ApplicationError(Exception):
    """A well-formed request that a rule refuses (the message is safe to show)."""

    def __init__(
        self, message, *, code: str = "not_allowed", extra: dict | None = None
    ):
        super().__init__(str(message))
        self.message = message
        self.code = code
        self.extra = extra or {}
