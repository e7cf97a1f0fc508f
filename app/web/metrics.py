"""GET /metrics: Prometheus's scrape, for whoever holds METRICS_TOKEN (without it, in
development, for this machine only)."""

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, request

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape():
    """Answer every family in Prometheus's text format."""
    refused = _refused()
    if refused is not None:
        return refused
    body, content_type = current_app.extensions["metrics"].render(request.headers.get("Accept"))
    return Response(body, content_type=content_type)


def _refused() -> Response | None:
    """Return the answer to a scrape that may not read the metrics, or None if it may."""
    expected = current_app.config["METRICS_TOKEN"]
    if not expected:
        # Production refuses to start without it; a test's app may still be "production".
        if current_app.config["APP_ENV"] == "production" or not _loopback(request.remote_addr):
            return _plain(403, "METRICS_TOKEN is not set: /metrics answers this machine only")
        return None
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        answer = _plain(401, "/metrics needs the header Authorization: Bearer METRICS_TOKEN")
        answer.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return answer
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        return _plain(403, "wrong metrics token")
    return None


def _loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def _plain(status: int, line: str) -> Response:
    return Response(line + "\n", status=status, mimetype="text/plain")
