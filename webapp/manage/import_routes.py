"""Sales CSV import: upload, dry-run preview, confirm (all or nothing)."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from webapp.auth.decorators import manager_required
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.formtools import apply_service_error
from webapp.manage import bp
from webapp.manage.import_forms import ConfirmForm, UploadForm
from webapp.sales import imports
from webapp.sales.csv_format import BOM, IMPORT_COLUMNS

# The preview lists this many rows and errors; the counts above it cover the whole file.
SHOWN_ROWS = 200
CONCURRENT = ("Another import with some of these keys ran at the same moment. "
              "Reload this page to see what is left to import.")


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
    """Upload a sales CSV; it is kept on the server and previewed (dry run) before anything is written."""
    form = UploadForm()
    if not form.is_submitted():
        return _upload_page(form)
    if not form.validate():
        return _upload_page(form, 422)
    storage = form.file.data
    if storage is None or not getattr(storage, "filename", ""):
        form.file.errors.append("Choose a CSV file to upload.")
        return _upload_page(form, 422)
    try:
        upload = imports.store_upload(_user(), storage.stream, storage.filename)
    except ServiceError as exc:
        apply_service_error(form, exc)
        return _upload_page(form, exc.status)
    return redirect(url_for("review.import_preview", upload_id=upload.id))


@bp.route("/imports/template.csv")
@manager_required
def import_template():
    """An empty file with the import header, to fill in."""
    response = Response(BOM + ",".join(IMPORT_COLUMNS) + "\r\n", mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="sales_import_template.csv"'
    return response


def _dry_run(upload: imports.Upload):
    """Run the import and roll it back: (result, file error message)."""
    try:
        return imports.run_import(_user(), upload.read()), None
    except ServiceError as exc:
        return None, exc.message
    except IntegrityError:
        return None, CONCURRENT
    finally:
        db.session.rollback()


def _preview_page(upload: imports.Upload, result, file_error: str | None, status: int = 200):
    """The preview of an upload: counts, errors per row, the rows that would be created."""
    return render_template("review/import_preview.html", upload=upload, result=result, file_error=file_error,
                           confirm=ConfirmForm(), form=UploadForm(), shown=SHOWN_ROWS, columns=IMPORT_COLUMNS,
                           max_mb=imports.MAX_BYTES // (1024 * 1024), max_rows=imports.MAX_ROWS), status


@bp.route("/imports/<upload_id>")
@manager_required
def import_preview(upload_id: str):
    """Dry run of a stored upload: what would be created or skipped, and every row's errors."""
    upload = imports.get_upload(_user(), upload_id)
    result, file_error = _dry_run(upload)
    return _preview_page(upload, result, file_error)


@bp.route("/imports/<upload_id>", methods=["POST"])
@manager_required
def import_confirm(upload_id: str):
    """Import a stored upload: every row or, if any row fails, nothing."""
    upload = imports.get_upload(_user(), upload_id)
    try:
        result = imports.run_import(_user(), upload.read())
    except ServiceError as exc:
        db.session.rollback()
        return _preview_page(upload, None, exc.message, 422)
    except IntegrityError:
        # Another of your imports wrote the same keys (for other agents) at the same moment.
        db.session.rollback()
        return _preview_page(upload, None, CONCURRENT, 409)
    if not result.ok:
        db.session.rollback()
        return _preview_page(upload, result, None, 422)
    db.session.commit()
    imports.discard_upload(upload)
    created, skipped = len(result.to_create), len(result.skipped)
    message = f"Imported {created} sale{'s' if created != 1 else ''} from {upload.filename}."
    if skipped:
        message += f" {skipped} row{'s were' if skipped != 1 else ' was'} already imported and skipped."
    if created:
        message += " Sales you enter wait for another manager or an admin to approve them."
    flash(message, "success")
    return redirect(url_for("review.imports_page"))
