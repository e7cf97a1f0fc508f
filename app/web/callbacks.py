"""What every gateway callback shares: the URL token and strict form reading."""

import hmac

from flask import abort, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.infra.db import holds_nul

MAX_FIELD = 1024  # bytes per form field
MAX_TEXT = 4096  # bytes of an SMS's text: a long SMS is several parts, accents two bytes each
MAX_BODY = 8 * 1024  # bytes per request body


def check_token() -> None:
    """Refuse the request with 403 unless it carries the configured token."""
    expected = current_app.config["WEBHOOK_TOKEN"]
    if not expected:
        return
    given = request.args.get("token", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        abort(403, "missing or wrong token")


def read_form(
    fields: tuple[str, ...],
    required: tuple[str, ...],
    stored: bool = True,
    filtered: tuple[str, ...] = (),
    texts: tuple[str, ...] = (),
) -> dict[str, str]:
    """Return the named form fields, or abort with 400 naming what is wrong.

    stored says the values go to the database, which refuses NUL characters.
    filtered names fields read whatever they hold, within the body's limit: the
    caller keeps only what it recognises in them, so they never refuse a request.
    texts names fields that hold an SMS's text, which may be longer (MAX_TEXT).
    """
    if request.content_length is not None and request.content_length > MAX_BODY:
        abort(400, f"request body over {MAX_BODY} bytes")
    try:
        # Read the body ourselves: a chunked body has no length to check up
        # front, and broken chunk framing must be the client's error, not ours.
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise
    except Exception:
        abort(400, "malformed request body")
    if len(body) > MAX_BODY:
        abort(400, f"request body over {MAX_BODY} bytes")
    form = request.form
    if body and not form:
        abort(400, "body is not UTF-8 form data (application/x-www-form-urlencoded)")
    missing = [name for name in required if name not in form]
    if missing:
        abort(400, "missing field: " + ", ".join(missing))
    values = {}
    for name in fields:
        value = form.get(name, "")
        if name in filtered:
            values[name] = value
            continue
        limit = MAX_TEXT if name in texts else MAX_FIELD
        if len(value.encode("utf-8", "surrogatepass")) > limit:
            abort(400, f"field {name} over {limit} bytes")
        if stored and holds_nul(value):  # no text column takes it, and no gateway sends it
            abort(400, f"field {name} contains a NUL character")
        values[name] = value
    return values
