"""SPIFF jobs: recompute the holder-months a SPIFF change touched, when too many for the request."""

from __future__ import annotations

from jobs import app_context


def recompute_spiff_change(run_id: int) -> int:
    """Recompute a SpiffRecompute's remaining holder-months in committed batches; returns how many
    are done (a retry or a duplicate resumes at the stored count; a finished run is a no-op)."""
    from webapp.spiffs.recompute import run_recompute

    with app_context():
        run = run_recompute(run_id)
        return run.done if run is not None else 0


def sweep() -> list[int]:
    """The clock's SPIFF tick: enqueue again the recomputes whose job Redis lost; their ids."""
    from webapp.spiffs.recompute import requeue_stalled

    with app_context():
        return requeue_stalled()
