"""One hop of a conversation, whatever the channel: a USSD session's hop or a call's turn.

A hop loads and locks its session, binds it to its caller, fetches what the
screen needs, calls the pure flows.step(), applies the effects in SQL (a lesson's
place and an answer are written behind, app/training/behind.py), and saves the
session in Redis. What is particular to a protocol (how its raw
input reads, the size of a screen) comes from the channel it is given.
"""

import contextlib
import functools
import time
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError
from sqlalchemy.orm import Session

import flows
from app.cases import abuse
from app.conversation.context import context, known
from app.conversation.effects import apply_effects
from app.conversation.needs import NEEDS, Hop
from app.conversation.services import Services
from app.infra.db import LazySession, commit_soon
from app.infra.sessions import UNCHANGED
from app.people import profile as profiles
from app.training import behind
from flows.effects import FinishModule, RecallAnswer, RecordAnswer, SaveProgress
from flows.engine import CLEAR, SAVE, Step

SENT_TTL_S = 60  # a sent report's last reply, for the gateway's retries, and nothing else
ANSWERS = (RecordAnswer, FinishModule, RecallAnswer)  # a hop of these is an "answer"


class Refused(Exception):
    """A hop that must not touch the session it names."""


def answer(
    services: Services, session_id: str, service: str, phone: str, raw: str, channel
) -> tuple[str, str | None]:
    """Run one hop of a session; return the reply body and the screen's node id.

    channel reads the hop's raw input for its protocol (see app/web/hop_text.py)
    and sets the screen's size. The session is locked for the hop: a copy of it
    that the gateway sends while it runs waits, then gets the same reply.
    """
    started, store = time.perf_counter(), services.sessions
    loaded = store.load(session_id, phone)
    try:
        # Opened on first use: most hops never use it.
        with LazySession(services.open_db) as db:
            outcome = _run(services, db, loaded, session_id, service, phone, raw, channel)
    except BaseException:
        with contextlib.suppress(RedisError):
            store.release(session_id, loaded)
        raise
    if outcome[2]:  # answered from what the session already held: nothing to save
        store.release(session_id, loaded)
    if services.metrics is not None:
        kind = "repeat" if outcome[2] else outcome[3]
        services.metrics.hop(channel.name, kind, time.perf_counter() - started)
    return outcome[0], outcome[1]


