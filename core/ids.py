"""Parsing ids that people and platforms hand us."""

from __future__ import annotations

import uuid

from core.errors import InvalidInput


def as_uuid(value: uuid.UUID | str, what: str = "id") -> uuid.UUID:
    """A UUID from a UUID or its text; a sentence naming `what` when it is not one."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput(f"'{value}' is not a valid {what}.") from None
