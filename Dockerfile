# The ivr-survey service. `docker compose up -d --build` builds it (see docker-compose.yml, README "Operations");
# alone: docker build -t ivr-survey . && docker run -e IVR_SURVEY_API_TOKEN=... -p 8080:8080 ivr-survey
# No secret is baked in: every setting comes from the environment at run time.

# Builder: a venv with the dependencies and the project. The project is installed in editable mode from
# /opt/ivr-survey/app, the layout `make install` gives: migrate.py finds migrations/ next to the package
# source, which a wheel would not carry.
FROM python:3.11-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/ivr-survey/venv
WORKDIR /opt/ivr-survey/app
COPY pyproject.toml README.md alembic.ini ./
COPY ivr_survey ivr_survey
COPY migrations migrations
RUN /opt/ivr-survey/venv/bin/pip install --editable .

# Final: the venv and the source only, no build tools, run as an unprivileged user.
FROM python:3.11-slim-bookworm
ENV PATH=/opt/ivr-survey/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    IVR_SURVEY_HTTP_HOST=0.0.0.0 \
    IVR_SURVEY_SPOOL_DIR=/var/lib/ivr-survey/spool
# A fixed uid, so volumes and `runAsNonRoot`-style checks see the same user everywhere.
RUN groupadd --system --gid 10001 ivr-survey \
    && useradd --system --uid 10001 --gid ivr-survey --home-dir /var/lib/ivr-survey --no-create-home \
        --shell /usr/sbin/nologin ivr-survey \
    && install -d -o ivr-survey -g ivr-survey -m 0750 /var/lib/ivr-survey /var/lib/ivr-survey/spool
COPY --from=builder /opt/ivr-survey /opt/ivr-survey
USER 10001:10001
# The default SQLite database (./ivr_survey.db) lands here, on the data volume when one is mounted.
WORKDIR /var/lib/ivr-survey
EXPOSE 8080
# /healthz answers 200 while the database does (503 otherwise); the image has no curl, so Python asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('IVR_SURVEY_HTTP_PORT', '8080'), timeout=4)"]
# Migrations first (a failure stops here with one line), then the service as PID 1, so SIGTERM reaches it and
# surveys in progress drain for IVR_SURVEY_SHUTDOWN_GRACE.
CMD ["sh", "-c", "ivr-survey migrate && exec ivr-survey serve --no-migrate"]
