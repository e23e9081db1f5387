"""After a SPIFF change: recompute every holder-month it touches (COMMISSION_RULES.md section 10).

The touched holder-months are found set-based: the holders of credits of approved sales dated in
the days the change moves, of the products and categories that may be eligible, one query per
calendar month. Up to SYNC_LIMIT of them are recomputed in the request, under the agents' locks
taken in id order; more go to a background job (jobs/spiffs.py), enqueued after the commit, which
recomputes them in batches and records its progress on a SpiffRecompute row for the progress page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import or_, select

from webapp import clock
from webapp.catalog.models import Product
from webapp.commissions.ledger import lock_agents, months_between, recompute_agents_month
from webapp.commissions.periods import month_bounds
from webapp.errors import NotFound
from webapp.extensions import db, redis_client
from webapp.sales.models import Sale, SaleCredit, SaleStatus
from webapp.spiffs.models import RecomputeStatus, SpiffRecompute
from webapp.tasks import enqueue, enqueue_after_commit

# Holder-months recomputed inside the request; beyond this a job does it (a month is cheap, but a
# request holding thousands of agent locks would block their sales for its whole duration).
SYNC_LIMIT = 200
# Holder-months per committed batch of the job: each batch locks its agents only until it commits.
BATCH_SIZE = 50
JOB = "jobs.spiffs.recompute_spiff_change"
# A run still queued this long after it was made lost its job (Redis was down at the commit, or
# lost its data), and a running one that made no progress for this long lost its worker (killed
# mid-batch; a batch takes seconds): the sweep enqueues it again (its job id is unique, so a waiting
# one is kept; the job resumes at the stored count, and recomputing a holder-month twice is harmless).
STALLED_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class Touched:
    """The days a change moves, and the products and categories that may be eligible on them."""

    start: date
    end: date
    product_ids: frozenset[int]
    category_ids: frozenset[int]


def touched_pairs(touched: Touched) -> list[tuple[int, date]]:
    """(holder id, first of month) of every holder with a credit of an approved, possibly eligible
    sale dated in the touched days; in holder id then month order."""
    if touched.end < touched.start or not (touched.product_ids or touched.category_ids):
        return []
    eligible = select(Product.id).where(or_(Product.id.in_(sorted(touched.product_ids) or [0]),
                                            Product.category_id.in_(sorted(touched.category_ids) or [0])))
    pairs = []
    for month in months_between(touched.start, touched.end):
        first, last = month_bounds(month)
        holders = db.session.scalars(
            select(SaleCredit.agent_id).distinct().join(Sale, Sale.id == SaleCredit.sale_id)
            .where(Sale.status == SaleStatus.APPROVED, Sale.sold_on >= max(first, touched.start),
                   Sale.sold_on <= min(last, touched.end), Sale.product_id.in_(eligible)))
        pairs.extend((holder, first) for holder in holders)
    return sorted(pairs)


def _recompute(pairs: list[tuple[int, date]]) -> None:
    """Lock the holders in id order (one statement), then recompute each month for its holders at once."""
    lock_agents({holder for holder, _ in pairs})
    for month in sorted({month for _, month in pairs}):
        recompute_agents_month([holder for holder, of in pairs if of == month], month)


def recompute_touched(spiff_id: int, touched: Touched) -> tuple[int, SpiffRecompute | None]:
    """Recompute what a change touched now (returns the count), or hand it to a job (returns its run)."""
    db.session.flush()
    pairs = touched_pairs(touched)
    if len(pairs) <= SYNC_LIMIT:
        _recompute(pairs)
        return len(pairs), None
    run = SpiffRecompute(spiff_id=spiff_id, pairs=[[holder, month.isoformat()] for holder, month in pairs],
                         total=len(pairs), done=0, status=RecomputeStatus.QUEUED)
    db.session.add(run)
    db.session.flush()
    enqueue_after_commit("default", JOB, run.id)
    return 0, run


def get_run(spiff_id: int, run_id: int) -> SpiffRecompute:
    """A SPIFF's background recompute, or NotFound."""
    run = db.session.get(SpiffRecompute, run_id)
    if run is None or run.spiff_id != spiff_id:
        raise NotFound()
    return run


def run_recompute(run_id: int) -> SpiffRecompute | None:
    """The job's work: recompute the run's remaining pairs in batches, committing each with the
    progress (so a retry resumes where it stopped, and the page shows how far it got)."""
    run = db.session.get(SpiffRecompute, run_id, with_for_update=True)
    if run is None or run.status == RecomputeStatus.DONE:
        return run
    run.status, run.updated_at = RecomputeStatus.RUNNING, clock.now_utc()
    db.session.commit()
    try:
        while run.done < run.total:
            batch = [(holder, date.fromisoformat(month))
                     for holder, month in run.pairs[run.done:run.done + BATCH_SIZE]]
            _recompute(batch)
            run.done += len(batch)
            run.updated_at = clock.now_utc()
            db.session.commit()
    except Exception as exc:
        db.session.rollback()
        run = db.session.get(SpiffRecompute, run_id)
        run.status, run.error = RecomputeStatus.FAILED, f"{type(exc).__name__}: {exc}"[:500]
        db.session.commit()
        raise
    run.status, run.error, run.finished_at = RecomputeStatus.DONE, None, clock.now_utc()
    db.session.commit()
    return run


def pending_runs(spiff_id: int) -> list[SpiffRecompute]:
    """The SPIFF's recomputes not yet done, oldest first (the detail page links their progress)."""
    return list(db.session.scalars(select(SpiffRecompute).where(
        SpiffRecompute.spiff_id == spiff_id, SpiffRecompute.status != RecomputeStatus.DONE)
        .order_by(SpiffRecompute.id)))



def retry_run(run: SpiffRecompute) -> SpiffRecompute:
    """Queue a failed run again (after the job's own retries ran out); it resumes where it stopped."""
    if run.status == RecomputeStatus.FAILED:
        run.status, run.updated_at = RecomputeStatus.QUEUED, clock.now_utc()
        db.session.flush()
        enqueue_after_commit("default", JOB, run.id)
    return run


def requeue_stalled() -> list[int]:
    """The sweep's work: enqueue again every run queued, or running without progress, for longer
    than STALLED_AFTER; their ids."""
    ids = list(db.session.scalars(select(SpiffRecompute.id).where(
        SpiffRecompute.status.in_([RecomputeStatus.QUEUED, RecomputeStatus.RUNNING]),
        SpiffRecompute.updated_at < clock.now_utc() - STALLED_AFTER).order_by(SpiffRecompute.id)))
    for run_id in ids:
        enqueue("default", JOB, run_id, connection=redis_client())
    return ids
