"""Console case pages: the list, a case with its timeline and actions, and the CSV export."""

import csv
import functools
import io
import math

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import func, select

from app import cases
from app.cases import alerts, focal_points, recordings
from app.infra import keyring
from app.infra.models import Case, utcnow
from app.people import users
from app.people.contacts import normalize
from app.training.report import safe_cell
from app.web.console import case_filters, cercle_map
from app.web.console.auth import requires
from app.web.console.blueprint import bp
from app.web.console.timeline import lines
from app.web.db import get_db
from flows.desk import FOLLOW_UP, SERVICES, STATES

STATUSES = STATES  # the CLMRS states, in their order
EXPORT = cases.EXPORT_FIELDS
PAGE = 50  # cases a page; the others are a link away


def visible(query):
    """Narrow a case query to what the signed-in user may see."""
    scope = g.user.scope
    if scope:
        kind, value = scope.split("=", 1)
        query = query.where((Case.cercle if kind == "cercle" else Case.region) == value)
    return query


def _case(reference: str) -> Case:
    """Return a case this user may see, or 404 (not 403: its existence is not told)."""
    query = visible(select(Case).where(Case.reference == reference.strip().upper()))
    case = get_db().scalars(query).first()
    if case is None:
        abort(404)
    return case


@bp.get("/cases", endpoint="cases")
@requires()
def cases_list():
    """List cases, urgent and oldest first, a page at a time, with filters and the map."""
    db, scope = get_db(), g.user.scope
    chosen = case_filters.read(request.args, scope)
    query = chosen.narrow(visible(select(Case)))
    total = db.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(1, math.ceil(total / PAGE))
    page = min(chosen.page, pages)
    # Times are kept to the hour, so many cases tie: the id keeps each on one page only.
    order = (Case.urgent.desc(), Case.created_at, Case.id)
    rows = list(db.scalars(query.order_by(*order).limit(PAGE).offset((page - 1) * PAGE)))
    return render_template(
        "console/cases.html", rows=rows, statuses=STATUSES, chosen=chosen, now=utcnow(),
        regions=case_filters.choices(scope), unknown=case_filters.sees_unknown(scope),
        page=page, pages=pages, total=total, first=(page - 1) * PAGE + 1,
        last=(page - 1) * PAGE + len(rows), **_map(db, scope),
        place=functools.partial(alerts.place, current_app.extensions["catalog"]),
    )  # fmt: skip


def _map(db, scope: str | None) -> dict:
    """Return the map of reports per cercle in the user's area, and its figures."""
    by_cercle = select(Case.cercle, func.count()).group_by(Case.cercle)
    counts = dict(db.execute(visible(by_cercle)).all())
    shown = [code for _, cercles in case_filters.choices(scope) for code in cercles]
    catalog = current_app.extensions["catalog"]

    def href(code: str) -> str:
        return url_for("console.cases", cercle=code)

    unplaced = sum(n for code, n in counts.items() if code not in shown)  # unknown, or none
    return {
        "map": cercle_map.draw(counts, shown, catalog.get, href),
        "by_cercle": {code: counts.get(code, 0) for code in shown},
        "unplaced": unplaced,
    }


@bp.get("/cases/<reference>")
@requires()
def case_detail(reference: str):
    """Show a case, its timeline and, to those who may, the actions."""
    case = _case(reference)
    db = get_db()
    users.audit(db, g.user.email, "case.view", case.reference, utcnow())
    db.commit()
    host = cases.primary(db, case) if case.linked_to else None
    return render_template(
        "console/case.html", case=case, history=lines(cases.history(db, case)), host=host,
        steps=cases.next_steps(case), services=SERVICES, follow_up=FOLLOW_UP,
        place=alerts.place(current_app.extensions["catalog"], case),
        can_act=g.user.role != "viewer" and host is None,
        focal=[p.phone for p in focal_points.covering(db, case)],
        recordings=recordings.of_case(db, case),
    )  # fmt: skip


@bp.get("/cases/<reference>/recordings/<int:recording_id>")
@requires()
def case_recording(reference: str, recording_id: int):
    """Play a case's recording to whoever may see the case; audited as the case's view is."""
    case = _case(reference)
    db = get_db()
    recording = recordings.find(db, case, recording_id)
    if recording is None:
        abort(404)
    try:
        audio = recordings.read(current_app.config, recording)
    except recordings.Unreadable:
        abort(404)
    # A player asks again for each part it seeks to: one line per listen, not per part.
    if request.headers.get("Range", "bytes=0-").startswith("bytes=0-"):
        target = f"{case.reference}/{recording.id}"
        users.audit(db, g.user.email, "case.listen", target, utcnow())
        db.commit()
    response = Response(audio, mimetype=recording.content_type)
    response.headers["Cache-Control"] = "private, no-store"
    return response.make_conditional(request, accept_ranges=True, complete_length=len(audio))


