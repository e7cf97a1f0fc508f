"""POST /ussd as a plain WSGI callable: a gateway's hop without Flask's request machinery.

A navigation hop costs a few hundred microseconds of Python, and Flask's request
and app contexts, routing, request and response objects were a quarter of them.
This edge reads the hop straight from the WSGI environ, with every check of the
Flask view (app/web/ussd.py) and the same answers, line for line; whatever else
comes to /ussd (another method, a multipart body) goes on to Flask, which
answers it as it always has.
"""

from collections.abc import Callable, Iterable

from flask import Flask

from app.conversation.hop import Refused
from app.web.callbacks import BadForm, fields_of, query_token, read_wsgi_form, token_ok
from app.web.ussd import HOP_FIELDS, HOP_REQUIRED, answer_hop, apology, hop_phone

FORM = "application/x-www-form-urlencoded"
PLAIN = "text/plain; charset=utf-8"
STATUS = {200: "200 OK", 400: "400 BAD REQUEST", 403: "403 FORBIDDEN"}


class UssdEdge:
    """The app's WSGI callable: gateways' hops answered here, every other request by rest."""

    def __init__(self, app: Flask, rest: Callable):
        self.app = app  # its settings and extensions are read per hop: tests change them
        self.rest = rest

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Answer POST /ussd with a form body; hand any other request to rest."""
        if not (
            environ.get("PATH_INFO") == "/ussd"
            and environ.get("REQUEST_METHOD") == "POST"
            and _is_form(environ.get("CONTENT_TYPE", ""))
        ):
            return self.rest(environ, start_response)
        try:
            status, text, node = self.hop(environ)
        except Exception:
            # Whatever broke, a gateway gets a last screen, never a 500.
            self.app.logger.exception("unexpected error around a USSD hop")
            status, text, node = 200, apology(self.app, "error.unexpected"), None
        body = text.encode()
        headers = [("Content-Type", PLAIN), ("Content-Length", str(len(body)))]
        if node:
            # Africa's Talking shows this label per hop and sums the labels up in
            # the end-of-session notification: where callers go, and where they stop.
            headers.append(("at-ussd-hop-metadata", node[:99]))
        start_response(STATUS[status], headers)
        return [body]

    def hop(self, environ: dict) -> tuple[int, str, str | None]:
        """Return a hop's status, body and node, as the Flask view and its errors would."""
        app = self.app
        expected = app.config["WEBHOOK_TOKEN"]
        if expected and not token_ok(query_token(environ), expected):
            return 403, "missing or wrong token\n", None
        try:
            body, form = read_wsgi_form(environ)
            # A hop's text only ever reaches Redis, and each field is checked.
            form = fields_of(form, bool(body), HOP_FIELDS, HOP_REQUIRED, stored=False)
            phone = hop_phone(form)
        except BadForm as exc:
            return 400, f"{exc}\n", None
        try:
            reply, node = answer_hop(app, form, phone)
        except Refused as exc:
            return 403, f"{exc}\n", None
        return 200, reply, node


def _is_form(content_type: str) -> bool:
    """Tell whether a Content-Type is an urlencoded form, parameters aside."""
    return content_type == FORM or content_type.partition(";")[0].strip().lower() == FORM
