# Kalan's image: one image for every process of the Procfile (web, worker, clock,
# release), run as a user without privileges. Built by `docker compose up` (compose.yaml);
# see docs/deploy.md.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/kalan \
    PATH=/opt/kalan/bin:$PATH \
    APP_ENV=production \
    PORT=5000 \
    XDG_RUNTIME_DIR=/tmp

WORKDIR /app

# espeak-ng and sox make the calls' placeholder prompts (kalan audio build), below.
RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng sox \
 && rm -rf /var/lib/apt/lists/*

# Production's packages exactly as the lock pins them, hashes checked (the README's
# production install); first, so that a change of code alone does not reinstall them.
COPY requirements.lock ./
RUN python -m venv "$VIRTUAL_ENV" \
 && pip install --quiet 'pip==26.3' \
 && pip install --quiet --require-hashes --no-deps -r requirements.lock

# Then Kalan itself, editable: config.py finds content/ and .env.example beside the code.
COPY . .
RUN pip install --quiet --no-deps --no-build-isolation -e . \
 && python -m compileall -q app flows workers sandbox \
 && APP_ENV=development kalan audio build --lang fr \
 && groupadd --system --gid 10001 kalan \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin kalan \
 && install -d -o 10001 -g 10001 -m 0700 /app/var/recordings

# Owned by root and read-only to the service: it writes nothing to disk but gunicorn's
# control socket, in /tmp (XDG_RUNTIME_DIR; a tmpfs in compose.yaml), as its home has none,
# and the reports' recordings, in /app/var/recordings (the volume compose.yaml mounts
# there takes the folder's owner and mode from the image).
USER 10001:10001
EXPOSE 5000
# Meant for web; compose.yaml turns it off for the other processes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "/app/deploy/healthcheck.py"]
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["web"]
