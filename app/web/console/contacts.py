"""Console contact import: check a CSV first, see every rejected line, then import it."""

import functools
import io
import secrets

from flask import current_app, flash, g, redirect, render_template, request, url_for

from app.infra.models import utcnow
from app.people import importer, users
from app.web.console.auth import requires
from app.web.console.blueprint import MAX_FILE, bp
from app.web.console.scope import area, area_name, holds
from app.web.db import get_db

KEEP_S = 30 * 60  # how long a checked file waits for its confirmation
SHOWN = 200  # rejected lines listed on the page; the count says how many there are
STOPS = ("columns", "csv", "rows")  # problems that stopped the reading: said first
MAX_ROWS = 10_000  # checked and imported well within a web request's time


def _run(text: str, dry_run: bool) -> importer.Report:
    """Check (dry_run) or import a CSV, held inside the user's scope."""
    catalog = current_app.extensions["catalog"]
    languages, cercles = set(catalog.languages), importer.cercle_names(catalog)
    limits = importer.Limits(rows=MAX_ROWS)
    if g.user.scope:
        inside = functools.partial(holds, area(g.user.scope))
        limits = importer.Limits(inside, area_name(g.user.scope), MAX_ROWS)
    return importer.import_csv(get_db(), io.StringIO(text), languages, dry_run, limits, cercles)


def _key(token: str) -> str:
    return f"{current_app.config['REDIS_PREFIX']}import:{g.user.id}:{token}"


@bp.route("/contacts/import", methods=["GET", "POST"])
@requires("admin", "supervisor")
def contacts_import():
    """Upload a CSV: the preview lists what would be added, updated and rejected."""
    if request.method == "GET":
        return render_template("console/import.html", report=None)
    upload = request.files.get("file")
    raw = upload.read(MAX_FILE + 1) if upload else b""
    if not raw or len(raw) > MAX_FILE:
        flash("console.import.no_file", "error")
        return render_template("console/import.html", report=None), 400
    text = "".join(importer.text_lines(io.BytesIO(raw)))
    report = _run(text, dry_run=True)
    token = secrets.token_urlsafe(16)
    current_app.extensions["redis"].set(_key(token), text.encode(), ex=KEEP_S)
    return render_template("console/import.html", report=report, token=token, **_listed(report))


@bp.post("/contacts/import/confirm")
@requires("admin", "supervisor")
def contacts_import_confirm():
    """Import the file checked a moment ago; its bad lines are skipped, as shown."""
    key = _key(request.form.get("token", ""))
    redis = current_app.extensions["redis"]
    text = redis.get(key)
    if text is None:
        flash("console.import.expired", "error")
        return redirect(url_for("console.contacts_import"))
    redis.delete(key)
    report = _run(text.decode(), dry_run=False)
    # Another area's contacts were left alone: an admin can place them, or see who asks.
    for _, code, params in report.problems:
        if code == "taken":
            users.audit(get_db(), g.user.email, "contact.import_refused", params["value"], utcnow())
    get_db().commit()
    flash("console.import.done", "ok")
    return render_template(
        "console/import.html", report=report, token=None, done=True, **_listed(report)
    )


def _listed(report: importer.Report) -> dict:
    """Return the problems to list, those that stopped the reading first, and how many more."""
    ordered = sorted(report.problems, key=lambda p: (p[1] not in STOPS, p[0]))
    return {"listed": ordered[:SHOWN], "more": max(0, len(ordered) - SHOWN)}
