"""How a month's recompute reads periods and writes ledger entries: looked up once, written in bulk.

The ledger decides what each sale's entries must be (ledger.py); these helpers keep a month of
10,000 sales to a handful of statements: on PostgreSQL one COPY for the inserts and one UPDATE per
set of changed columns (elsewhere an executemany each), and the deletes by lists of ids.
"""

from __future__ import annotations

import json
from datetime import date

import psycopg
from sqlalchemy import JSON, bindparam, or_, select, text
from sqlalchemy.exc import DBAPIError

from webapp import panel_writes
from webapp.commissions.models import CommissionEntry, Period, PeriodStatus
from webapp.commissions.periods import earliest_open_period, hold_open, period_for
from webapp.extensions import db


class MonthPeriods:
    """The periods of one month, which periods are open, and the earliest open one, looked up once."""

    def __init__(self, first: date, last: date):
        """Load, in one query, the month's periods, the ids of every open period and of every
        period ending on or after the month's first day (where the month's entries can be)."""
        # Entries of the month's sales can sit in later periods (adjustments); all open ones are few.
        # Held FOR SHARE until the commit (periods.hold_open says why): a close of one of them waits
        # for these writes, and one that committed first is seen closed (rows read afresh).
        rows = list(db.session.scalars(
            select(Period).where(or_(Period.end_date >= first, Period.status == PeriodStatus.OPEN))
            .with_for_update(read=True).execution_options(populate_existing=True)))
        self.periods = [period for period in rows if period.end_date >= first and period.start_date <= last]
        self.open_ids = {period.id for period in rows if period.status == PeriodStatus.OPEN}
        self.since_first = sorted(period.id for period in rows if period.end_date >= first)
        self._earliest_open: Period | None = None
        self._by_day: dict[date, Period] = {}

    def home(self, day: date) -> Period:
        """The period containing `day` (created if missing)."""
        period = self._by_day.get(day)
        if period is not None:
            return period
        period = next((p for p in self.periods if p.start_date <= day <= p.end_date), None)
        if period is None:
            period = period_for(day)
            self.periods.append(period)
            if hold_open(period):
                self.open_ids.add(period.id)
        self._by_day[day] = period
        return period

    def earliest_open(self) -> Period:
        """The first open period after the closed prefix."""
        if self._earliest_open is None:
            period = earliest_open_period()
            while not hold_open(period):  # closed meanwhile: the next one is the earliest open now
                period = earliest_open_period()
            self._earliest_open = period
            self.open_ids.add(period.id)
        return self._earliest_open


class EntryWrites:
    """The entry inserts, updates and deletes of one recompute, issued in bulk at the end."""

    def __init__(self):
        """Nothing to write yet."""
        self.inserts: list[dict] = []
        self.updates: list[dict] = []
        self.deletes: list[int] = []

    def insert(self, **values) -> None:
        """A new system entry."""
        self.inserts.append(values)

    def update(self, entry, amount_cents: int, **columns) -> None:
        """Set an entry's figures in place (its id stays); nothing is written if nothing changed.

        `columns`: rate_units, plan_version_id, spiff_id, spiff_version_id, reason, late_approval,
        derivation_digest and, unless it is unchanged, derivation (what `insert` takes besides agent,
        period, kind, sale and amount). `entry` is a row without its derivation: the digest stands for it."""
        wanted = {"amount_cents": amount_cents, **columns}
        if any(getattr(entry, name) != value for name, value in wanted.items() if name != "derivation"):
            self.updates.append({"entry_id": entry.id, **{f"new_{name}": value for name, value in wanted.items()}})

    def delete(self, entry) -> None:
        """Remove an entry of an open period."""
        self.deletes.append(entry.id)

    def execute(self) -> None:
        """Write everything, then expire entry objects the session holds so none shows old figures."""
        table = CommissionEntry.__table__
        for start in range(0, len(self.deletes), 500):  # bounded IN lists (SQLite's variable limit)
            db.session.execute(table.delete().where(table.c.id.in_(self.deletes[start:start + 500])))
        # One executemany per set of columns (an update keeping its derivation leaves that column out).
        by_names: dict[tuple, list[dict]] = {}
        for update in self.updates:
            by_names.setdefault(tuple(name for name in update if name.startswith("new_")), []).append(update)
        postgresql = db.session.get_bind().dialect.name == "postgresql"
        for names, updates in by_names.items():
            if postgresql:
                _update_rows(table, names, updates)
            else:
                db.session.execute(
                    table.update().where(table.c.id == bindparam("entry_id"))
                    .values({name[len("new_"):]: bindparam(name) for name in names}),
                    updates)
        if self.inserts and postgresql:
            _copy_rows(table, self.inserts)
        elif self.inserts:
            db.session.execute(table.insert(), self.inserts)
        if self.deletes or self.updates:
            for obj in [o for o in db.session.identity_map.values() if isinstance(o, CommissionEntry)]:
                db.session.expire(obj)


