"""Sales CSV import: upload, dry-run preview, confirm (all or nothing)."""

from __future__ import annotations

from flask import Response, redirect, render_template, url_for
from flask_login import current_user

from webapp.auth.decorators import manager_required
from webapp.manage import bp
from webapp.manage.import_forms import ConfirmForm, UploadForm
from webapp.sales import imports
from webapp.sales.csv_format import BOM, IMPORT_COLUMNS
from webapp.web import finish, run_service

# The preview lists this many rows and errors; the counts above it cover the whole file.
SHOWN_ROWS = 200


def _user():
    """The signed-in user as a plain model object (services keep it past the request proxy)."""
    return current_user._get_current_object()


def _upload_page(form: UploadForm, status: int = 200):
    """The upload page."""
    return render_template("review/imports.html", form=form, columns=IMPORT_COLUMNS,
                           max_mb=imports.MAX_BYTES // (1024 * 1024), max_rows=imports.MAX_ROWS), status


@bp.route("/imports", methods=["GET", "POST"])
@manager_required
def imports_page():
    """Upload a sales CSV; it is kept in the database and previewed (dry run) before anything is written."""
    form = UploadForm()
    if not form.is_submitted():
        return _upload_page(form)
    if not form.validate():
        return _upload_page(form, 422)
    storage = form.file.data
    if storage is None or not getattr(storage, "filename", ""):
        form.file.errors.append("Choose a CSV file to upload.")
        return _upload_page(form, 422)
    stored = run_service(lambda: imports.store_upload(_user(), storage.stream, storage.filename), form=form)
    if not stored.ok:
        return _upload_page(form, stored.status)
    return redirect(url_for("review.import_preview", upload_id=stored.value.id))


@bp.route("/imports/template.csv")
@manager_required
def import_template():
    """An empty file with the import header, to fill in."""
    response = Response(BOM + ",".join(IMPORT_COLUMNS) + "\r\n", mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="sales_import_template.csv"'
    return response


def _import(upload: imports.Upload, commit):
    """Run the import of a stored upload, committed when `commit` holds for its result."""
    return run_service(lambda: imports.run_import(_user(), upload.read()), unplaced=None, commit=commit)


def _preview_page(upload: imports.Upload, result, file_error: str | None, status: int = 200):
    """The preview of an upload: counts, errors per row, the rows that would be created."""
    return render_template("review/import_preview.html", upload=upload, result=result, file_error=file_error,
                           confirm=ConfirmForm(), form=UploadForm(), shown=SHOWN_ROWS, columns=IMPORT_COLUMNS,
                           max_mb=imports.MAX_BYTES // (1024 * 1024), max_rows=imports.MAX_ROWS), status


def _stored(upload_id: str, *, lock: bool = False):
    """The signed-in user's upload, or the upload page saying it expired (410)."""
    try:
        return imports.get_upload(_user(), upload_id, lock=lock), None
    except imports.UploadExpired as expired:
        form = UploadForm()
        form.file.errors = [expired.message]
        return None, _upload_page(form, 410)


@bp.route("/imports/<upload_id>")
@manager_required
def import_preview(upload_id: str):
    """Dry run of a stored upload: what would be created or skipped, and every row's errors."""
    upload, expired_page = _stored(upload_id)
    if upload is None:
        return expired_page
    dry_run = _import(upload, commit=False)
    return _preview_page(upload, dry_run.value, dry_run.error.message if dry_run.error else None)


@bp.route("/imports/<upload_id>", methods=["POST"])
@manager_required
def import_confirm(upload_id: str):
    """Import a stored upload: every row or, if any row fails, nothing."""
    # The row lock lasts until run_service commits or rolls back: a second confirmation waits, then 404s.
    upload, expired_page = _stored(upload_id, lock=True)
    if upload is None:
        return expired_page
    # Every row or nothing: an import with row errors is rolled back (the upload kept) and previewed again.
    outcome = run_service(lambda: imports.import_upload(_user(), upload), unplaced=None,
                          commit=lambda result: result.ok)
    if not outcome.ok:
        return _preview_page(upload, None, outcome.error.message, outcome.status)
    result = outcome.value
    if not outcome.committed:
        return _preview_page(upload, result, None, 422)
    created, skipped = len(result.to_create), len(result.skipped)
    message = f"Imported {created} sale{'s' if created != 1 else ''} from {upload.filename}."
    if skipped:
        message += f" {skipped} row{'s were' if skipped != 1 else ' was'} already imported and skipped."
    if created:
        message += " Sales you enter wait for another manager or an admin to approve them."
    return finish(url_for("review.imports_page"), message)
