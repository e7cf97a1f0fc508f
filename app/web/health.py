"""GET /healthz: whether Redis and the database answer."""

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

bp = Blueprint("health", __name__)


def _probe(check) -> str:
    """Run a check and return "ok" or the short reason it failed."""
    try:
        check()
    except Exception as exc:  # any failure is the answer, not an error
        return f"error: {type(exc).__name__}"
    return "ok"


def _database() -> None:
    with current_app.extensions["db"]() as db:
        db.execute(text("SELECT 1"))


@bp.get("/healthz")
def healthz():
    """Report each dependency; 503 names the failing one."""
    parts = {
        "redis": _probe(current_app.extensions["redis"].ping),
        "database": _probe(_database),
    }
    healthy = all(v == "ok" for v in parts.values())
    failing = [name for name, v in parts.items() if v != "ok"]
    body = {"status": "ok" if healthy else "error", **parts}
    if failing:
        body["failing"] = failing
    return jsonify(body), 200 if healthy else 503
