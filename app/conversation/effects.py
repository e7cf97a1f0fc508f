"""A step's effects, carried out in SQL: a profile field, a report, a case moved, training."""

from flask import current_app

from app import cases, training
from app.cases import focal_points
from app.conversation.needs import Hop, desk
from app.infra.db import commit_soon, get_db
from app.infra.models import utcnow
from app.people import contacts
from flows.desk import FOLLOW_UP
from flows.effects import Enrol, FinishModule, MoveCase, OpenCase, SetData, SetLanguage, SetName


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
