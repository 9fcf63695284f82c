"""What a service refuses, said once for every entry: a stable code (api/errors.py maps each to its HTTP
status, the pages to their words), a message for people and details for programs."""

from __future__ import annotations

from typing import Any


class Refused(Exception):
    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


def invalid(field: str, message: str) -> Refused:
    """A refused field of a request, named as the client spelt it."""
    return Refused("invalid_parameter", message, {"parameter": field})
