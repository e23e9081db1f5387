"""The API's list shapes: one Page of items with the next cursor, one PageQuery base for the filters."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from webapp.api.directory_schemas import AgentQuery, CustomerQuery
from webapp.api.dispute_schemas import DisputeQuery
from webapp.api.framework import Page, PageQuery
from webapp.api.payout_schemas import PayoutQuery
from webapp.api.plan_schemas import AssignmentQuery
from webapp.api.plandoc_schemas import PlanDocumentPage, PlanDocumentQuery
from webapp.api.schemas import LedgerQuery, ProductQuery, SalePage, SaleQuery
from webapp.api.statement_schemas import StatementPage, StatementQuery


def test_every_list_query_has_the_same_limit_and_cursor():
    for query in (SaleQuery, StatementQuery, ProductQuery, PlanDocumentQuery, PayoutQuery, LedgerQuery,
                  DisputeQuery, CustomerQuery, AgentQuery, AssignmentQuery):
        assert issubclass(query, PageQuery)
        assert query().limit == 50 and query().cursor is None
        with pytest.raises(ValidationError):
            query(limit=101)
        with pytest.raises(ValidationError):
            query(cursor="x" * 121)  # room for a sorted list's cursor (value and id), no more


def test_list_queries_refuse_unknown_parameters():
    # The product list too, since the document lists its parameters exactly (issue 17 item 4):
    # schemathesis's stateful run sent it an unknown one and got 200 where the document says 4xx.
    with pytest.raises(ValidationError):
        SaleQuery.model_validate({"stauts": "pending"})
    with pytest.raises(ValidationError):
        StatementQuery.model_validate({"agent": "1"})
    with pytest.raises(ValidationError):
        PlanDocumentQuery.model_validate({"status": "pending"})
    with pytest.raises(ValidationError):
        ProductQuery.model_validate({"whatever": "1"})


def test_pages_keep_their_own_names_and_answer_items_then_the_cursor():
    for page, name in ((SalePage, "SalePage"), (StatementPage, "StatementPage"),
                       (PlanDocumentPage, "PlanDocumentPage")):
        assert issubclass(page, Page)
        assert page.model_json_schema()["title"] == name
        assert list(page.model_fields)[:2] == ["items", "next_cursor"]  # then a list's own (a total)
    assert list(StatementPage(items=[], next_cursor="abc").model_dump()) == ["items", "next_cursor"]
