"""Kalan's app for gunicorn in the tests, plus /gc: what the worker's garbage collector walks."""

import gc
import json

from app import create_app

kalan = create_app()


def app(environ, start_response):
    """Answer /gc with the objects frozen and those still walked; pass the rest to Kalan."""
    if environ["PATH_INFO"] != "/gc":
        return kalan(environ, start_response)
    counts = {"frozen": gc.get_freeze_count(), "walked": len(gc.get_objects())}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(counts).encode()]
