"""Console contacts: the searchable list, each contact's page, edits, opt-out and back in,
and deletion with their data. Scoped like every page; viewers only read."""

import functools

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from redis.exceptions import RedisError
from sqlalchemy import select

from app.infra import keyring
from app.infra.models import ROLES, Contact, utcnow
from app.messaging.campaigns.audience import in_area
from app.people import consent, directory, erasure, importer, users
from app.people.history import history
from app.web.console.auth import requires
from app.web.console.blueprint import bp
from app.web.console.scope import area, area_name, holds, inside, narrow
from app.web.db import get_db
from flows.report import REGIONS

MAX_ID = 2**31  # beyond a database integer: no such contact


def _cercles() -> list[str]:
    """Return the cercles the user may filter on: those of their area, or all."""
    scope = g.user.scope or ""
    kind, _, value = scope.partition("=")
    if kind == "cercle":
        return [value]
    regions = [value] if kind == "region" else list(REGIONS)
    return [c for region in regions for c in REGIONS[region]]


def _places(cercle: str) -> tuple:
    """Return the area conditions: the user's scope, and the cercle chosen if any."""
    places = [inside()] if g.user.scope else []
    if cercle in _cercles():
        places.append(in_area(area(f"cercle={cercle}")))  # by its code or its name
    return tuple(places)


def page_number() -> int:
    """Return the page asked for in the query string; 1 for anything but a small number."""
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 6 else 1


@bp.get("/contacts", endpoint="contacts")
@requires()
def contacts_list():
    """List contacts, found by part of a name or number, a cercle, role, organisation and
    training status, a page at a time."""
    args = request.args
    cercle = args.get("cercle", "").strip().lower()
    role = args.get("role", "") if args.get("role", "") in ROLES else ""
    training = args.get("training", "") if args.get("training") in directory.TRAINING else ""
    filters = directory.Filters(
        query=args.get("q", "")[: directory.QUERY_MAX], role=role,
        organisation=args.get("organisation", "")[:60], training=training,
        places=_places(cercle),
    )  # fmt: skip
    rows, total, page = directory.search(get_db(), filters, page_number())
    shown = {"q": filters.query, "cercle": cercle if cercle in _cercles() else "", "role": role,
             "organisation": filters.organisation, "training": training}  # fmt: skip
    return render_template(
        "console/contacts.html", rows=rows, total=total, page=page,
        pages=directory.last_page(total), shown=shown,
        link={k: v for k, v in shown.items() if v},  # the filters, kept from page to page
        cercles=_cercles(), roles=ROLES, trainings=directory.TRAINING,
        organisations=directory.organisations(get_db(), _places("")),
    )  # fmt: skip


def _contact(contact_id: int) -> Contact:
    """Return a contact this user may see, or 404 (its existence elsewhere is not told)."""
    found = None
    if contact_id < MAX_ID:
        found = get_db().scalars(narrow(select(Contact).where(Contact.id == contact_id))).first()
    if found is None:
        abort(404)
    return found


def _render(contact: Contact, status: int = 200, problem: str | None = None, form=None):
    """Show a contact's page: details, history, and the actions the user may take."""
    catalog = current_app.extensions["catalog"]
    order = [m.id for m in catalog.course.modules]
    return render_template(
        "console/contact.html", contact=contact, history=history(get_db(), contact, order),
        can_act=g.user.role != "viewer", roles=ROLES, languages=sorted(catalog.languages),
        ways=[w for w in consent.WAYS if w != consent.BY_SMS], problem=problem,
        form=form or {name: getattr(contact, name) or "" for name in directory.EDITABLE},
    ), status  # fmt: skip


@bp.get("/contacts/<int:contact_id>")
@requires()
def contact_detail(contact_id: int):
    """Show a contact: details, training, certificate, campaigns and SMS both ways."""
    contact = _contact(contact_id)
    db = get_db()
    users.audit(db, g.user.email, "contact.view", f"contact:{contact.id}", utcnow())
    db.commit()
    return _render(contact)


