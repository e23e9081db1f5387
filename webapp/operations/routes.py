"""A background operation's page: progress (htmx polls the fragment until it ends), result, errors, retry."""

from __future__ import annotations

from flask import redirect, url_for
from flask_login import current_user

from webapp.auth.decorators import signed_in_required
from webapp.operations import bp
from webapp.operations import services as operations
from webapp.web import FLASH, finish, progress_page, run_service


@bp.before_app_request
def _forget_started() -> None:
    """Each request starts with no operation started (see operations.started)."""
    operations.forget_started()


def follow(message: str):
    """After a committed request that started an operation: go to its page, else None."""
    found = operations.started()
    if found is None:
        return None
    return finish(url_for("operations.operation", operation_id=found.id),
                  f"{message} {found.total:,} to go; this page shows the progress.", code=303)


def _context(operation) -> dict:
    """What the page and its fragment show."""
    link = operations.result_link(operation)
    return {"operation": operation, "label": operations.label(operation),
            "result_url": url_for(link[0], **link[1]) if link else None, "result_text": link[2] if link else None}


@bp.route("/operations/<int:operation_id>")
@signed_in_required
def operation(operation_id: int):
    """An operation's progress, result and errors; htmx polls the fragment until it finishes."""
    context = _context(operations.visible_operation(current_user, operation_id))
    return progress_page("operation-progress", "operations/partials/_progress.html", "operations/operation.html",
                         context["operation"].finished, **context)


@bp.route("/operations/<int:operation_id>/retry", methods=["POST"])
@signed_in_required
def retry(operation_id: int):
    """Queue a failed operation again; it resumes after the last batch that went through."""
    found = operations.visible_operation(current_user, operation_id)
    back = url_for("operations.operation", operation_id=found.id)
    if not run_service(lambda: operations.retry(found), unplaced=FLASH).ok:
        return redirect(back, code=303)
    return finish(back, "The operation is queued again.", code=303)
