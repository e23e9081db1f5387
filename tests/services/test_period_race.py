"""Two requests create the same new period at once (PostgreSQL): both get the one row.

The first approved sales of a new half-month, or dashboards opened just after midnight, all call
period_for for a period that has no row yet; before the fix one of them was a 500
(UniqueViolation uq_periods_end_date), found by bench/log_sale_http.py --auto-approve.
"""

from __future__ import annotations

import threading
from datetime import date

from sqlalchemy import delete, func, select

from webapp.commissions.models import Period
from webapp.commissions.periods import period_for
from webapp.extensions import db

THREADS = 8
WAIT = 10  # seconds: a barrier or a join taking longer means the test is stuck


def test_concurrent_first_callers_of_a_new_period_share_one_row(app, committed):
    day = date(2037, 5, 20)  # far from every other test's periods
    db.session.execute(delete(Period).where(Period.start_date <= day, Period.end_date >= day))
    db.session.commit()
    barrier = threading.Barrier(THREADS, timeout=WAIT)
    found: list[int] = []
    errors: list[BaseException] = []

    def first_caller() -> None:
        """Create-or-find the period in a request-like context, then commit."""
        with app.app_context():
            try:
                barrier.wait()
                period = period_for(day)
                db.session.commit()
                found.append(period.id)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                db.session.rollback()

    threads = [threading.Thread(target=first_caller) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert errors == []
    assert len(found) == THREADS and len(set(found)) == 1
    assert db.session.scalar(select(func.count()).select_from(Period).where(
        Period.start_date <= day, Period.end_date >= day)) == 1
    period = db.session.get(Period, found[0])
    assert (period.start_date, period.end_date, period.status) == (date(2037, 5, 16), date(2037, 5, 31), "open")
