"""X-Request-Id: one id per HTTP request, on every log line it leads to, in the jobs it queues
and in its answer's headers."""

import re
import uuid

from app.infra import logs

# What a proxy or a gateway may have chosen; anything else (too long, spaces, quotes) could
# forge or break a log line, and a new id is drawn instead; so is one that looks like a phone.
SANE = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


class RequestId:
    """WSGI middleware: set the request's id in the log context for as long as it is answered."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        given = environ.get("HTTP_X_REQUEST_ID", "")
        sane = SANE.match(given) and not logs.PHONE.search(given)
        request_id = given if sane else uuid.uuid4().hex
        token = logs.REQUEST_ID.set(request_id)

        def start(status, headers, exc_info=None):
            headers.append(("X-Request-Id", request_id))
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi_app(environ, start)
        finally:
            logs.REQUEST_ID.reset(token)