@bp.post("/cases/<reference>/move")
@requires("admin", "supervisor")
def case_move(reference: str):
    """Move a case on, or record a follow-up visit, with a note."""
    db = get_db()
    case = _case(reference)
    case = cases.find(db, case.reference, lock=True)
    status = request.form.get("status", "")
    note = " ".join(request.form.get("note", "").split())[:500]
    actor = f"console:{g.user.email}"
    try:
        if status == FOLLOW_UP:
            cases.follow_up(db, current_app.config, case, actor, note, utcnow())
        else:
            service = request.form.get("service")
            cases.move(db, current_app.config, case, status, actor, note, utcnow(), service)
    except cases.CaseError:
        db.rollback()
        flash("console.case.move_refused", "error")
        return redirect(url_for("console.case_detail", reference=case.reference))
    db.commit()
    flash("console.case.moved", "ok")
    return redirect(url_for("console.case_detail", reference=case.reference))


@bp.post("/cases/<reference>/assign")
@requires("admin", "supervisor")
def case_assign(reference: str):
    """Give a case to a focal point of its area, who gets an SMS."""
    case = _case(reference)
    phone, refused = normalize(request.form.get("phone", "")), "bad_phone"
    if phone is not None:
        # Only someone who covers the case: the SMS names the place, and costs money.
        point = focal_points.find(get_db(), phone)
        covering = {p.id for p in focal_points.covering(get_db(), case)}
        if point is None or point.id not in covering:
            phone, refused = None, "not_focal"
    return _act(case, phone, refused, _assign, "assigned")


def _assign(db, case: Case, phone: str, actor: str, now) -> None:
    config, catalog = current_app.config, current_app.extensions["catalog"]
    cases.assign(db, config, catalog, case, phone, actor, now)


@bp.post("/cases/<reference>/note")
@requires("admin", "supervisor")
def case_note(reference: str):
    """Add a note to a case's timeline without moving it."""
    note = " ".join(request.form.get("note", "").split())[:500]
    return _act(_case(reference), note or None, "empty_note", cases.note, "noted")


def _act(case: Case, value, refused: str, apply, done: str):
    """Apply one change with a checked value, say how it went, and go back to the case."""
    db = get_db()
    if case.linked_to is not None:  # a report inside another case: that case is acted on
        value, refused = None, "move_refused"
    if value is None:
        flash(f"console.case.{refused}", "error")
        return redirect(url_for("console.case_detail", reference=case.reference))
    try:
        apply(db, case, value, f"console:{g.user.email}", utcnow())
    except cases.CaseError:
        db.rollback()
        flash("console.case.move_refused", "error")
    else:
        db.commit()
        flash(f"console.case.{done}", "ok")
    return redirect(url_for("console.case_detail", reference=case.reference))


@bp.get("/cases/export.csv")
@requires("admin", "supervisor")
def cases_export():
    """Download the visible cases as CSV; the reporter's number for admins only."""
    db = get_db()
    now, reveal = utcnow(), g.user.role == "admin"  # never a supervisor's, even national
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*EXPORT, "linked_to", *(["reporter_phone"] if reveal else [])])
    rows = list(db.scalars(visible(select(Case)).order_by(Case.id)))
    references = {c.id: c.reference for c in rows}
    cipher = keyring.fernet(current_app.config["REPORTER_KEY"]) if reveal else None
    for c in rows:
        extra = []
        if reveal:
            extra = [cipher.decrypt(c.reporter_phone.encode()).decode() if c.reporter_phone else ""]
            if c.reporter_phone:  # one line per number taken away: whose, by whom, when
                users.audit(db, g.user.email, "case.reporter_export", c.reference, now)
        cells = [*(getattr(c, f) for f in EXPORT), references.get(c.linked_to, ""), *extra]
        writer.writerow([safe_cell(cell) for cell in cells])
    users.audit(db, g.user.email, "cases.export", f"{len(rows)} cases", now)
    db.commit()
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=cases.csv"},
    )
