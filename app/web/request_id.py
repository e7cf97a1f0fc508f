"""X-Request-Id: one id per HTTP request, on every log line it leads to, in the jobs it queues
and in its answer's headers."""

import random
import re

from app.infra import logs

# What a proxy or a gateway may have chosen; anything else (too long, spaces, quotes) could
# forge or break a log line, and a new id is drawn instead; so is one that looks like a phone.
SANE = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


class RequestId:
    """WSGI middleware: set the request's id in the log context for as long as it is answered,
    its body's streaming and closing included."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        given = environ.get("HTTP_X_REQUEST_ID", "")
        sane = SANE.match(given) and not logs.PHONE.search(given)
        # Unique, not secret: Python's generator (reseeded in each forked worker), not the
        # system's, which costs a system call a request.
        request_id = given if sane else f"{random.getrandbits(128):032x}"
        token = logs.REQUEST_ID.set(request_id)

        def start(status, headers, exc_info=None):
            headers.append(("X-Request-Id", request_id))
            return start_response(status, headers, exc_info)

        try:
            body = self.wsgi_app(environ, start)
        finally:
            logs.REQUEST_ID.reset(token)
        wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(body, list | tuple) or (
            isinstance(wrapper, type) and isinstance(body, wrapper)
        ):
            # Nothing runs while the server writes it out (and a file keeps its sendfile).
            return body
        return Streamed(body, request_id)


class Streamed:
    """A body the server iterates after the app returned: the request's id is set again for
    each chunk the app makes, and for its close()."""

    def __init__(self, body, request_id: str):
        self.body, self.request_id = body, request_id

    def __iter__(self):
        chunks = iter(self.body)
        while True:
            token = logs.REQUEST_ID.set(self.request_id)
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            finally:
                logs.REQUEST_ID.reset(token)
            yield chunk

    def close(self) -> None:
        """Close the app's body (WSGI asks the server to), with the request's id set."""
        close = getattr(self.body, "close", None)
        if close is not None:
            token = logs.REQUEST_ID.set(self.request_id)
            try:
                close()
            finally:
                logs.REQUEST_ID.reset(token)
