"""Golden cases (commission_cases.json, commission_cases_v2.json) turned into engine dataclasses and run.

Pure: takes the already-parsed JSON (dicts, lists, strings), returns plain data; reading the
file is the caller's job (the golden tests, `flask commissions simulate`). The format is
GOLDEN_FORMAT.md version 2, which only adds optional keys to version 1, so a version-1 file runs
unchanged and gives exactly its old output. Money, rates, percents and shares must be JSON
strings: a JSON number arrives as a float and the engine rejects it with a TypeError.

A key this module does not know is refused (GoldenFormatError), never ignored: a file written for
a later format, or with a typo such as "share", would otherwise simulate something else than its
author meant and could still "pass".

Beyond the shared format, a sale may carry its own "plan" (an object, or null for no plan), so
the simulator can replay a plan change mid-month; without it the case's plan applies.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from webapp.commissions.engine import (LineResult, Plan, SaleLine, Spiff, TierBasis, check_target, compute_month,
                                       split_credit)

FILE_KEYS = frozenset({"about", "cases", "split_cases"})
CASE_KEYS = frozenset({"name", "why", "plan", "target", "team", "spiffs", "sales", "expected",
                       "expected_credited", "expected_spiff", "expected_no_target"})
SALE_KEYS = frozenset({"id", "date", "amount", "sku", "category", "plan", "quantity", "shares", "holder"})
PLAN_KEYS = frozenset({"base_rate", "tiers", "tier_mode", "category_rates", "product_rates", "basis"})
SPIFF_KEYS = frozenset({"name", "first_day", "last_day", "products", "categories", "teams", "per_unit",
                        "percent", "cap"})
SPLIT_KEYS = frozenset({"name", "why", "amount", "shares", "expected"})
SPLIT_CASES = "split_cases"
# The only keys whose values are JSON integers; every other number is a string (GOLDEN_FORMAT.md).
INTEGER_KEYS = frozenset({"id", "quantity", "holder"})
# Dates are checked where they are parsed (an ISO string, naming the sale or SPIFF).
NOT_MONEY_KEYS = INTEGER_KEYS | {"date", "first_day", "last_day"}


class GoldenFormatError(ValueError):
    """A golden-case file that does not follow GOLDEN_FORMAT.md (unknown key, wrong shape)."""


def check_keys(data: Any, known: frozenset[str], where: str) -> Mapping[str, Any]:
    """The object itself, after refusing anything but a JSON object of known keys."""
    if not isinstance(data, Mapping):
        raise GoldenFormatError(f"{where} must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - known)
    if unknown:
        raise GoldenFormatError(
            f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(sorted(known))}); a key the simulator does not know is refused, not ignored"
        )
    return data


def refuse_numbers(data: Any, where: str) -> None:
    """Refuse JSON numbers where the format wants strings: money, rates, percents and shares."""
    items = data.items() if isinstance(data, Mapping) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key not in NOT_MONEY_KEYS:
            raise TypeError(f"{where}: {key!r} is a JSON number ({value!r}); money, rates, percents and shares "
                            "are strings, since a JSON number is read as a float")
        refuse_numbers(value, where)


def plan_from_json(data: Mapping[str, Any] | None) -> Plan | None:
    """Build a Plan from a case's "plan" object; None (JSON null) means no plan."""
    if data is None:
        return None
    check_keys(data, PLAN_KEYS, "plan")
    return Plan(
        base_rate=data.get("base_rate"),
        tiers=tuple(tuple(row) for row in data.get("tiers") or ()),
        tier_mode=data.get("tier_mode"),
        category_rates=data.get("category_rates") or {},
        product_rates=data.get("product_rates") or {},
        basis=data.get("basis"),
    )


def _date(value: Any, what: Any) -> datetime.date:
    """Parse an ISO date string (YYYY-MM-DD), naming the sale (or SPIFF) in the error."""
    if not isinstance(value, str):
        raise TypeError(f"{what}: date must be an ISO date string, got {value!r}")
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{what}: date is not an ISO date: {value!r}") from None


def _split_keys(sale: Mapping[str, Any]) -> dict[str, Any]:
    """The sale's quantity, shares and holder as SaleLine keyword arguments (defaults when absent)."""
    what = f"sale {sale['id']}"
    quantity = sale.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise TypeError(f"{what}: quantity must be an integer, got {quantity!r}")
    if ("shares" in sale) != ("holder" in sale):
        raise GoldenFormatError(f"{what}: 'shares' and 'holder' go together (holder: this agent's index)")
    shares = sale.get("shares", ())
    if not isinstance(shares, (list, tuple)):
        raise GoldenFormatError(f"{what}: shares must be a list of strings, primary first")
    return {"quantity": quantity, "shares": tuple(shares), "holder": sale.get("holder", 0)}


def lines_from_case(case: Mapping[str, Any]) -> list[SaleLine]:
    """The case's sales as SaleLines, each under the case's plan unless it names its own."""
    case_plan = plan_from_json(case.get("plan"))
    team = case.get("team")
    lines = []
    for sale in case["sales"]:
        check_keys(sale, SALE_KEYS, f"sale {sale.get('id')!r}" if isinstance(sale, Mapping) else "a sale")
        plan = plan_from_json(sale["plan"]) if "plan" in sale else case_plan
        lines.append(
            SaleLine(
                id=sale["id"],
                date=_date(sale["date"], f"sale {sale['id']}"),
                amount=sale["amount"],
                sku=sale.get("sku"),
                category=sale.get("category"),
                plan=plan,
                team=team,
                **_split_keys(sale),
            )
        )
    return lines


