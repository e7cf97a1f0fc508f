"""Console campaign pages: compose with live counts, schedule, watch, pause or cancel."""

import json
from datetime import datetime
from decimal import InvalidOperation
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from redis.exceptions import RedisError
from sqlalchemy import or_, select

from app.infra.models import Campaign, utcnow
from app.messaging.campaigns import lifecycle
from app.messaging.campaigns.audience import TRAINING, parse_audience, within
from app.messaging.campaigns.creation import create, parse_budget, preview
from app.messaging.campaigns.text import CampaignError, PlaceholderError, check_messages
from app.web.console.auth import requires
from app.web.console.blueprint import bp
from app.web.console.scope import area, area_name
from app.web.db import get_db
from flows.report import REGIONS

FIELDS = ("role", "organisation", "region", "cercle", "language", "training")
KEPT = (*FIELDS, "name", "start_at", "rate", "budget")  # shown again after an error
DONE = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}


def _scopes() -> list | None:
    """Return the campaign areas the user may see: theirs, the cercles of their region, and
    the national ones (which reach their area too); None for everything."""
    scope = g.user.scope
    if not scope:
        return None
    kind, value = scope.split("=", 1)
    inside = [f"cercle={c}" for c in REGIONS.get(value, ())] if kind == "region" else []
    return [scope, *inside]


def listed(query):
    """Narrow a campaign query to what the user may see."""
    scopes = _scopes()
    if scopes is None:
        return query
    return query.where(or_(Campaign.scope.is_(None), Campaign.scope.in_(scopes)))


def _campaign(campaign_id: int) -> Campaign:
    """Return a campaign the user may see, or 404 (ids beyond a database integer too)."""
    found = None
    if campaign_id < 2**31:
        found = get_db().scalars(listed(select(Campaign).where(Campaign.id == campaign_id)))
        found = found.first()
    if found is None:
        abort(404)
    return found


def _may_act(campaign: Campaign) -> bool:
    """Admins act on every campaign; a scoped supervisor only on those sent to their area."""
    return g.user.role != "viewer" and g.user.scope in (None, campaign.scope)


def _field(lang: str) -> str:
    """Name the compose field of one language's text: French is plain "message"."""
    return "message" if lang == "fr" else f"message_{lang}"


def _currency() -> str:
    """Return the currency SMS are priced in ("XOF")."""
    return current_app.config["SMS_PART_COST"].split()[0]


def _form() -> tuple[str, dict, dict, dict]:
    """Read the compose form: name, messages by language, audience, and options."""
    form = request.form
    languages = current_app.extensions["catalog"].languages
    texts = {lang: form.get(_field(lang), "").strip() for lang in languages}
    # French is required; another language left blank falls back to it.
    messages = {lang: text for lang, text in texts.items() if text or lang == "fr"}
    check_messages(messages)
    pairs = [f"{key}={form[key].strip()}" for key in FIELDS if form.get(key, "").strip()]
    scope = g.user.scope
    audience = within(parse_audience(pairs), scope, area(scope))
    options = {"start_at": utcnow(), "scope": g.user.scope, "created_by": g.user.email}
    if form.get("start_at"):
        moment = datetime.fromisoformat(form["start_at"])
        if moment.tzinfo is None:  # the form's datetime-local: Bamako time
            moment = moment.replace(tzinfo=ZoneInfo(current_app.config["TZ"]))
        options["start_at"] = moment
    if form.get("rate"):
        options["rate"] = max(1, min(10000, int(form["rate"])))
    if form.get("budget"):
        options["budget"] = parse_budget(form["budget"])
    return form.get("name", ""), messages, audience, options


def _refusal(exc: Exception) -> str:
    """Return the console copy saying why the form cannot be a campaign."""
    if isinstance(exc, PlaceholderError):
        return "console.campaign.placeholder"
    return "console.campaign.invalid"