def _as_sent(is_json: bool, value):
    """A value as PostgreSQL takes it outside the ORM: a JSON column's as the text the ORM sends
    (None too: SQLAlchemy's JSON stores it as JSON null, not SQL NULL)."""
    return json.dumps(value) if is_json else value


def _json_columns(table, columns) -> list[bool]:
    """Which of these columns are JSON, looked up once for all the rows of a write."""
    return [isinstance(table.c[column].type, JSON) for column in columns]


def _update_rows(table, names: tuple[str, ...], updates: list[dict]) -> None:
    """Apply updates (dicts of entry_id and new_<column> values) in one PostgreSQL statement: the
    new values go as one array per column, joined to the table by id (UPDATE ... FROM unnest).

    A plan change updates every line of its agents' months; one UPDATE each, even pipelined,
    spent most of its time on the round of statements (bench/recompute_month.py)."""
    columns = [name[len("new_"):] for name in names]
    dialect = db.session.get_bind().dialect
    is_json = _json_columns(table, columns)
    # Each array typed as its column (JSON travels as text and is cast once in place).
    arrays = ", ".join(["CAST(:entry_id AS integer[])"] + [
        f"CAST(:{name} AS {'text' if json_column else table.c[column].type.compile(dialect)}[])"
        for name, column, json_column in zip(names, columns, is_json)])
    assignments = ", ".join([f"{column} = CAST(u.{column} AS json)" if json_column else f"{column} = u.{column}"
                             for column, json_column in zip(columns, is_json)]
                            # What the ORM's update sets by itself (the column's onupdate).
                            + ["updated_at = CURRENT_TIMESTAMP"])
    values = {"entry_id": [update["entry_id"] for update in updates]}
    values.update((name, [_as_sent(json_column, update[name]) for update in updates])
                  for name, json_column in zip(names, is_json))
    db.session.execute(text(f"UPDATE {table.name} AS e SET {assignments} FROM unnest({arrays}) "
                            f"AS u(entry_id, {', '.join(columns)}) WHERE e.id = u.entry_id"), values)


def _copy_rows(table, rows: list[dict]) -> None:
    """Insert rows (dicts with the same columns) with PostgreSQL's COPY, in the session's transaction.

    A month rebuilt for 500 agents inserts about 60,000 entries; one INSERT each, even pipelined,
    took about a third of the rebuild (bench/recompute_month.py). JSON columns go as the text the
    ORM would have sent (json.dumps)."""
    names = list(rows[0])
    is_json = _json_columns(table, names)
    statement = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
    panel_writes.note_write()  # COPY goes to the driver, past the statement event that sees writes
    try:
        with db.session.connection().connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([_as_sent(json_column, row[name]) for name, json_column in zip(names, is_json)])
    except psycopg.Error as error:
        # As SQLAlchemy raises it for its own statements (a lost database is a 503, not a 500).
        raise DBAPIError.instance(statement, None, error, psycopg.Error) from error