def spiffs_from_case(case: Mapping[str, Any]) -> list[Spiff]:
    """The case's SPIFFs (each a version of its own name) as engine Spiffs."""
    spiffs = case.get("spiffs")
    if not isinstance(spiffs, list):
        raise GoldenFormatError(f"spiffs must be a list of SPIFF objects, got {type(spiffs).__name__}")
    out = []
    for data in spiffs:
        check_keys(data, SPIFF_KEYS, f"SPIFF {data.get('name')!r}" if isinstance(data, Mapping) else "a SPIFF")
        what = f"SPIFF {data['name']!r}"
        teams = data.get("teams")
        out.append(Spiff(
            name=data["name"], first_day=_date(data["first_day"], what), last_day=_date(data["last_day"], what),
            products=_names(data.get("products"), what), categories=_names(data.get("categories"), what),
            teams=None if teams is None else _names(teams, what), per_unit=data.get("per_unit"),
            percent=data.get("percent"), cap=data.get("cap"),
        ))
    return out


def _names(value: Any, what: str) -> frozenset[str]:
    """A JSON list of names (null: none) as a frozenset."""
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise GoldenFormatError(f"{what}: products, categories and teams are lists of names")
    return frozenset(value)


def _uses_target_percent(case: Mapping[str, Any], lines: list[SaleLine]) -> bool:
    """True when the case plan or a sale's plan is a target_percent table (then no_target is reported)."""
    plans = [plan_from_json(case.get("plan"))] + [line.plan for line in lines]
    return any(plan is not None and plan.basis is TierBasis.TARGET_PERCENT for plan in plans)


def results_as_strings(results: Mapping[int, LineResult]) -> dict[str, str]:
    """Commissions keyed and valued as strings, the shape of a case's "expected"."""
    return {str(sale_id): str(result.commission) for sale_id, result in results.items()}


def simulate_case(case: Mapping[str, Any]) -> dict[str, Any]:
    """Run one case through the engine: {sale id: "commission"}, in allocation order, plus extras.

    The extras are the version-2 keys the input calls for: "credited" when a sale has shares,
    "spiff" when the case has spiffs, "no_target" when a plan is a target_percent table.
    """
    check_keys(case, CASE_KEYS, f"case {case.get('name')!r}" if isinstance(case, Mapping) else "a case")
    refuse_numbers({key: value for key, value in case.items() if not key.startswith("expected")}, "case")
    lines = lines_from_case(case)
    spiffs = spiffs_from_case(case) if "spiffs" in case else []
    results = compute_month(lines, target=check_target(case.get("target")), spiffs=spiffs)
    out: dict[str, Any] = results_as_strings(results)
    if any(line.shares for line in lines):
        out["credited"] = {str(sale_id): str(result.credited) for sale_id, result in results.items()}
    if "spiffs" in case:
        out["spiff"] = {str(sale_id): {spiff.name: str(spiff.reward) for spiff in result.spiffs}
                        for sale_id, result in results.items() if result.spiffs}
    if _uses_target_percent(case, lines):
        out["no_target"] = [str(sale_id) for sale_id, result in results.items() if result.no_target]
    return out


def simulate_split(split: Mapping[str, Any]) -> list[str]:
    """Run one split case (the allocation rule alone): every holder's credit, primary first."""
    check_keys(split, SPLIT_KEYS, f"split case {split.get('name')!r}" if isinstance(split, Mapping) else "a split")
    if not isinstance(split["shares"], list):
        raise GoldenFormatError(f"split case {split['name']!r}: shares must be a list of strings")
    refuse_numbers({"amount": split["amount"], "shares": split["shares"]}, f"split case {split['name']!r}")
    return [str(credit) for credit in split_credit(split["amount"], split["shares"])]


def _unique(names: list[Any], what: str) -> None:
    """Refuse two cases of one name (they would hide each other in the output)."""
    seen = set()
    for name in names:
        if name in seen:
            raise ValueError(f"two golden {what} are named {name!r}")
        seen.add(name)


def simulate(cases_json: Mapping[str, Any]) -> dict[str, Any]:
    """Run every case of a parsed golden file: {case name: {sale id: "commission", ...}}.

    Plus "split_cases": {name: [credit, ...]} when the file has split cases. Sale ids are strings,
    as in the file's "expected", so the output compares to it directly and round-trips through JSON.
    """
    check_keys(cases_json, FILE_KEYS, "the file")
    cases = cases_json["cases"]
    _unique([case["name"] for case in cases], "cases")
    if SPLIT_CASES in {case["name"] for case in cases}:
        raise GoldenFormatError(f"a case may not be named {SPLIT_CASES!r}: that key holds the split cases")
    out: dict[str, Any] = {case["name"]: simulate_case(case) for case in cases}
    if SPLIT_CASES in cases_json:
        splits = cases_json[SPLIT_CASES]
        if not isinstance(splits, list):
            raise GoldenFormatError(f"{SPLIT_CASES} must be a list of split cases")
        _unique([split["name"] for split in splits], "split cases")
        out[SPLIT_CASES] = {split["name"]: simulate_split(split) for split in splits}
    return out


def expected_output(cases_json: Mapping[str, Any]) -> dict[str, Any]:
    """What `simulate` must print for a file, built from its expected keys (GOLDEN_FORMAT.md)."""
    out: dict[str, Any] = {}
    for case in cases_json["cases"]:
        want = dict(case["expected"])
        for key in ("credited", "spiff", "no_target"):
            if f"expected_{key}" in case:
                want[key] = case[f"expected_{key}"]
        out[case["name"]] = want
    if SPLIT_CASES in cases_json:
        out[SPLIT_CASES] = {split["name"]: split["expected"] for split in cases_json[SPLIT_CASES]}
    return out
