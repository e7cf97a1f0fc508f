"""Console campaign pages: compose with live counts, schedule, watch, pause or cancel."""

import json
from datetime import datetime
from decimal import InvalidOperation
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from redis.exceptions import RedisError
from sqlalchemy import func, or_, select

from app.infra.models import Campaign, utcnow
from app.messaging.campaigns import lifecycle
from app.messaging.campaigns.audience import TRAINING, parse_audience, recipients, within
from app.messaging.campaigns.creation import check, create, parse_budget, preview, sizes
from app.messaging.campaigns.text import (
    CampaignError,
    EmptyMessageError,
    PlaceholderError,
    check_messages,
)
from app.messaging.window import is_open, next_open
from app.web.console.audience import campaign_zone, filters, language, zone
from app.web.console.auth import requires
from app.web.console.blueprint import bp
from app.web.console.once import Once
from app.web.console.scope import area, area_name
from app.web.db import get_db
from flows.report import REGIONS

FIELDS = ("role", "organisation", "region", "cercle", "language", "training")
KEPT = (*FIELDS, "name", "start_at", "rate", "budget")  # shown again after an error
DONE = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}
STATUSES = ("scheduled", "expanding", "sending", "paused", "done", "cancelled", "failed")


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
    if isinstance(exc, EmptyMessageError):
        return "console.campaign.empty_message"
    return "console.campaign.invalid"


def _kept() -> dict[str, str]:
    """Return the form's fields as typed, to show the form again or carry them to confirm."""
    languages = current_app.extensions["catalog"].languages
    return {key: request.form.get(key, "") for key in (*KEPT, *map(_field, languages))}


@bp.get("/campaigns")
@requires()
def campaign_list():
    """List campaigns, newest first, with their progress."""
    db = get_db()
    rows = [
        (c, lifecycle.progress(db, c.id), campaign_zone(c))
        for c in db.scalars(listed(select(Campaign)).order_by(Campaign.id.desc()).limit(100))
    ]
    return render_template("console/campaigns.html", rows=rows)


@bp.route("/campaigns/new", methods=["GET", "POST"])
@requires("admin", "supervisor")
def campaign_new():
    """Show the compose form: empty, or as posted back from the confirmation to be changed."""
    return _compose(_kept() if request.method == "POST" else {})


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
    """Show what the form would send, to whom and at what cost; once confirmed, create it."""
    db, once = get_db(), None
    try:
        name, messages, audience, options = _form()
        check(name, messages, audience, options["scope"])
        if request.form.get("confirmed") != "1":  # as `kalan campaign create` asks first
            return _confirm(name, messages, audience, options)
        once = _claim()
        if once is not None and not once.first:
            return _already(once.campaign_id)
        created = create(db, name, messages, audience, **options)
        db.commit()
    except (CampaignError, ValueError, InvalidOperation) as exc:
        db.rollback()
        _release(once)
        flash(_refusal(exc), "error")
        return _compose(_kept(), 400)
    except Exception:
        _release(once)  # nothing was made: the same form may be sent again
        raise
    try:
        if once is not None:
            once.made(created.id)
    except RedisError:  # made all the same: a second click then finds it "en cours"
        current_app.logger.warning("redis unavailable: a confirmation keeps no campaign id")
    try:
        current_app.extensions["workers"].start_campaign(created.id, created.start_at, utcnow())
    except RedisError:
        flash("console.campaign.queued_later", "error")
    flash("console.campaign.created", "ok")
    return redirect(url_for("console.campaign_detail", campaign_id=created.id))


def _claim() -> Once | None:
    """Claim this confirmation: a second click of Confirmer must not make a second campaign."""
    form = sorted((k, v) for k, v in request.form.items(multi=True) if k != "csrf_token")
    try:
        return Once.claim(current_app.extensions["redis"], current_app.config["REDIS_PREFIX"],
                          g.user.email, form)  # fmt: skip
    except RedisError:  # better a rare double than no campaign at all
        current_app.logger.warning("redis unavailable: a doubled confirmation is not caught")
        return None


def _release(once: Once | None) -> None:
    """Give a claim back when its submission made nothing."""
    try:
        if once is not None and once.first:
            once.release()
    except RedisError:  # it expires on its own
        current_app.logger.warning("redis unavailable: a confirmation stays claimed a while")


def _already(campaign_id: int | None):
    """Answer a confirmation already taken: its campaign, or the list while it is made."""
    if campaign_id is None:
        flash("console.campaign.in_progress", "ok")
        return redirect(url_for("console.campaign_list"))
    flash("console.campaign.already", "ok")
    return redirect(url_for("console.campaign_detail", campaign_id=campaign_id))


def _confirm(name: str, messages: dict, audience: dict, options: dict):
    """Render the confirmation: recipients, parts per SMS and cost, the form carried along."""
    config = current_app.config
    plan, tz = preview(get_db(), messages, audience, config), ZoneInfo(config["TZ"])
    estimates = sizes(messages, config)
    texts = [(language(lang), text, estimates[lang])
             for lang, text in messages.items()]  # fmt: skip
    start = max(options["start_at"], utcnow())
    opens = None
    if not is_open(config["SMS_SEND_WINDOW"], start, config["TZ"]):
        opens = next_open(config["SMS_SEND_WINDOW"], start, config["TZ"]).astimezone(tz)
    return render_template(
        "console/campaign_confirm.html", values=_kept(), name=name.strip(), texts=texts,
        zone=zone(audience, options["scope"]), filters=filters(audience),
        recipients=plan["recipients"], cost=f"{_currency()} {plan['cost']:.2f}",
        start=options["start_at"].astimezone(tz) if request.form.get("start_at") else None,
        rate=options.get("rate"), budget=options.get("budget"), currency=_currency(),
        window=config["SMS_SEND_WINDOW"], opens=opens,
    )  # fmt: skip


@bp.get("/campaigns/<int:campaign_id>")
@requires()
def campaign_detail(campaign_id: int):
    """Show a campaign's progress, audience and the actions its state allows; live."""
    campaign = _campaign(campaign_id)
    audience = json.loads(campaign.audience)
    reached, counted_now = campaign.recipients, False
    if campaign.expanded_at is None and campaign.status in ("scheduled", "paused") and not reached:
        # Not expanded yet: who it would reach today; the worker counts again when it starts.
        query = select(func.count()).select_from(recipients(audience).subquery())
        reached, counted_now = get_db().scalar(query), True
    allowed = {status: lifecycle.actions(status) for status in STATUSES}
    return render_template(
        "console/campaign.html", campaign=campaign,
        progress=lifecycle.progress(get_db(), campaign_id),
        message=json.loads(campaign.messages).get("fr", ""),
        can_act=_may_act(campaign), allowed=allowed, zone=campaign_zone(campaign),
        filters=filters(audience), reached=reached, counted_now=counted_now,
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
        if action not in lifecycle.actions(campaign.status):
            raise CampaignError(f"campaign {campaign_id} is {campaign.status}: cannot {action}")
        lifecycle.set_status(get_db(), campaign_id, action)  # checks again, the row locked
    except CampaignError:
        flash(f"console.campaign.refused_{action}", "error")
    else:
        flash(f"console.campaign.{DONE[action]}", "ok")
        if action == "resume":
            current_app.extensions["workers"].kick()
    return redirect(url_for("console.campaign_detail", campaign_id=campaign_id))
