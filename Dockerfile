# Sanzhida (三直达) service image: the web app, its migrations and the scheduler.
# One image serves both the `web` and the `scheduler` containers (see docker-compose.yml).

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    SANZHIDA_ENV=production

# A fixed uid/gid so volume and file ownership stay stable across rebuilds.
RUN groupadd --system --gid 10001 sanzhida \
    && useradd --system --uid 10001 --gid sanzhida --create-home \
        --home-dir /home/sanzhida --shell /usr/sbin/nologin sanzhida

# Build from a scratch directory and delete it afterwards, so only the installed
# package is importable (gunicorn puts the working directory on sys.path).
COPY pyproject.toml README.md /tmp/src/
COPY config /tmp/src/config
COPY models /tmp/src/models
COPY services /tmp/src/services
COPY handlers /tmp/src/handlers
COPY runtime /tmp/src/runtime
COPY bot /tmp/src/bot
COPY workers /tmp/src/workers
COPY scheduler /tmp/src/scheduler
COPY cli /tmp/src/cli
# The dev tools add `serve`, `dev run`, `fake-wechat` and `seed demo` to the command line; each
# refuses or leaves out what is development-only when SANZHIDA_ENV=production.
COPY devtools /tmp/src/devtools
# psycopg[binary] and cryptography ship manylinux wheels, so no compiler or libpq is needed.
RUN pip install --no-cache-dir /tmp/src \
    && rm -rf /tmp/src

# The working directory stays root-owned: production keeps all state in Postgres and Redis.
WORKDIR /app

USER sanzhida

EXPOSE 8000

# Liveness only; /readyz (DB, Redis, migrations) is for load balancers and operators.
# Python instead of curl, which the slim image lacks; any error exits non-zero.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]

# Migrate first so the app never serves an old schema, then exec so gunicorn gets the
# stop signals. config/gunicorn.py holds the server settings (port 8000, WEB_CONCURRENCY workers).
CMD ["sh", "-c", "sanzhida db upgrade && exec gunicorn -c python:config.gunicorn --access-logfile - --error-logfile - 'bot.app:create_app()'"]
