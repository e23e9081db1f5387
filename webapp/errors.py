"""Domain errors raised by services and turned into field messages by routes, and `get_or_404`,
the one way to load a row by id that must exist."""

from __future__ import annotations

from typing import Any, TypeVar

from webapp.extensions import db

Row = TypeVar("Row")

# Codes of the rules most worth telling apart in a program (the API documents each).
CLOSED_PERIOD = "closed_period"
FOUR_EYES = "four_eyes"
NOT_SELLABLE = "not_sellable"


class ServiceError(Exception):
    """A request the service refuses, with a message for the user and the field it concerns.

    `code` names the rule for programs (the API's error code, e.g. CLOSED_PERIOD); None: the
    status's generic code."""

    def __init__(self, message: str, field: str | None = None, status: int = 422, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status
        self.code = code


class FieldErrors(ServiceError):
    """Several refusals of one request, each naming its field: a form shows each beside its field
    and the API names them all; the first gives the message and the status."""

    def __init__(self, errors: list[ServiceError]):
        first = errors[0]
        super().__init__(first.message, first.field, first.status, first.code)
        self.errors = list(errors)


class NotFound(ServiceError):
    """The object does not exist or is not visible to this user (both answer 404)."""

    def __init__(self, message: str = "Not found."):
        super().__init__(message, status=404)


def get_or_404(model: type[Row], ident: Any, *, fresh_lock: bool = False, **options: Any) -> Row:
    """The `model` row whose primary key is `ident`, else NotFound (a 404 page, or the API's 404).

    An id that is not an int (None, a bool, text from a form or a JSON body) names no row: it is
    not found without a query. `options` go to Session.get (e.g. with_for_update=True);
    `fresh_lock`: row-locked and read afresh under the lock, so a change checked against what was
    read (If-Match) is not overtaken by another.
    """
    if not isinstance(ident, int) or isinstance(ident, bool):
        raise NotFound()
    if fresh_lock:
        options.update(with_for_update=True, populate_existing=True)
    row = db.session.get(model, ident, **options)
    if row is None:
        raise NotFound()
    return row
