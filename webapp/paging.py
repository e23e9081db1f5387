"""Page arithmetic of the paged lists (my sales, an agent's sales, the review queue, statements,
the audit log): which page to show, and the OFFSET / LIMIT that fetch it.

The query modules use it; the pages pass the page number the URL asked for (web.requested_page)
and the `pager` macro of templates/_ui.html reads the result (.page, .pages).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select

from webapp.extensions import db


@dataclass(frozen=True)
class Window:
    """Page `page` of `pages`, over `total` rows, `size` rows a page."""

    page: int
    pages: int
    total: int
    size: int

    @property
    def offset(self) -> int:
        """How many rows come before this page."""
        return (self.page - 1) * self.size


def page_window(total: int, requested: int, size: int) -> Window:
    """The page to show when page `requested` of `total` rows is asked for: a number below 1 is
    the first page, one past the end the last; an empty list has one (empty) page."""
    if size < 1:
        raise ValueError(f"a page holds at least one row, not {size}")
    pages = max(1, -(-total // size))
    return Window(page=min(max(1, requested), pages), pages=pages, total=total, size=size)


def paginate(query: Select, requested: int, size: int) -> tuple[Window, Select]:
    """Count the rows `query` selects, choose the page (page_window), and the query for its rows."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    window = page_window(total, requested, size)
    return window, query.offset(window.offset).limit(size)


class Paged:
    """A page of a list (a dataclass with a `window` field): the .page, .pages and .total that the
    templates and the pager macro read."""

    window: Window

    @property
    def page(self) -> int:
        """This page's number (from 1)."""
        return self.window.page

    @property
    def pages(self) -> int:
        """How many pages the list has (at least 1)."""
        return self.window.pages

    @property
    def total(self) -> int:
        """How many rows the whole list has."""
        return self.window.total
