"""Page arithmetic (webapp/paging.py): which page a list shows, and where its rows start."""

from __future__ import annotations

import pytest

from webapp.paging import Paged, Window, page_window


@pytest.mark.parametrize("total, size, pages", [
    (0, 25, 1),     # an empty list still has one (empty) page
    (1, 25, 1),
    (24, 25, 1),
    (25, 25, 1),    # exactly full: no empty page after it
    (26, 25, 2),
    (50, 25, 2),
    (51, 25, 3),
    (7, 1, 7),
])
def test_pages_round_up_and_an_empty_list_has_one_page(total, size, pages):
    assert page_window(total, 1, size).pages == pages


@pytest.mark.parametrize("requested, page", [(1, 1), (2, 2), (3, 3), (0, 1), (-5, 1), (4, 3), (10**30, 3)])
def test_a_page_out_of_range_shows_the_nearest_one(requested, page):
    window = page_window(51, requested, 25)
    assert (window.page, window.pages, window.total, window.size) == (page, 3, 51, 25)


@pytest.mark.parametrize("requested, offset", [(1, 0), (2, 25), (3, 50), (99, 50)])
def test_the_offset_skips_the_rows_of_the_pages_before(requested, offset):
    assert page_window(51, requested, 25).offset == offset


def test_an_empty_list_starts_at_row_zero_whatever_page_was_asked():
    assert page_window(0, 7, 20) == Window(page=1, pages=1, total=0, size=20)
    assert page_window(0, 7, 20).offset == 0


def test_a_page_holds_at_least_one_row():
    with pytest.raises(ValueError):
        page_window(10, 1, 0)


def test_a_paged_result_reads_its_numbers_from_its_window():
    class Rows(Paged):
        def __init__(self, window):
            self.window = window

    rows = Rows(page_window(60, 2, 25))
    assert (rows.page, rows.pages, rows.total) == (2, 3, 60)
