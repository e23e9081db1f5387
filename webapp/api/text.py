"""Free-text fields of request bodies, with the plain-text rule stated in the OpenAPI document.

The services refuse control characters (and in one-line values line breaks and direction marks)
with a message naming the character (webapp.formtools.plain_text_problem), after trimming the
surrounding whitespace. Each text field's schema carries the same rule as a `pattern`, so the
document says which strings are taken: any text, optionally between whitespace the service trims,
with none of the refused characters in between (and, for a required value, something other than
whitespace). The pattern is only documented: the service's check, with its clearer message, is
what enforces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, GetJsonSchemaHandler, StringConstraints
from pydantic_core import CoreSchema

from webapp.formtools import MULTI_LINE_REFUSED, ONE_LINE_REFUSED

# What str.strip() removes (every character whose isspace() is true): the services trim it.
TRIMMED = (r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000")


def plain_text_pattern(*, multiline: bool, required: bool) -> str:
    """The pattern of a text field: trimmed whitespace, then text without a refused character
    (starting with something else than whitespace when a value is required), then whitespace."""
    refused = MULTI_LINE_REFUSED if multiline else ONE_LINE_REFUSED
    first = f"[^{refused}{TRIMMED}]" if required else ""
    return f"^[{TRIMMED}]*{first}[^{refused}]*[{TRIMMED}]*$"


@dataclass(frozen=True)
class _Documented:
    """Adds a pattern to a string's JSON schema, leaving validation to the service."""

    pattern: str

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict:
        """The string's schema with the pattern."""
        schema = handler(core_schema)
        schema["pattern"] = self.pattern
        return schema


def stripped_non_blank(value: str) -> str:
    """The text without surrounding whitespace; refused when nothing else is left."""
    if not value.strip():
        raise ValueError("Enter some text, not only spaces.")
    return value.strip()


def text(max_length: int, *, multiline: bool = False, required: bool = True, trim: bool = False):
    """A free-text field of at most `max_length` characters as sent, one line unless `multiline`;
    `required`: it must hold something other than whitespace; `trim`: the view gets it without
    its surrounding whitespace (the length is checked before, so the document's limit is exact)."""
    documented = _Documented(plain_text_pattern(multiline=multiline, required=required))
    constraints = StringConstraints(min_length=1 if required else 0, max_length=max_length)
    if trim:
        return Annotated[str, constraints, AfterValidator(stripped_non_blank), documented]
    return Annotated[str, constraints, documented]
