"""POST /ussd and /ussd/events: the Africa's Talking USSD callbacks."""

import functools
import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

import flows
from flows.desk import FOLLOW_UP, parse_pin
from flows.effects import Enrol, FinishModule, MoveCase, OpenCase, SetData, SetLanguage, SetName
from flows.engine import CLEAR, SAVE, Route, Step
from flows.render import Page, compose

from . import cases, contacts, events, focal_points, training
from .callbacks import check_token, read_form
from .db import commit_soon, get_db
from .models import utcnow
from .notify import wake_in
from .sessions import UNCHANGED

bp = Blueprint("ussd", __name__)

HOP_FIELDS = ("sessionId", "serviceCode", "phoneNumber", "networkCode", "text")
# How the gateway sends `text`: not known until the second input shows it.
UNSURE, CUMULATIVE, LATEST = "unsure", "cumulative", "latest"
SESSION_ID = re.compile(r"^[\w.:-]{1,64}$")
SERVICE_CODE = re.compile(r"^[*#0-9]{1,32}$")


class Refused(Exception):
    """A hop that must not touch the session it names."""


@bp.before_request
def _authenticate():
    check_token()


@bp.post("/ussd")
def hop():
    """Answer one USSD hop with a CON or END screen."""
    # A hop's text only ever reaches Redis, and each field is checked below.
    form = read_form(
        HOP_FIELDS, required=("sessionId", "serviceCode", "phoneNumber", "text"), stored=False
    )
    if not SESSION_ID.match(form["sessionId"]):
        abort(400, "sessionId is not a valid session id")
    if not SERVICE_CODE.match(form["serviceCode"]):
        abort(400, "serviceCode is not a USSD code")
    phone = contacts.normalize(form["phoneNumber"])
    if phone is None:
        abort(400, "phoneNumber is not a valid phone number")
    node = None
    try:
        reply, node = answer(form["sessionId"], form["serviceCode"], phone, form["text"])
    except Refused as exc:
        abort(403, str(exc))
    except cases.CaseError as exc:
        # The case moved, or left the caller's hands, since the screen was shown.
        current_app.logger.info("desk change refused: %s", exc)
        reply = apology("desk.conflict")
    except (RedisError, SQLAlchemyError):
        current_app.logger.exception("storage unavailable during a USSD hop")
        reply = apology("error.unavailable")
    except Exception:
        # The hop's changes were never saved, so stored progress is intact.
        current_app.logger.exception("flow error during a USSD hop")
        reply = apology("error.unexpected")
    response = Response(reply, mimetype="text/plain")
    if node:
        # Africa's Talking shows this label per hop and sums the labels up in
        # the end-of-session notification: where callers go, and where they stop.
        response.headers["at-ussd-hop-metadata"] = node[:99]
    return response


def apology(key: str) -> str:
    """Return a last screen from the copy under key, fitted to the screen limit."""
    text = current_app.extensions["catalog"].get(key)
    return compose(Page(text, ()), "", "", current_app.config["USSD_MAX_CHARS"], end=True)


def answer(session_id: str, service: str, phone: str, text: str) -> tuple[str, str | None]:
    """Run one hop of a session; return the reply body and the screen's node id."""
    store = current_app.extensions["sessions"]
    session, resume, profile = store.load(session_id, phone)
    if session is not None and (session["phone"] != phone or session["service"] != service):
        raise Refused("session belongs to another phone number or service code")
    if session is not None:
        shown = session["state"]["node"]
        if session["end"]:
            return session["reply"], shown
        new_input, mode = derive_input(session["text"], text, session["mode"])
        if new_input is None:  # the gateway resent a hop we already answered
            return session["reply"], shown
        state, resume_point = session["state"], None
        if not _known(state):  # saved by an older release whose journeys changed
            state = None
    else:
        new_input, mode, state, resume_point = None, UNSURE, None, resume
    fresh_profile = None
    if profile is None or profile.get("seen") != _today():
        # At most once a day per phone: the cached profile spares the database.
        now = utcnow()
        engine = current_app.extensions["engine"]
        contact = contacts.seen(engine, phone, now) or contacts.touch(get_db(), phone, now)
        profile = fresh_profile = {
            **contacts.profile(contact, _today()),
            "training": training.standing(get_db(), contact.id),
            "tests": training.tests(get_db(), contact.id),
            "focal": focal_points.role(get_db(), phone),
        }
    ctx = _context(phone, profile, resume_point)
    if state is not None:
        # A screen names the outside facts its answer needs; they are fetched
        # here, at the edge, so the flow stays pure: on first read, as most
        # answers need none of them (Formation does not count today's reports).
        hop = Hop(new_input or "", state["data"], phone, session_id)
        for need in getattr(current_app.extensions["flow"][state["node"]], "needs", ()):
            ctx.later(need, functools.partial(NEEDS[need], hop))
    app = current_app
    result = flows.step(
        app.extensions["flow"],
        state,
        new_input,
        ctx,
        app.extensions["catalog"],
        app.config["USSD_MAX_CHARS"],
    )
    profile_changes, wake = apply_effects(result.effects, phone, session_id, profile)
    if profile_changes:
        fresh_profile = {**profile, **profile_changes}
    session = {
        "phone": phone,
        "service": service,
        "text": text,
        "mode": mode,
        "state": result.state,
        "reply": result.reply,
        "end": result.end,
    }
    # A receipt or a module's SMS should not wait for the next tick: the workers are
    # woken in the same round trip as the session is saved.
    store.save(session_id, phone, session, _resume_point(result), fresh_profile,
               also=wake_in if wake else None)  # fmt: skip
    return result.reply, result.state["node"]


