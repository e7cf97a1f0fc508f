"""A step's effects, carried out in SQL: a profile field, a report, a case moved, training."""

import logging
from datetime import datetime

from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from app import cases, training
from app.cases import filing, focal_points, recordings
from app.conversation.needs import Hop, desk
from app.conversation.services import Services
from app.infra.db import commit_soon
from app.people import contacts
from app.training import behind, start
from app.voice import lessons
from flows.desk import FOLLOW_UP
from flows.effects import (
    Enrol,
    FinishModule,
    MoveCase,
    OpenCase,
    SetCallHour,
    SetData,
    SetLanguage,
    SetName,
)

log = logging.getLogger(__name__)


def apply_effects(
    services: Services, db: Session, effects, phone: str, hop: Hop | None, profile, now: datetime
):
    """Carry out a step's effects; return what changed in the caller's profile, whether
    SMS are waiting to go (the workers must be woken), the report sent, if any
    ((reference, answers, whether it was new)), and the steps to write behind."""
    effects = [e for e in effects if not isinstance(e, SetData)]  # SetData is the engine's own
    if profile and effects and all(isinstance(e, training.STEPS) for e in effects):
        held = profile.get(behind.FIELD) or []
        found = training.steps(profile, effects, now) if len(held) < behind.CAP else None
        if found is not None:  # the next lesson, an answer: no SQL, the stream has them
            standing, entries = found
            return {"training": standing, behind.FIELD: [*held, *entries]}, False, None, entries
        # A module's first step: its row at once, in one statement, the rest as cached.
        cooldown_s = services.config["TRAINING_RETAKE_COOLDOWN_S"]
        opened = start.start(services.engine, profile, phone, effects, now, cooldown_s)
        if opened is not None:
            return {"training": opened}, False, None, ()
    config, catalog = services.config, services.catalog
    changes, contact, wake, sent = {}, None, False, None
    for effect in effects:
        if isinstance(effect, SetLanguage):
            contacts.update_contact(db, phone, language=effect.lang)
            changes["lang"] = effect.lang
        elif isinstance(effect, SetName):
            contacts.update_contact(db, phone, name=effect.name)
            changes["name"] = effect.name
        elif isinstance(effect, OpenCase):
            answers = dict(effect.answers)
            # Said on a call: a file to fetch and keep with the case, not one of its fields.
            url = answers.pop("recording", None)
            # In SQL Core, in the transaction the hop's reference was drawn in: no ORM unit
            # of work for rows written once and never read back here.
            conn = db.connection()
            _, new = filing.file(conn, config, catalog, phone, effect.reference, answers, now)
            # A report sent again keeps the first one's recording: one copy of a voice is enough.
            recording = _attach(db, effect.reference, url, now) if url and new else None
            db.commit()
            if recording is not None:
                _fetch_soon(services, recording.id)
            sent = (effect.reference, answers, new)
            wake = True  # the receipt goes out now
        elif isinstance(effect, MoveCase):
            _move(services, db, effect, phone, hop, now)
        elif isinstance(effect, SetCallHour):
            lessons.choose(db, config, phone, effect.hour, now)
            db.commit()
        elif isinstance(effect, Enrol):
            contacts.update_contact(db, phone, role="agent", organisation=effect.organisation)
            changes.update(role="agent", organisation=effect.organisation)
        elif isinstance(effect, training.EFFECTS):
            if contact is None:
                contact = contacts.touch(db, phone, now)
                # The steps written behind first: what follows reads and scores them.
                behind.write(db.connection(), (profile or {}).get(behind.FIELD))
            training.apply(db, config, catalog, contact, effect, now)
        else:
            raise TypeError(f"no handler for effect {effect!r}")
    if contact is not None:
        # A module's result (and a certificate) must survive a crash; a first lesson's
        # place or a pre-test answer may be lost with the last half second.
        if any(isinstance(e, FinishModule) for e in effects):
            db.commit()
            wake = True  # the module SMS, and a certificate
        else:
            commit_soon(db)
        changes["training"] = training.standing(
            db, contact.id, config["TRAINING_RETAKE_COOLDOWN_S"]
        )
        changes["tests"] = training.tests(db, catalog.course, contact.id)
        changes["recalls"] = training.recall.pending(db, contact.id)
        changes[behind.FIELD] = []  # all in SQL now (the stream writes them again, harmlessly)
    return changes, wake, sent, ()


def _attach(db: Session, reference: str, url, now: datetime):
    """Keep a report's recording to fetch; a URL we would not fetch is dropped, the report kept."""
    try:
        return recordings.attach(db, cases.find(db, reference), url, now)
    except recordings.BadRecording as exc:
        # Neither the URL nor the phone: either could tie the report to its caller.
        log.warning("a report's recording was dropped: %s", exc)
        return None


def _fetch_soon(services: Services, recording_id: int) -> None:
    """Queue a recording's fetch; if Redis does not answer, the worker's tick queues it later."""
    try:
        recordings.queue(services.workers, recording_id)
    except RedisError:
        log.warning("could not queue recording %s's fetch; the next tick will", recording_id)


def _move(
    services: Services, db: Session, effect: MoveCase, phone: str, hop: Hop | None, now: datetime
) -> None:
    """Apply a change made on the desk, after checking again that the caller may."""
    point = focal_points.find(db, phone)
    if hop is None or desk(services, db, hop) is None or point is None:
        raise cases.CaseError("the desk is not open in this session")
    case = cases.find(db, effect.reference, lock=True)
    if not focal_points.may_handle(db, point, case):
        # Logged as it is (app/web/hop_guard.py): never the caller's number.
        raise cases.CaseError(f"case {case.reference} is not in the caller's hands")
    actor, config = f"ussd:{phone}", services.config
    if point.role == "agent" and case.assignee is None:
        # Who moves it, holds it.
        cases.assign(db, config, services.catalog, case, phone, actor, now, notify=False)
    if effect.status == FOLLOW_UP:
        cases.follow_up(db, config, case, actor, effect.note, now)
    else:
        cases.move(db, config, case, effect.status, actor, effect.note, now, effect.service)
    db.commit()
