"""Dispute forms: open (agent), reply (both sides), accept and reject (managers); a plan
question (agent) and its answer (managers)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import TextAreaField

from webapp.formtools import PlainText, SignedMoneyField


class DisputeOpenForm(FlaskForm):
    """The agent's comment on the line they dispute."""

    comment = TextAreaField("What is wrong with this line?", validators=[PlainText(multiline=True)],
                            render_kw={"rows": 5, "maxlength": 2000})


class DisputeReplyForm(FlaskForm):
    """A message added to the thread."""

    body = TextAreaField("Your reply", validators=[PlainText(multiline=True)],
                         render_kw={"rows": 3, "maxlength": 2000})


class DisputeAcceptForm(FlaskForm):
    """Accept with an adjustment posted to today's period."""

    amount = SignedMoneyField("Adjustment amount", render_kw={"inputmode": "decimal", "autocomplete": "off"})
    note = TextAreaField("Note to the agent (optional)", validators=[PlainText(multiline=True)],
                         render_kw={"rows": 2, "maxlength": 2000})


class DisputeRejectForm(FlaskForm):
    """Reject with a reason the agent will read."""

    reason = TextAreaField("Reason", validators=[PlainText(multiline=True)],
                           render_kw={"rows": 2, "maxlength": 2000})


class PlanQuestionForm(FlaskForm):
    """The agent's question about one of their plan documents."""

    comment = TextAreaField("Your question", validators=[PlainText(multiline=True)],
                            render_kw={"rows": 5, "maxlength": 2000})


class PlanAnswerForm(FlaskForm):
    """The manager's answer to a plan question (it closes the question)."""

    answer = TextAreaField("Your answer", validators=[PlainText(multiline=True)],
                           render_kw={"rows": 4, "maxlength": 2000})