@dataclass(frozen=True)
class Hop:
    """What a need may look at: the caller's answer, the session's data, who and where."""

    answer: str
    data: dict
    phone: str
    session_id: str


def _case_status(hop: Hop) -> str | None:
    reference = flows.report.parse_reference(hop.answer)
    return cases.status(get_db(), reference) if reference else None


def _reference(hop: Hop) -> str:
    """Draw the reference a report will get; an identical recent one keeps its own."""
    answers = {name: hop.data.get(name) for name in flows.report.FIELDS}
    window = current_app.config["REPORT_REPEAT_WINDOW_S"]
    repeat = cases.repeat_of(get_db(), hop.phone, answers, utcnow(), window)
    return repeat or cases.fresh_reference(get_db())


def _reports_today(hop: Hop) -> int:
    tz = ZoneInfo(current_app.config["TZ"])
    midnight = datetime.combine(datetime.now(tz).date(), time(), tz)
    return cases.reports_today(get_db(), hop.phone, midnight)


def _desk_key(hop: Hop) -> str:
    return f"{current_app.config['REDIS_PREFIX']}desk:{hop.session_id}"


def _pin(hop: Hop) -> dict | None:
    """Check the PIN typed on the desk's first screen; open the desk for this session."""
    if not parse_pin(hop.answer):
        return None  # navigation or a malformed PIN: no try is spent
    redis, config = current_app.extensions["redis"], current_app.config
    point = focal_points.find(get_db(), hop.phone)
    result = focal_points.check_pin(
        redis, config["REDIS_PREFIX"], hop.phone, point, hop.answer.strip()
    )
    if result["result"] == "ok":
        redis.set(_desk_key(hop), hop.phone, ex=config["SESSION_TTL_S"])
    return result


def _desk(hop: Hop) -> dict | None:
    """Return the caller's open cases, once the PIN opened the desk in this session."""
    redis = current_app.extensions["redis"]
    if redis.get(_desk_key(hop)) != hop.phone.encode():
        return None
    redis.expire(_desk_key(hop), current_app.config["SESSION_TTL_S"])  # open while in use
    point = focal_points.find(get_db(), hop.phone)
    if point is None:
        return None
    tz = current_app.config["TZ"]
    return {
        "role": point.role,
        "cases": [cases.summary(c, tz) for c in focal_points.desk(get_db(), point)],
    }


# What each declared need is, given the hop.
NEEDS = {
    "case_status": _case_status,
    "reference": _reference,
    "reports_today": _reports_today,
    "pin": _pin,
    "desk": _desk,
}


def derive_input(consumed: str, text: str, mode: str) -> tuple[str | None, str]:
    """Return (the new input, gateway mode) from the text consumed so far and this hop's.

    Africa's Talking resends every input joined by "*"; some gateways send only
    the latest. The mode is learnt from the second input: it either extends
    the first with "*", or it does not. None means this hop repeats an earlier
    one (a retry or a late duplicate) and must change nothing.
    """
    if mode == LATEST:
        return text, LATEST
    if consumed == "":
        return (None, mode) if text == "" else (text, mode)
    if text.startswith(consumed + "*"):
        return text[len(consumed) + 1 :], CUMULATIVE
    if mode == CUMULATIVE and (text in (consumed, "") or consumed.startswith(text + "*")):
        return None, CUMULATIVE
    # The same key pressed twice on a latest-only gateway lands here too.
    return text, LATEST


def apply_effects(effects, phone: str, session_id: str = "", profile=None) -> tuple[dict, bool]:
    """Carry out a step's effects; return what changed in the caller's profile, and whether
    SMS are waiting to go (the workers must be woken)."""
    effects = [e for e in effects if not isinstance(e, SetData)]  # SetData is the engine's own
    if profile and effects and all(isinstance(e, training.STEPS) for e in effects):
        engine = current_app.extensions["engine"]
        standing = training.save_progress(engine, profile, effects, utcnow())
        if standing is not None:  # the next lesson, an answer: a statement, no read
            return {"training": standing}, False
    changes, contact, wake = {}, None, False
    for effect in effects:
        if isinstance(effect, SetLanguage):
            contacts.update_contact(get_db(), phone, language=effect.lang)
            changes["lang"] = effect.lang
        elif isinstance(effect, SetName):
            contacts.update_contact(get_db(), phone, name=effect.name)
            changes["name"] = effect.name
        elif isinstance(effect, OpenCase):
            cases.open_case(get_db(), phone, effect.reference, dict(effect.answers), utcnow())
            get_db().commit()
            wake = True  # the receipt goes out now
        elif isinstance(effect, MoveCase):
            _move(effect, phone, session_id)
        elif isinstance(effect, Enrol):
            contacts.update_contact(get_db(), phone, role="agent", organisation=effect.organisation)
            changes.update(role="agent", organisation=effect.organisation)
        elif isinstance(effect, training.EFFECTS):
            contact = contacts.touch(get_db(), phone, utcnow()) if contact is None else contact
            training.apply(get_db(), contact, effect, utcnow())
        else:
            raise TypeError(f"no handler for effect {effect!r}")
    if contact is not None:
        # A module's result (and a certificate) must survive a crash; a lesson's place or
        # an answer may be lost with the last half second, as the session still has them.
        if any(isinstance(e, FinishModule) for e in effects):
            get_db().commit()
            wake = True  # the module SMS, and a certificate
        else:
            commit_soon(get_db())
        changes["training"] = training.standing(get_db(), contact.id)
        changes["tests"] = training.tests(get_db(), contact.id)
    return changes, wake


