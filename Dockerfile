# One image for every role: web (the default command), worker and scheduler (docker-compose.yml
# overrides the command). Build: docker build -t sales-tracking .
#
# Pinned to the Debian release so the system package names below stay valid.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# WeasyPrint (statement PDFs) loads Pango and HarfBuzz at run time and needs at least one font.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 \
        libpangoft2-1.0-0 \
        libharfbuzz-subset0 \
        fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# A fixed uid/gid, so files written to the instance volume have a predictable owner. A writable
# home gives fontconfig (used by WeasyPrint) somewhere to keep its cache.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app

WORKDIR /app

# Requirements first: code changes then reuse the cached dependency layer.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY --chown=root:root . .

# instance/ holds the outbox and (later) statement PDFs; docker-compose.yml mounts a volume here.
# Created in the image owned by the app user, so a fresh named volume inherits that owner.
RUN mkdir -p /app/instance && chown app:app /app/instance

ENV FLASK_APP=wsgi \
    APP_ENV=production

USER app

EXPOSE 8000

# No HEALTHCHECK here: the same image runs the worker and the scheduler, which serve no HTTP.
# docker-compose.yml gives the web service its /healthz check.
# `exec` makes gunicorn the shell's replacement, so it receives SIGTERM and shuts down gracefully.
# The access log line ends with the X-Request-Id the app answered with (webapp/request_ids.py).
CMD ["sh", "-c", "exec gunicorn --bind 0.0.0.0:8000 --workers ${WEB_CONCURRENCY:-3} --access-logfile - --access-logformat '%(h)s %(t)s \"%(r)s\" %(s)s %(b)s %(M)sms id=%({x-request-id}o)s' wsgi:app"]
