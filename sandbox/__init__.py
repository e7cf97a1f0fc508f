"""Sandbox: an offline stand-in for Africa's Talking that dials Kalan."""

import os

from flask import Flask

from sandbox import simulator
from sandbox.calls import Calls


def create_app(test_config=None):
    """Create the sandbox web app, configured from the environment."""
    app = Flask(__name__)
    port = os.environ.get("PORT", "5000")
    app.config.from_mapping(
        KALAN_URL=os.environ.get("KALAN_URL", f"http://127.0.0.1:{port}"),
        WEBHOOK_TOKEN=os.environ.get("WEBHOOK_TOKEN", ""),
        USSD_CODE=os.environ.get("USSD_CODE", "*123#"),
        USSD_MAX_CHARS=int(os.environ.get("USSD_MAX_CHARS", "160")),
        SANDBOX_USSD_DEADLINE_S=float(os.environ.get("SANDBOX_USSD_DEADLINE_S", "10")),
        SANDBOX_USSD_IDLE_S=float(os.environ.get("SANDBOX_USSD_IDLE_S", "180")),
    )
    if test_config is not None:
        app.config.update(test_config)
    # Live calls are kept in this process's memory, so the sandbox runs as a
    # single process (threads are fine): another worker would not know them.
    app.extensions["ussd_calls"] = Calls()
    app.register_blueprint(simulator.bp)
    return app
