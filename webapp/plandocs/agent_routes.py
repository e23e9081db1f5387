"""Plan document pages: the agent's list, one document (also for its agent's manager and admins),
the acknowledgement, and the two PDFs."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_login import current_user

from webapp.auth.decorators import agent_required, signed_in_required
from webapp.plandocs import acknowledgements, bp, queries
from webapp.plandocs.acknowledgements import ACKNOWLEDGEABLE
from webapp.plandocs.forms import AcknowledgeForm
from webapp.web import FLASH, check, finish, is_htmx, requested_page, run_service, stored_pdf

TABLE_ID = "plan-documents-table"


def _user():
    """The signed-in user as a plain model object (services take models, not proxies)."""
    return current_user._get_current_object()


@bp.route("/plan-documents")
@agent_required
def my_documents():
    """The agent's plan documents, the ones waiting for them first."""
    context = {"page": queries.agent_documents(_user(), requested_page()), "args": {}}
    if is_htmx(TABLE_ID):
        return render_template("plandocs/partials/_my_documents_table.html", **context)
    return render_template("plandocs/my_documents.html", **context)


def _page(row: queries.DocumentRow, form: AcknowledgeForm | None = None, status: int = 200):
    """The document page: the stored document, its number and hash, its PDFs, and (for its agent,
    while it waits) the acknowledgement form."""
    document = row.document
    own = document.agent_id == current_user.id
    return render_template("plandocs/document.html", document=document, state=row.state, own=own,
                           acknowledgement=document.acknowledgement,
                           can_acknowledge=own and row.state in ACKNOWLEDGEABLE,
                           form=form or AcknowledgeForm(formdata=None)), status


@bp.route("/plan-documents/<int:document_id>")
@signed_in_required
def document(document_id: int):
    """One plan document exactly as issued; every view is audited."""
    user = _user()
    row = queries.visible_document(user, document_id, with_body=True)
    page = _page(row)  # rendered before the commit, which would expire what it shows
    run_service(lambda: acknowledgements.record_view(user, row.document))
    return page


@bp.route("/plan-documents/<int:document_id>/acknowledge", methods=["POST"])
@agent_required
def acknowledge(document_id: int):
    """The agent acknowledges their document: their typed name and the box ticked, or each error
    beside its field (422); a document no longer waiting is refused (409)."""
    agent = _user()
    document = queries.own_document(agent, document_id)  # anyone else's: 404, before reading the form
    form = AcknowledgeForm()
    valid = form.validate()
    # The name is checked at once too, so a refused form shows every error together.
    if not form.typed_name.errors:
        valid = check(lambda: acknowledgements.check_typed_name(agent, form.typed_name.data), form=form).ok and valid
    if not valid:
        return _page(queries.visible_document(agent, document_id, with_body=True), form, 422)
    outcome = run_service(lambda: acknowledgements.acknowledge(
        agent, document, form.typed_name.data, request.remote_addr, request.headers.get("User-Agent")),
        form=form, unplaced=FLASH)
    if not outcome.ok:
        return _page(queries.visible_document(agent, document_id, with_body=True), form, outcome.status)
    return finish(url_for("plandocs.document", document_id=document_id),
                  "Thank you: your acknowledgement is recorded. Its PDF will be ready to download in a moment.",
                  code=303)



@bp.route("/plan-documents/<int:document_id>/pdf")
@signed_in_required
def document_pdf(document_id: int):
    """The document's PDF as issued (404 while it is being prepared); the download is audited."""
    user = _user()
    document = queries.visible_document(user, document_id).document
    number, sha256 = document.number, document.pdf_sha256
    data = run_service(lambda: acknowledgements.document_pdf(user, document)).value
    return stored_pdf(data, sha256, f"plan-document-{number}.pdf")


@bp.route("/plan-documents/<int:document_id>/acknowledged.pdf")
@signed_in_required
def acknowledged_pdf(document_id: int):
    """The acknowledged PDF: the document with its acknowledgement block (404 until rendered); audited."""
    user = _user()
    document = queries.visible_document(user, document_id).document
    number = document.number
    data, acknowledgement = run_service(lambda: acknowledgements.acknowledged_pdf(user, document)).value
    return stored_pdf(data, acknowledgement.pdf_sha256, f"plan-document-{number}-acknowledged.pdf")
