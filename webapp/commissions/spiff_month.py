"""The SPIFF versions of a month as the engine sees them (the ledger and estimates read this).

Each version covers the sales dated from its `effective_from` until the next version's (a sale
takes the version in force on its sold_on), within its own first and last day. Versions keep their
SPIFF's name, so the engine counts one cap per SPIFF, holder and month across versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.commissions import engine
from webapp.extensions import db
from webapp.money import from_cents, units_to_rate
from webapp.spiffs.models import Spiff, SpiffVersion


@dataclass(frozen=True)
class MonthSpiffs:
    """The month's engine SPIFFs, and the stored SPIFF and version behind each (name, version)."""

    spiffs: tuple[engine.Spiff, ...]
    ids: dict[tuple[str, int], tuple[int, int]]

    def ids_of(self, result: engine.SpiffResult) -> tuple[int, int]:
        """(spiff id, spiff version id) of one of the engine's rewards."""
        return self.ids[(result.spiff.name, result.spiff.version)]

    def name_of(self, spiff_id: int | None) -> str | None:
        """The name of a SPIFF of the month (None for None, or one no longer in the month)."""
        return next((name for (name, _), (sid, _) in self.ids.items() if sid == spiff_id), None)


def _engine_spiff(spiff: Spiff, version: SpiffVersion, first: date, last: date) -> engine.Spiff:
    """One stored version as the engine's Spiff, its days cut to the range it is in force."""
    return engine.Spiff(
        name=spiff.name, first_day=first, last_day=last, version=version.version,
        products=frozenset(p.sku for p in version.products),
        categories=frozenset(c.code for c in version.categories),
        teams=frozenset(str(m.id) for m in version.teams) if version.teams else None,
        per_unit=from_cents(version.per_unit_cents) if version.per_unit_cents is not None else None,
        percent=units_to_rate(version.percent_units) if version.percent_units is not None else None,
        cap=from_cents(version.cap_cents) if version.cap_cents is not None else None,
    )


def month_spiffs(first: date, last: date) -> MonthSpiffs:
    """Every SPIFF version that can reward a sale dated between `first` and `last`."""
    found, ids = [], {}
    spiffs = db.session.scalars(
        select(Spiff).join(SpiffVersion).where(SpiffVersion.first_day <= last, SpiffVersion.last_day >= first)
        .distinct().options(selectinload(Spiff.versions).selectinload(SpiffVersion.products),
                            selectinload(Spiff.versions).selectinload(SpiffVersion.categories),
                            selectinload(Spiff.versions).selectinload(SpiffVersion.teams)))
    for spiff in spiffs:
        versions = spiff.versions  # ordered by effective_from
        for index, version in enumerate(versions):
            in_force_to = (versions[index + 1].effective_from - timedelta(days=1)
                           if index + 1 < len(versions) else version.last_day)
            start, end = max(version.first_day, version.effective_from), min(version.last_day, in_force_to)
            if start > end or end < first or start > last:
                continue
            found.append(_engine_spiff(spiff, version, start, end))
            ids[(spiff.name, version.version)] = (spiff.id, version.id)
    return MonthSpiffs(tuple(found), ids)
