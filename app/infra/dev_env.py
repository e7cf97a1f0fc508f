"""var/dev.env: the settings `make run` started with, for a `kalan` command in another terminal.

`make run` chooses some settings itself when they are left unset: its embedded Redis,
the sandbox as the SMS provider, SMS at any hour, the demo enrolment codes. It writes
what it chose here, and the `kalan` command reads it in development, so that a case
assigned or a campaign created from a second terminal follows the same rules as the
worker that sends it. Production never reads it.
"""

import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

from app.infra.config import VAR

NAME = "dev.env"
# What `make run` sets when left unset, and nothing else: no secret goes in the file.
SHARED = (
    "PORT",
    "SANDBOX_PORT",
    "KALAN_URL",
    "DATABASE_URL",
    "RECORDINGS_DIR",
    "REDIS_URL",
    "AT_API_BASE_URL",
    "SMS_SEND_WINDOW",
    "TRAINING_RECALL_SMS",
    "VOICE_SAY_MISSING",
    "ORG_CODES",
    "VOICE_CALLBACK_NUMBERS",
    "SMS_PROVIDER",
    "SMS_ROUTES",
    "SMS_PORTED",
    "PUBLIC_URL",
    "ORANGE_API_BASE_URL",
    "ORANGE_CLIENT_ID",
    "ORANGE_SENDER",
    "INFOBIP_BASE_URL",
    "INFOBIP_SENDER",
    # Secrets, written only as the sandbox's own (SANDBOX_VALUES): never a real one.
    "ORANGE_CLIENT_SECRET",
    "INFOBIP_API_KEY",
)
SANDBOX_VALUES = {"ORANGE_CLIENT_SECRET": "sandbox-secret", "INFOBIP_API_KEY": "sandbox-key"}
HEADER = (
    "# Written by `make run` (kalan dev) each time it starts: the settings it runs with.\n"
    "# The `kalan` command reads them in development, after the shell and .env; edit .env\n"
    "# or the shell instead, as this file is rewritten.\n"
)


def path(environ: Mapping) -> Path:
    """Return where the file lives: VAR_DIR (default var/) as environ sets it."""
    return Path(environ.get("VAR_DIR") or VAR) / NAME


def write(environ: Mapping) -> Path:
    """Write the shared settings environ holds; return the file's path."""
    target = path(environ)
    lines = [
        f"{name}={_quoted(environ[name])}\n"
        for name in SHARED
        if environ.get(name) and SANDBOX_VALUES.get(name, environ[name]) == environ[name]
    ]
    partial = target.with_name(NAME + ".partial")
    # Readable by this user only, as the rest of var/; replaced whole, never half written.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(HEADER + "".join(lines))
    partial.replace(target)
    return target


def read(environ: Mapping) -> dict[str, str]:
    """Return what `make run` shared, for a command run in development; nothing otherwise."""
    if (environ.get("APP_ENV") or "development") != "development":
        return {}
    source = path(environ)
    if not source.is_file():
        return {}
    values = dotenv_values(source, encoding="utf-8")
    return {name: values[name] for name in SHARED if values.get(name)}


def _quoted(value: str) -> str:
    """Quote a value for dotenv: single quotes keep it as written."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