def _forget_cached(phone: str, deleted: bool = False) -> None:
    """Make the phone's next USSD hop read the database, not a profile cached for the day."""
    sessions = current_app.extensions["sessions"]
    try:
        sessions.forget_caller(phone) if deleted else sessions.forget_profile(phone)
    except RedisError:
        current_app.logger.warning("redis unavailable: a profile stays cached for the day")


def _done(contact: Contact, action: str, flashed: str):
    """Audit a change by its contact's id (never the number), commit, and go back to it."""
    db = get_db()
    users.audit(db, g.user.email, action, f"contact:{contact.id}", utcnow())
    db.commit()
    flash(flashed, "ok")
    return redirect(url_for("console.contact_detail", contact_id=contact.id))


@bp.post("/contacts/<int:contact_id>/edit")
@requires("admin", "supervisor")
def contact_edit(contact_id: int):
    """Change a contact's name, role, organisation, place and language, checked first."""
    contact = _contact(contact_id)
    form = {name: request.form.get(name, "") for name in directory.EDITABLE}
    held = None
    if g.user.scope:
        held = functools.partial(holds, area(g.user.scope))
    catalog = current_app.extensions["catalog"]
    cercles = importer.cercle_names(catalog)
    problem = directory.edit(get_db(), contact, form, set(catalog.languages), held, cercles)
    if problem:
        get_db().rollback()
        code, params = problem
        if code == "outside":
            params = {**params, "scope": area_name(g.user.scope)}
        text = current_app.extensions["catalog"].get(f"console.import.error.{code}", **params)
        return _render(_contact(contact_id), 400, text, form)
    response = _done(contact, "contact.edit", "console.contact.saved")
    _forget_cached(contact.phone)  # after the commit: a hop meanwhile would cache the old
    return response


@bp.post("/contacts/<int:contact_id>/optout")
@requires("admin", "supervisor")
def contact_opt_out(contact_id: int):
    """Stop campaigns and reminders to a contact, as their STOP would."""
    contact = _contact(contact_id)
    consent.opt_out(get_db(), contact.phone, utcnow())
    return _done(contact, "contact.opt_out", "console.contact.opted_out")


@bp.post("/contacts/<int:contact_id>/optin")
@requires("admin", "supervisor")
def contact_opt_in(contact_id: int):
    """Let campaigns reach a contact again, noting their consent: who noted it, when, how."""
    contact = _contact(contact_id)
    how = request.form.get("how", "")
    if how not in consent.WAYS or how == consent.BY_SMS:
        flash("console.contact.consent_needed", "error")
        return redirect(url_for("console.contact_detail", contact_id=contact.id))
    note = request.form.get("note", "")
    consent.opt_in(get_db(), contact.phone, utcnow(), g.user.email, how, note)
    return _done(contact, "contact.opt_in", "console.contact.opted_in")


@bp.post("/contacts/<int:contact_id>/delete")
@requires("admin", "supervisor")
def contact_delete(contact_id: int):
    """Delete a contact with their data, once confirmed; audited without the number."""
    contact = _contact(contact_id)
    if request.form.get("confirm") != "yes":
        flash("console.contact.confirm_needed", "error")
        return redirect(url_for("console.contact_detail", contact_id=contact.id))
    db, phone, target = get_db(), contact.phone, f"contact:{contact.id}"
    cipher = keyring.fernet(current_app.config["REPORTER_KEY"])
    try:
        erasure.erase(db, contact, cipher, utcnow(), current_app.config["RECORDINGS_DIR"])
    except erasure.ErasureRefused as refused:
        db.rollback()
        flash(f"console.contact.refused.{refused}", "error")
        return redirect(url_for("console.contact_detail", contact_id=contact_id))
    users.audit(db, g.user.email, "contact.delete", target, utcnow())
    db.commit()
    _forget_cached(phone, deleted=True)
    flash("console.contact.deleted", "ok")
    return redirect(url_for("console.contacts"))
