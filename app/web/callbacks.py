"""What every gateway callback shares: the URL token and strict form reading.

Flask's views read them from its request; the lean USSD edge (app/web/ussd_wsgi.py)
from the WSGI environ, with the same checks and the same 400 lines.
"""

import hmac
from collections.abc import Mapping
from urllib.parse import unquote

from flask import abort, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_content_length

from app.infra.db import holds_nul

MAX_FIELD = 1024  # bytes per form field
MAX_TEXT = 4096  # bytes of an SMS's text: a long SMS is several parts, accents two bytes each
MAX_BODY = 8 * 1024  # bytes per request body
# How request.form and request.args read bytes that are not UTF-8: kept percent-encoded.
URL_QUOTE = "werkzeug.url_quote"
# %xx of each ASCII character, either case: its first digit (0-7) has none.
_ASCII_ESCAPES = {f"{i:02{case}}": chr(i) for i in range(128) for case in "xX"}


class BadForm(ValueError):
    """A callback that cannot be read: its message is the 400's one line."""


def token_ok(given: str, expected: str) -> bool:
    """Tell whether a callback's token is the configured one (any, when none is set)."""
    return not expected or hmac.compare_digest(given.encode(), expected.encode())


def check_token() -> None:
    """Refuse the request with 403 unless it carries the configured token."""
    if not token_ok(request.args.get("token", ""), current_app.config["WEBHOOK_TOKEN"]):
        abort(403, "missing or wrong token")


def query_token(environ: Mapping) -> str:
    """Return the token parameter of a WSGI request's query string, as request.args reads it."""
    # PEP 3333 hands the query over as latin-1; bytes that are not UTF-8 make no valid token.
    query = environ.get("QUERY_STRING", "").encode("latin-1").decode("utf-8", "replace")
    return next((value for name, value in _pairs(query) if name == "token"), "")


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
    try:
        return fields_of(request.form, bool(body), fields, required, stored, filtered, texts)
    except BadForm as exc:
        abort(400, str(exc))


def read_wsgi_form(environ: Mapping) -> tuple[bytes, dict[str, str]]:
    """Return a WSGI request's body and its urlencoded form, read as read_form reads them.

    The form holds each name's first value; a body that is not UTF-8 gives none.
    Raises BadForm with read_form's line.
    """
    length = get_content_length(environ)
    if (length or 0) > MAX_BODY:
        raise BadForm(f"request body over {MAX_BODY} bytes")
    try:
        body = _wsgi_body(environ, length)
    except Exception:
        raise BadForm("malformed request body") from None
    if len(body) > MAX_BODY:
        raise BadForm(f"request body over {MAX_BODY} bytes")
    form: dict[str, str] = {}
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return body, form
    for name, value in _pairs(text):
        form.setdefault(name, value)
    return body, form


def _wsgi_body(environ: Mapping, length: int | None) -> bytes:
    """Read a body as get_input_stream(environ, max_content_length=MAX_BODY + 1).read() does.

    Its reads without its LimitedStream, a third of a hop's form reading: a stream the
    server ends (gunicorn's, chunked or not) is read to its end but cut one byte past
    the limit; otherwise Content-Length bytes exactly, fewer being a client gone (an
    error), and none without a length.
    """
    stream = environ["wsgi.input"]
    if "wsgi.input_terminated" in environ:
        left, exact = MAX_BODY + 1, False
    elif length is None:
        return b""
    else:
        left, exact = length, True
    chunks = []
    while left > 0:
        data = stream.read(min(left, 64 * 1024))
        if not data:
            if exact:
                raise ValueError("the body ended before its Content-Length")
            break
        chunks.append(data)
        left -= len(data)
    return b"".join(chunks)


def _pairs(text: str):
    """Yield a query's (name, value) pairs as parse_qsl(text, keep_blank_values=True) reads
    them, bytes that are not UTF-8 kept percent-encoded (URL_QUOTE).

    The same splitting and unquote, without its calls on what holds no escape: parse_qsl
    was a tenth of a navigation hop's instructions.
    """
    for pair in text.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            yield _unquoted(name), _unquoted(value)


def _unquoted(part: str) -> str:
    """Decode a query's name or value as unquote does: + is a space, %xx an escape."""
    if "+" in part:
        part = part.replace("+", " ")
    if "%" not in part:
        return part
    # Escapes of ASCII characters (*, #, + in a hop) read from a table; anything else
    # (a UTF-8 byte, a % that escapes nothing) by unquote, with its rules.
    head, *escaped = part.split("%")
    out = [head]
    for item in escaped:
        char = _ASCII_ESCAPES.get(item[:2])
        if char is None:
            return unquote(part, errors=URL_QUOTE)
        out.append(char)
        out.append(item[2:])
    return "".join(out)


def fields_of(
    form: Mapping[str, str],
    has_body: bool,
    fields: tuple[str, ...],
    required: tuple[str, ...],
    stored: bool = True,
    filtered: tuple[str, ...] = (),
    texts: tuple[str, ...] = (),
) -> dict[str, str]:
    """Return the named fields of a parsed form (see read_form), or raise BadForm."""
    if has_body and not form:
        raise BadForm("body is not UTF-8 form data (application/x-www-form-urlencoded)")
    missing = [name for name in required if name not in form]
    if missing:
        raise BadForm("missing field: " + ", ".join(missing))
    values = {}
    for name in fields:
        value = form.get(name, "")
        if name in filtered:
            values[name] = value
            continue
        limit = MAX_TEXT if name in texts else MAX_FIELD
        if len(value.encode("utf-8", "surrogatepass")) > limit:
            raise BadForm(f"field {name} over {limit} bytes")
        if stored and holds_nul(value):  # no text column takes it, and no gateway sends it
            raise BadForm(f"field {name} contains a NUL character")
        values[name] = value
    return values
