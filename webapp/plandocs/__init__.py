"""Plan documents: the plain-language contract of each plan version an agent is on, issued
immutable (numbered, hashed), acknowledged by the agent or questioned, and followed up.

Pages: the agent's (/plan-documents/...), the manager's (/manage/plan-documents) and the
admin's (/admin/plan-documents), all on this blueprint.
"""

from flask import Blueprint

bp = Blueprint("plandocs", __name__)
