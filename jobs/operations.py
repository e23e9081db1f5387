"""Background operations (webapp/operations): one committed batch per job, chained until done."""

from __future__ import annotations

from jobs import app_context


def run_step(operation_id: int, expected_done: int) -> int:
    """Do the operation's next batch if it is still at `expected_done`; returns the items done."""
    from webapp.operations.services import run_step as step

    with app_context():
        operation = step(operation_id, expected_done)
        return operation.done if operation is not None else 0


def sweep() -> list[int]:
    """The clock's tick: enqueue again the next step of operations whose job was lost; their ids."""
    from webapp.operations.services import requeue_stalled

    with app_context():
        return requeue_stalled()