def _move(effect: MoveCase, phone: str, session_id: str) -> None:
    """Apply a change made on the desk, after checking again that the caller may."""
    db = get_db()
    hop = Hop("", {}, phone, session_id)
    point = focal_points.find(db, phone)
    if _desk(hop) is None or point is None:
        raise cases.CaseError("the desk is not open in this session")
    case = cases.find(db, effect.reference, lock=True)
    if not focal_points.may_handle(db, point, case):
        raise cases.CaseError(f"case {case.reference} is not in the hands of {phone}")
    now, actor = utcnow(), f"ussd:{phone}"
    if point.role == "agent" and case.assignee is None:
        cases.assign(db, case, phone, actor, now, notify=False)  # who moves it, holds it
    if effect.status == FOLLOW_UP:
        cases.follow_up(db, case, actor, effect.note, now)
    else:
        cases.move(db, case, effect.status, actor, effect.note, now, service=effect.service)
    db.commit()


def _resume_point(result: Step):
    """Decide what to remember for a redial: this screen, nothing, or what was there."""
    if result.checkpoint == CLEAR:
        return None
    if result.checkpoint != SAVE:
        return UNCHANGED
    return {k: result.state[k] for k in ("node", "page", "back", "data")}


class Context(dict):
    """The read-only facts a flow may use; some are fetched only if the flow reads them."""

    def __init__(self, facts: dict):
        super().__init__(facts)
        self._later: dict = {}

    def later(self, key: str, fetch) -> None:
        """Fetch key with fetch() when the flow first reads it."""
        self._later[key] = fetch

    def __missing__(self, key):
        if key in self._later:
            value = self[key] = self._later.pop(key)()
            return value
        raise KeyError(key)

    def get(self, key, default=None):
        return self[key] if key in self or key in self._later else default


def _context(phone: str, profile: dict, resume: dict | None) -> Context:
    """Gather the read-only facts a flow may use."""
    catalog = current_app.extensions["catalog"]
    if resume and not _known(resume):
        resume = None  # a journey renamed since: start afresh rather than fail
    return Context(
        {
            "phone": phone,
            "code": current_app.config["USSD_CODE"],
            "lang": profile.get("lang"),
            "profile": profile,
            "resume": resume,
            "languages": tuple(catalog.names.items()),
            "training": profile.get("training") or {},
            "tests": profile.get("tests") or {},
            "now": utcnow().isoformat(),
            "pass_mark": current_app.config["TRAINING_PASS_MARK"],
            "report_limit": current_app.config["REPORT_DAILY_LIMIT"],
        }
    )


def _known(state: dict) -> bool:
    """Tell whether a stored state only names screens this release still has."""
    flow = current_app.extensions["flow"]
    try:
        nodes = [state["node"], *(node for node, _ in state["back"])]
        # A node that became a route since cannot be shown: it has no screen.
        return all(node in flow and not isinstance(flow[node], Route) for node in nodes)
    except (KeyError, TypeError, ValueError):
        return False


def _today() -> str:
    return datetime.now(ZoneInfo(current_app.config["TZ"])).date().isoformat()


@bp.post("/ussd/events")
def session_ended():
    """Record the gateway's end-of-session notification, once per session."""
    form = read_form(events.FIELDS, required=("sessionId", "status"))
    if not SESSION_ID.match(form["sessionId"]) or not form["status"].strip():
        abort(400, "sessionId and status must be set")
    last = None
    try:
        last = current_app.extensions["sessions"].peek(form["sessionId"])
    except RedisError:
        current_app.logger.warning("redis unavailable: event recorded without its last screen")
    state = (last or {}).get("state", {})
    if "pin" in state.get("data", {}):
        # The gateway's summary of the inputs would hold the desk PIN.
        form = {**form, "input": ""}
    try:
        events.record(get_db(), form, contacts.normalize(form["phoneNumber"]), state.get("node"))
    except SQLAlchemyError:
        current_app.logger.exception("could not record a USSD event")
        abort(503)
    return Response("OK", mimetype="text/plain")
