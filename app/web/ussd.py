"""POST /ussd and /ussd/events: the Africa's Talking USSD callbacks."""

import contextlib
import functools
import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

import flows
from app import cases, training
from app.cases import abuse, focal_points
from app.conversation import events
from app.conversation.needs import NEEDS, Hop, desk
from app.infra.db import commit_soon, get_db
from app.infra.models import utcnow
from app.infra.sessions import UNCHANGED, Busy
from app.messaging.notify import wake_in
from app.people import contacts
from app.web.callbacks import check_token, read_form
from app.web.hop_text import LATEST, UNSURE, derive_input, mask, repeated, stored_text
from flows.desk import FOLLOW_UP
from flows.effects import Enrol, FinishModule, MoveCase, OpenCase, SetData, SetLanguage, SetName
from flows.engine import CLEAR, SAVE, Route, Step
from flows.render import Page, compose

bp = Blueprint("ussd", __name__)

HOP_FIELDS = ("sessionId", "serviceCode", "phoneNumber", "networkCode", "text")
SESSION_ID = re.compile(r"^[\w.:-]{1,64}$")
SERVICE_CODE = re.compile(r"^[*#0-9]{1,32}$")
SENT_TTL_S = 60  # a sent report's last reply, for the gateway's retries, and nothing else


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
    except Busy:
        # The first copy of this hop is still running after LOCK_WAIT_S: it will answer.
        current_app.logger.warning("a doubled hop gave up waiting for its session")
        reply = apology("error.unavailable")
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
    """Run one hop of a session; return the reply body and the screen's node id.

    The session is locked for the hop: a copy of it that the gateway sends while
    it runs waits, then finds the hop answered and gets the same reply.
    """
    store = current_app.extensions["sessions"]
    loaded = store.load(session_id, phone)
    try:
        outcome = _run(store, loaded, session_id, service, phone, text)
    except BaseException:
        with contextlib.suppress(RedisError):
            store.release(session_id, loaded)
        raise
    if outcome[2]:  # answered from what the session already held: nothing to save
        store.release(session_id, loaded)
    return outcome[0], outcome[1]


def _run(store, loaded, session_id: str, service: str, phone: str, text: str):
    """Answer a locked hop; return (reply, node, whether nothing was saved)."""
    session, resume, profile = loaded.session, loaded.resume, loaded.profile
    if session is not None and "caller" not in session and not session.get("end"):
        session = None  # saved by an older release, which kept the number: start afresh
    if session is not None and (
        (session.get("caller") and session["caller"] not in loaded.callers)
        or session["service"] != service
    ):
        raise Refused("session belongs to another phone number or service code")
    masks: list = []
    if session is not None:
        shown = session["state"]["node"]
        if session["end"]:
            return session["reply"], shown, True
        masks = session.get("masks", []) if session["mode"] != LATEST else []
        window = current_app.config["USSD_RETRY_S"]
        if repeated(session, text, masks, loaded.waited, time.time(), window):
            return session["reply"], shown, True  # a copy of the hop just answered
        new_input, mode = derive_input(session["text"], mask(text, masks), session["mode"])
        if new_input is None:  # the gateway resent a hop we already answered
            return session["reply"], shown, True
        if mode == LATEST:
            new_input = text  # the whole text is the input: none of it was masked
        else:
            new_input = text[len(text) - len(new_input) :]
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
        hop = Hop(new_input or "", state["data"], phone, session_id, loaded.callers, loaded.facts)
        for need in _needs(state["node"]):
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
    profile_changes, wake, sent = apply_effects(result.effects, phone, session_id, profile)
    if profile_changes:
        fresh_profile = {**profile, **profile_changes}
    pin_node = state is not None and "pin" in _needs(state["node"])
    kept, masks = stored_text(text, new_input, pin_node, masks, mode, loaded.session is None)
    session = {
        "caller": loaded.caller,
        "service": service,
        "text": kept,
        "mode": mode,
        "state": result.state,
        "reply": result.reply,
        "end": result.end,
        "at": round(time.time(), 3),  # when it was answered: a copy comes right after
    }
    if masks:
        session["masks"] = masks
    also = [wake_in] if wake else []
    if state is not None:
        also.extend(hop.writes)
    ttl = None
    if sent is not None:
        # A sent report forgets its session: only its last reply stays, without the
        # caller or the answers, long enough to answer the gateway's retries.
        session = {"service": service, "state": {"node": result.state["node"]},
                   "reply": result.reply, "end": True, "report": True}  # fmt: skip
        config = current_app.config
        also.append(
            functools.partial(
                abuse.count_sent, config["REDIS_PREFIX"], config["TZ"],
                config["REPORT_REPEAT_WINDOW_S"], loaded.callers, sent,
            )
        )  # fmt: skip
        ttl = SENT_TTL_S
    # A receipt or a module's SMS should not wait for the next tick: the workers are
    # woken in the same round trip as the session is saved.
    resume = None if sent is not None else _resume_point(result)
    store.save(session_id, loaded, session, resume, fresh_profile,
               also=_together(also), ttl=ttl)  # fmt: skip
    return result.reply, result.state["node"], False


def _together(calls):
    """Return one also(pipe) that runs each call on the pipeline, or None."""
    if not calls:
        return None

    def run(pipe):
        for call in calls:
            call(pipe)

    return run


def _needs(node: str) -> tuple:
    return getattr(current_app.extensions["flow"][node], "needs", ())


def apply_effects(effects, phone: str, session_id: str = "", profile=None):
    """Carry out a step's effects; return what changed in the caller's profile, whether
    SMS are waiting to go (the workers must be woken), and the report sent, if any:
    (reference, answers, whether it was new)."""
    effects = [e for e in effects if not isinstance(e, SetData)]  # SetData is the engine's own
    if profile and effects and all(isinstance(e, training.STEPS) for e in effects):
        engine = current_app.extensions["engine"]
        standing = training.save_progress(engine, profile, effects, utcnow())
        if standing is not None:  # the next lesson, an answer: a statement, no read
            return {"training": standing}, False, None
    changes, contact, wake, sent = {}, None, False, None
    for effect in effects:
        if isinstance(effect, SetLanguage):
            contacts.update_contact(get_db(), phone, language=effect.lang)
            changes["lang"] = effect.lang
        elif isinstance(effect, SetName):
            contacts.update_contact(get_db(), phone, name=effect.name)
            changes["name"] = effect.name
        elif isinstance(effect, OpenCase):
            answers = dict(effect.answers)
            _, new = cases.file_report(get_db(), phone, effect.reference, answers, utcnow())
            get_db().commit()
            sent = (effect.reference, answers, new)
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
    return changes, wake, sent


def _move(effect: MoveCase, phone: str, session_id: str) -> None:
    """Apply a change made on the desk, after checking again that the caller may."""
    db = get_db()
    hop = Hop("", {}, phone, session_id)
    point = focal_points.find(db, phone)
    if desk(hop) is None or point is None:
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
    node = ((last or {}).get("state") or {}).get("node")
    # The number is kept only for a session known to have been elsewhere than in a
    # report: a reporter's call must not be found again by its time or its length.
    anonymous = last is None or last.get("report") or flows.report.is_report(node)
    phone = None if anonymous else contacts.normalize(form["phoneNumber"])
    try:
        events.record(get_db(), form, phone, node)
    except SQLAlchemyError:
        current_app.logger.exception("could not record a USSD event")
        abort(503)
    return Response("OK", mimetype="text/plain")
