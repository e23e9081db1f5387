"""Free-text fields of request bodies, with the plain-text rule stated in the OpenAPI document
(and other rules a service enforces that a schema keyword can state, such as a non-zero amount).

The services refuse control characters (and in one-line values line breaks and direction marks)
with a message naming the character (webapp.formtools.plain_text_problem), after trimming the
surrounding whitespace. Each text field's schema carries the same rule as a `pattern`, so the
document says which strings are taken: any text, optionally between whitespace the service trims,
with none of the refused characters in between (and, for a required value, something other than
whitespace). The pattern is only documented: the service's check, with its clearer message, is
what enforces it.
"""

from __future__ import annotations

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


class Documented:
    """Adds keywords to a value's JSON schema, leaving validation to the service (which says what
    is wrong more clearly than a pattern could)."""

    def __init__(self, **keywords):
        """The keywords to add."""
        self.keywords = keywords

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict:
        """The value's schema with the keywords."""
        return {**handler(core_schema), **self.keywords}


def exactly_one(**alternatives: dict) -> dict:
    """A body's JSON schema keywords: exactly one of the named fields holds a value meeting its
    schema, the others being left out or null (the service refuses neither, and both)."""
    return {"oneOf": [{"required": [name], "properties": {name: schema, **{
        other: {"type": "null"} for other in alternatives if other != name}}} for name, schema in alternatives.items()]}


# What a trimmed value looks like around its text (the services strip it).
AROUND = f"[{TRIMMED}]*"
# A cursor as the API makes them (base64url); anything else is refused beside `cursor`.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]*$"
# A search in a query string: any text but NUL (refused app-wide, 400), not only whitespace.
SEARCH_PATTERN = f"^{AROUND}[^\\x00{TRIMMED}][^\\x00]*$"
# A category code (as the categories have them; an unknown one is refused beside the field).
CATEGORY_CODE = Documented(pattern=r"^[a-z0-9_]{2,40}$")
# A SKU as the catalogue takes it, between whitespace it trims.
SKU = Documented(pattern=f"^{AROUND}[A-Za-z0-9][A-Za-z0-9._-]{{0,39}}{AROUND}$")
# A share: a percent above 0 and at most 100, at most four decimals, optionally followed by "%";
# only whitespace is the same as leaving it out.
_PERCENT_TEXT = f"(([0-9]{{1,2}}|0[0-9]{{2}})(\\.[0-9]{{1,4}})?|100(\\.0{{1,4}})?){AROUND}(%{AROUND})?"
_ZERO_SHARE = {"not": {"pattern": f"^{AROUND}0+(\\.0+)?{AROUND}(%{AROUND})?$"}}
SHARE = Documented(pattern=f"^{AROUND}({_PERCENT_TEXT})?$", **_ZERO_SHARE)
# A co-agent's share: the same, but required.
CO_SHARE = Documented(pattern=f"^{AROUND}{_PERCENT_TEXT}$", **_ZERO_SHARE)
# A percent of 0 to 100 with at most four decimals (what the engine takes as a rate), exactly: with
# up to three digits before the point (a SPIFF's percent), or eleven (a plan's rate, as its amounts).
PERCENT_0_TO_100 = Documented(pattern=r"^(([0-9]{1,2}|0[0-9]{2})(\.[0-9]{1,4})?|100(\.0{1,4})?)$")
RATE_0_TO_100 = Documented(pattern=r"^(0{0,9}[0-9]{1,2}(\.[0-9]{1,4})?|0{0,8}100(\.0{1,4})?)$")
# An amount the services refuse when it is zero ("0", "0.00", "-0"): stated as `not` that.
NOT_ZERO = Documented(**{"not": {"pattern": r"^-?0*(\.0*)?$"}})


def stripped_non_blank(value: str) -> str:
    """The text without surrounding whitespace; refused when nothing else is left."""
    if not value.strip():
        raise ValueError("Enter some text, not only spaces.")
    return value.strip()


def text(max_length: int, *, multiline: bool = False, required: bool = True, trim: bool = False):
    """A free-text field of at most `max_length` characters as sent, one line unless `multiline`;
    `required`: it must hold something other than whitespace; `trim`: the view gets it without
    its surrounding whitespace (the length is checked before, so the document's limit is exact)."""
    documented = Documented(pattern=plain_text_pattern(multiline=multiline, required=required))
    constraints = StringConstraints(min_length=1 if required else 0, max_length=max_length)
    if trim:
        return Annotated[str, constraints, AfterValidator(stripped_non_blank), documented]
    return Annotated[str, constraints, documented]
