"""What the API reads in a request body before and after its models: whole numbers (JSON Schema
counts 3.0 and 1e0 as integers, so the API takes them as integers too; its strict models would
refuse a float), and NUL characters (refused in any string)."""

from __future__ import annotations

import decimal
import json
import re
from typing import Any

NUL_MESSAGE = "Remove the NUL character (\\u0000): text cannot hold one."


def whole_numbers_as_integers(raw: bytes) -> bytes:
    """The body with each whole number written with a fraction or exponent (3.0, 1e2) written as an
    integer: JSON Schema counts 3.0 as an integer, so an id or a quantity sent so must be taken, and
    the strict models would refuse it. Bodies hold no other numbers (money and rates are strings)."""
    if not re.search(rb"[0-9][.eE]", raw):
        return raw  # no number with a fraction or exponent: parsed once, as before
    converted = False

    def number(text: str) -> int | float:
        """An integer for a whole number, else the float as written."""
        nonlocal converted
        try:
            value = decimal.Decimal(text)
        except decimal.InvalidOperation:
            return float(text)
        if value.is_finite() and value == value.to_integral_value() and abs(value.adjusted()) < 40:
            converted = True
            return int(value)
        return float(text)

    try:
        data = json.loads(raw, parse_float=number)
    except (ValueError, RecursionError):
        return raw  # not JSON, or nested too deep for Python's parser: pydantic says so (400)
    return json.dumps(data).encode() if converted else raw


def _nul_fields(value: Any, path: str = "") -> dict[str, str]:
    """The paths ("note", "agent_ids.0") of the strings in a parsed body that hold a NUL character.

    JSON allows "\\u0000" in a string but PostgreSQL text cannot store it: the insert failed
    after validation, a 500 for every operation that stores text. No one means to send one."""
    if isinstance(value, str):
        return {path or "body": NUL_MESSAGE} if "\x00" in value else {}
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return {}
    found: dict[str, str] = {}
    for key, item in items:
        found.update(_nul_fields(item, f"{path}.{key}" if path else str(key)))
    return found
