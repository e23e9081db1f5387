"""Golden cases (the JSON of commission_cases.json) turned into engine dataclasses and run.

Pure: takes the already-parsed JSON (dicts, lists, strings), returns plain data; reading the
file is the caller's job (the golden test, the CLI simulator). Amounts and rates must be JSON
strings: a JSON number arrives as a float and the engine rejects it with a TypeError.

Beyond the shared format, a sale may carry its own "plan" (an object, or null for no plan), so
the simulator can replay a plan change mid-month; without it the case's plan applies.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from webapp.commissions.engine import LineResult, Plan, SaleLine, compute_month


def plan_from_json(data: Mapping[str, Any] | None) -> Plan | None:
    """Build a Plan from a case's "plan" object; None (JSON null) means no plan."""
    if data is None:
        return None
    return Plan(
        base_rate=data.get("base_rate"),
        tiers=tuple(tuple(row) for row in data.get("tiers") or ()),
        tier_mode=data.get("tier_mode"),
        category_rates=data.get("category_rates") or {},
        product_rates=data.get("product_rates") or {},
    )


def _date(value: Any, sale_id: Any) -> datetime.date:
    """Parse an ISO date string (YYYY-MM-DD), naming the sale in the error."""
    if not isinstance(value, str):
        raise TypeError(f"sale {sale_id}: date must be an ISO date string, got {value!r}")
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"sale {sale_id}: date is not an ISO date: {value!r}") from None


def lines_from_case(case: Mapping[str, Any]) -> list[SaleLine]:
    """The case's sales as SaleLines, each under the case's plan unless it names its own."""
    case_plan = plan_from_json(case.get("plan"))
    lines = []
    for sale in case["sales"]:
        plan = plan_from_json(sale["plan"]) if "plan" in sale else case_plan
        lines.append(
            SaleLine(
                id=sale["id"],
                date=_date(sale["date"], sale["id"]),
                amount=sale["amount"],
                sku=sale.get("sku"),
                category=sale.get("category"),
                plan=plan,
            )
        )
    return lines


def results_as_strings(results: Mapping[int, LineResult]) -> dict[str, str]:
    """Commissions keyed and valued as strings, the shape of a case's "expected"."""
    return {str(sale_id): str(result.commission) for sale_id, result in results.items()}


def simulate_case(case: Mapping[str, Any]) -> dict[str, str]:
    """Run one case through the engine: {sale id: "commission"}, in allocation order."""
    return results_as_strings(compute_month(lines_from_case(case)))


def simulate(cases_json: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Run every case of a parsed commission_cases.json: {case name: {sale id: "commission"}}.

    Sale ids are strings, as in the file's "expected", so the output compares to it directly
    and round-trips through JSON.
    """
    out: dict[str, dict[str, str]] = {}
    for case in cases_json["cases"]:
        name = case["name"]
        if name in out:
            raise ValueError(f"two golden cases are named {name!r}")
        out[name] = simulate_case(case)
    return out