@bp.get("/campaigns")
@requires()
def campaign_list():
    """List campaigns, newest first, with their progress."""
    db = get_db()
    rows = [
        (c, lifecycle.progress(db, c.id))
        for c in db.scalars(listed(select(Campaign)).order_by(Campaign.id.desc()).limit(100))
    ]
    return render_template("console/campaigns.html", rows=rows)


@bp.get("/campaigns/new")
@requires("admin", "supervisor")
def campaign_new():
    """Show the compose form."""
    return _compose({})


def _compose(values: dict, status: int = 200):
    """Render the compose form with values, the area fixed for a scoped supervisor."""
    fixed = None
    if g.user.scope:
        fixed, value = g.user.scope.split("=", 1)
        values = {**values, fixed: value, "area": area_name(g.user.scope)}
    fields = [(lang, _field(lang)) for lang in current_app.extensions["catalog"].languages]
    page = render_template(
        "console/campaign_new.html", values=values, languages=fields, fixed=fixed,
        training=TRAINING, currency=_currency(),
    )  # fmt: skip
    return page, status


@bp.post("/campaigns/preview")
@requires("admin", "supervisor")
def campaign_preview():
    """Count recipients, parts and cost for the form as it stands (for the live counter)."""
    try:
        _, messages, audience, _ = _form()
    except (CampaignError, ValueError, InvalidOperation) as exc:
        return jsonify(error=current_app.extensions["catalog"].get(_refusal(exc))), 400
    plan = preview(get_db(), messages, audience, current_app.config)
    currency = _currency()
    return jsonify(
        recipients=plan["recipients"], parts=plan["parts"], encodings=plan["encodings"],
        cost=f"{currency} {plan['cost']:.2f}",
    )  # fmt: skip


@bp.post("/campaigns")
@requires("admin", "supervisor")
def campaign_create():
    """Create a campaign from the form and start it at its time."""
    db = get_db()
    try:
        name, messages, audience, options = _form()
        created = create(db, name, messages, audience, **options)
    except (CampaignError, ValueError, InvalidOperation) as exc:
        db.rollback()
        flash(_refusal(exc), "error")
        keep = [*KEPT, *(_field(lang) for lang in current_app.extensions["catalog"].languages)]
        return _compose({key: request.form.get(key, "") for key in keep}, 400)
    db.commit()
    try:
        current_app.extensions["workers"].start_campaign(created.id, created.start_at, utcnow())
    except RedisError:
        flash("console.campaign.queued_later", "error")
    flash("console.campaign.created", "ok")
    return redirect(url_for("console.campaign_detail", campaign_id=created.id))


@bp.get("/campaigns/<int:campaign_id>")
@requires()
def campaign_detail(campaign_id: int):
    """Show a campaign's progress; the page follows it live."""
    campaign = _campaign(campaign_id)
    return render_template(
        "console/campaign.html", campaign=campaign,
        progress=lifecycle.progress(get_db(), campaign_id),
        message=json.loads(campaign.messages).get("fr", ""),
        can_act=_may_act(campaign),
    )  # fmt: skip


@bp.get("/campaigns/<int:campaign_id>/progress.json")
@requires()
def campaign_progress(campaign_id: int):
    """Return a campaign's status and counts, for the live progress."""
    campaign = _campaign(campaign_id)
    progress = lifecycle.progress(get_db(), campaign_id)
    return jsonify(status=campaign.status, **{k: v for k, v in progress.items()
                                              if isinstance(v, int)})  # fmt: skip


@bp.post("/campaigns/<int:campaign_id>/<any(pause, resume, cancel):action>")
@requires("admin", "supervisor")
def campaign_action(campaign_id: int, action: str):
    """Pause, resume or cancel a campaign."""
    campaign = _campaign(campaign_id)
    if not _may_act(campaign):
        abort(403)
    try:
        lifecycle.set_status(get_db(), campaign_id, action)
    except CampaignError:
        flash("console.campaign.refused", "error")
    else:
        flash(f"console.campaign.{DONE[action]}", "ok")
        if action == "resume":
            current_app.extensions["workers"].kick()
    return redirect(url_for("console.campaign_detail", campaign_id=campaign_id))
