"""The bare-framework ceiling: a Flask app that answers every hop with one fixed screen."""

from flask import Flask, request

SCREEN = "CON Kalan - Menu principal\n1. Formation\n2. Signaler un enfant\n3. Quitter"


def create_app() -> Flask:
    """Return the bare app: /ussd reads the form, like Kalan, and answers a fixed CON screen."""
    app = Flask(__name__)

    @app.post("/ussd")
    def ussd():
        request.form.get("text")
        return SCREEN, 200, {"Content-Type": "text/plain; charset=utf-8"}

    @app.get("/healthz")
    def healthz():
        return "ok"

    return app