def _run(services: Services, db: Session, loaded, session_id, service, phone, raw, channel):
    """Answer a locked hop; return (reply, node, whether nothing was saved, kind of hop)."""
    config, flow, store = services.config, services.flow, services.sessions
    now = services.clock()
    session, resume, profile = loaded.session, loaded.resume, loaded.profile
    if session is not None and "caller" not in session and not session.get("end"):
        session = None  # saved by an older release, which kept the number: start afresh
    if session is not None and (
        (session.get("caller") and session["caller"] not in loaded.callers)
        or session["service"] != service
    ):
        raise Refused("session belongs to another phone number or service code")
    if session is not None:
        shown = session["state"]["node"]
        if session["end"]:
            return session["reply"], shown, True, None
        new_input, reading = channel.read(session, raw, loaded.waited, now.timestamp())
        if new_input is None:  # a copy of the hop just answered, resent by the gateway
            return session["reply"], shown, True, None
        state = session["state"]
        if not known(flow, state):  # saved by an older release whose journeys changed
            state = None
        # The resume point on offer, until the caller picks: the offer names where it is.
        resume_point = state.get("resume") if state is not None else None
    else:
        new_input, reading, state, resume_point = None, {}, None, resume
    fresh_profile = None
    today = now.astimezone(ZoneInfo(config["TZ"])).date().isoformat()
    first = profile is None or profile.get("seen") != today
    if first:
        # At most once a day per phone: the cached profile spares the database.
        if profile and profile.get(behind.FIELD):  # yesterday's last steps, if SQL lags
            behind.write(db.connection(), profile[behind.FIELD])
            commit_soon(db)
        profile = fresh_profile = profiles.load(
            services.engine, services.catalog.course, phone, now, today,
            config["TRAINING_RETAKE_COOLDOWN_S"],
        )  # fmt: skip
    # A call Kalan placed for a lesson opens on it (USSD has no such entry).
    entry = getattr(channel, "entry", None) if state is None else None
    ctx = context(services, phone, profile, resume_point, now, channel.name, entry)
    needs = getattr(flow[state["node"]], "needs", ()) if state is not None else ()
    hop = None  # a session's first screen answers nothing: it has no hop to look at
    if state is not None:
        # A screen names the outside facts its answer needs; they are fetched
        # here, at the edge, so the flow stays pure: on first read, as most
        # answers need none of them (Formation does not count today's reports).
        hop = Hop(new_input or "", state["data"], phone, session_id, now, loaded.callers,
                  loaded.facts, desk_open=bool(session.get("desk")))  # fmt: skip
        for need in needs:
            ctx.later(need, functools.partial(NEEDS[need], services, db, hop))
    result = flows.step(flow, state, new_input, ctx, services.catalog, channel.limit)
    profile_changes, wake, sent, later = apply_effects(
        services, db, result.effects, phone, hop, profile, now
    )
    if profile_changes:
        fresh_profile = {**profile, **profile_changes}
    kept = channel.keep(raw, new_input, "pin" in needs, loaded.session is None, reading)
    session = {
        "caller": loaded.caller,
        "service": service,
        **kept,  # how the channel reads the next hop: never a PIN in clear
        "state": result.state,
        "reply": result.reply,
        "end": result.end,
        # When it was answered (not when it came): a copy comes right after.
        "at": round(services.clock().timestamp(), 3),
    }
    if hop is not None and (hop.desk_open or hop.marks.get("desk")):
        session["desk"] = True  # the PIN was right: the desk stays open for this session
    also = [services.workers.wake_in] if wake else []
    # The steps are saved with the session in one transaction, or not at all.
    steps = behind.commands(config["REDIS_PREFIX"], later)
    if hop is not None:
        also.extend(hop.writes)
    ttl = None
    if sent is not None:
        # A sent report forgets its session: only its last reply stays, without the
        # caller or the answers, long enough to answer the gateway's retries.
        session = {"service": service, "state": {"node": result.state["node"]},
                   "reply": result.reply, "end": True, "report": True}  # fmt: skip
        also.append(
            functools.partial(
                abuse.count_sent, config["REDIS_PREFIX"], config["TZ"],
                config["REPORT_REPEAT_WINDOW_S"], loaded.callers, sent, now.timestamp(),
            )
        )  # fmt: skip
        ttl = SENT_TTL_S
    # A receipt or a module's SMS should not wait for the next tick: the workers are
    # woken in the same round trip as the session is saved.
    resume = None if sent is not None else _resume_point(result)
    kept_resume = loaded.resume if resume is UNCHANGED else resume
    # A report half answered waits briefly: the phone may be shared, and the next
    # caller must not find it. A training place waits the whole day.
    short = kept_resume and flows.report.is_report(kept_resume.get("node"))
    store.save(session_id, loaded, session, resume, fresh_profile, also=_together(also),
               ttl=ttl, resume_ttl=config["REPORT_RESUME_TTL_S"] if short else None,
               together=steps)  # fmt: skip
    return result.reply, result.state["node"], False, _kind(first, sent, result.effects)


def _kind(first: bool, sent, effects) -> str:
    """Name what a hop did, for the metrics: its costliest part."""
    if sent is not None:
        return "report"
    if first:
        return "first"
    if any(isinstance(e, ANSWERS) for e in effects):
        return "answer"
    return "lesson" if any(isinstance(e, SaveProgress) for e in effects) else "navigation"


def _together(calls):
    """Return one also(pipe) that runs each call on the pipeline, or None."""
    if not calls:
        return None

    def run(pipe):
        for call in calls:
            call(pipe)

    return run


def _resume_point(result: Step):
    """Decide what to remember for a redial: this screen, nothing, or what was there."""
    if result.checkpoint == CLEAR:
        return None
    if result.checkpoint != SAVE:
        return UNCHANGED
    return {k: result.state[k] for k in ("node", "page", "back", "data")}
