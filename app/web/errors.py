"""HTTP errors as one plain line: gateways log it, and no traceback leaks."""

from flask import Flask, Response, g, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from app.web.callbacks import MAX_BODY


def _plain(status: int, line: str) -> Response:
    return Response(line + "\n", status=status, mimetype="text/plain")


def _page(status: int):
    """A console error as a page in French, for people rather than gateways."""
    db = g.get("db")
    if db is not None:
        db.rollback()  # a failed statement leaves the session unusable for the page itself
    code = status if status in (400, 403, 404, 405, 413, 429) else 500
    return render_template("console/error.html", code=code), status


def _for_people() -> bool:
    return request.path == "/console" or request.path.startswith("/console/")


def init_app(app: Flask) -> None:
    """Register handlers that answer every HTTP error with one line."""

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc):
        if _for_people():
            return _page(413)
        # The rule is 400 for any oversized input, whatever layer notices it; the limit is
        # the endpoint's own (the JSON callbacks take more than a form).
        limit = (request.max_content_length or MAX_BODY + 1) - 1
        return _plain(400, f"request body over {limit} bytes")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if _for_people():
            return _page(exc.code or 500)
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
        if _for_people():
            return _page(500)
        return _plain(500, "internal error")
