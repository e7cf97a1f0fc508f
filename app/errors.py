"""HTTP errors as one plain line: gateways log it, and no traceback leaks."""

from flask import Flask, Response
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .callbacks import MAX_BODY


def _plain(status: int, line: str) -> Response:
    return Response(line + "\n", status=status, mimetype="text/plain")


def init_app(app: Flask) -> None:
    """Register handlers that answer every HTTP error with one line."""

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc):
        # The rule is 400 for any oversized input, whatever layer notices it.
        return _plain(400, f"request body over {MAX_BODY} bytes")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        description = exc.description if exc.code in (400, 403) else exc.name
        response = _plain(exc.code or 500, str(description).splitlines()[0])
        # Keep what the error says besides its text, such as Allow on a 405.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        return _plain(500, "internal error")
