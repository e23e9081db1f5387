"""The agent's question about one of their plan documents: a dispute of the document that their
manager answers. Its thread is the agent's dispute page (sales.my_dispute).

The question and its answer are the dispute services' (webapp.disputes.services): this package
uses them, so the disputes package never imports plan-document services (only the model)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.auth.decorators import agent_required
from webapp.disputes import services as disputes
from webapp.disputes.forms import PlanQuestionForm
from webapp.disputes.thread import submit_dispute
from webapp.plandocs import bp
from webapp.web import finish


@bp.route("/plan-documents/<int:document_id>/question", methods=["GET", "POST"])
@agent_required
def ask_question(document_id: int):
    """"Ask a question" about one of the agent's plan documents (another agent's document: 404)."""
    document = disputes.own_plan_document(current_user, document_id)
    existing = disputes.open_question_for(document.id)
    if request.method == "GET" and existing is not None:
        flash("You already asked about this document; you can add to that question here.", "info")
        return redirect(url_for("sales.my_dispute", dispute_id=existing.id))
    form = PlanQuestionForm() if request.method == "POST" else PlanQuestionForm(formdata=None)
    status = 200
    if request.method == "POST":
        outcome = submit_dispute(form, lambda: disputes.open_plan_question(current_user, document.id,
                                                                           form.comment.data))
        if outcome.ok:
            return finish(url_for("sales.my_dispute", dispute_id=outcome.value.id),
                          "Your question is with your manager. You will get an email when they answer.")
        status = outcome.status
    return render_template("plandocs/question.html", document=document, form=form,
                           existing=disputes.open_question_for(document.id),
                           refusal=disputes.question_refusal(document)), status
