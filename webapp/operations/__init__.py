"""Heavy operations run as background jobs, in committed batches, with a progress page.

models.py (the BackgroundOperation row), services.py (start inline or as a job, the step the job
runs, retry, the sweep; each domain registers the work of its kind), routes.py (the page).
"""

from flask import Blueprint

bp = Blueprint("operations", __name__)
