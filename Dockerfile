# Sanzhida (三直达) service image: the web app, its migrations, the scheduler and the workers.
# One image serves the `web`, `scheduler`, `inbox` and `media` containers (see docker-compose.yml).

# Debian 12 (bookworm), pinned: its postgresql-client is 15, the same major version as
# docker-compose's postgres:15, so backups restore into the server they came from.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    SANZHIDA_ENV=production

# ffmpeg (Debian's package) makes WeChat's AMR/Speex voice playable as MP3 and gives the speech
# recogniser its PCM; plain ffmpeg decodes AMR and encodes MP3, so no extra codecs are needed.
# postgresql-client gives `sanzhida backup` and `restore` pg_dump and pg_restore (15, as the server).
# The monthly report's PDF is laid out by WeasyPrint, which needs Pango (and HarfBuzz's subsetter to
# embed only the glyphs used), and set in a CJK font, fonts-wqy-zenhei, which its charts use too.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg postgresql-client \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-wqy-zenhei \
    && rm -rf /var/lib/apt/lists/*

# A fixed uid/gid so volume and file ownership stay stable across rebuilds.
RUN groupadd --system --gid 10001 sanzhida \
    && useradd --system --uid 10001 --gid sanzhida --create-home \
        --home-dir /home/sanzhida --shell /usr/sbin/nologin sanzhida

# Where voice, photos and video are kept when MEDIA_STORE_URL is a file:// folder, and where
# `sanzhida backup` writes in docker-compose; a named volume mounted here starts with this ownership,
# so the unprivileged user can write to it.
ENV MEDIA_STORE_URL=file:///var/lib/sanzhida/media
RUN mkdir -p /var/lib/sanzhida/media /var/lib/sanzhida/backups \
    && chown -R sanzhida:sanzhida /var/lib/sanzhida

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
# The dev tools add `serve`, `dev run`, `fake-wechat`, `fake-asr` and `seed demo` to the command line; each
# refuses or leaves out what is development-only when SANZHIDA_ENV=production.
COPY devtools /tmp/src/devtools
# psycopg[binary] and cryptography ship manylinux wheels, so no compiler or libpq is needed.
RUN pip install --no-cache-dir /tmp/src \
    && rm -rf /tmp/src

# The working directory stays root-owned: production keeps its state in Postgres and Redis, and
# media in the folder above (or an S3-compatible bucket).
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
