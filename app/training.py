"""Training progress in SQL: what the journey's effects save, and what a session needs."""

import re
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flows.effects import FinishModule, RecordAnswer, SaveProgress
from flows.training import POST, PRE, PRETEST

from . import outbox
from .models import Certificate, Contact, ModuleProgress, QuizAnswer, utcnow

EFFECTS = (SaveProgress, RecordAnswer, FinishModule)
STEPS = (SaveProgress, RecordAnswer)  # the hops inside a module, kept without a read


def standing(db: Session, contact_id: int) -> dict:
    """Return the learner's standing in every module, as the journey reads it."""
    rows = list(db.scalars(select(ModuleProgress).where(ModuleProgress.contact_id == contact_id)))
    if not rows:
        return {}
    every = db.execute(
        select(
            QuizAnswer.module, QuizAnswer.question, QuizAnswer.correct, QuizAnswer.attempt
        ).where(QuizAnswer.contact_id == contact_id)
    ).all()
    result = {}
    for row in rows:
        answers = [(q, c, a) for m, q, c, a in every if m == row.module]
        current = {q: c for q, c, a in answers if a == row.attempt}
        finished_attempt = row.attempt if row.status in ("passed", "failed") else row.attempt - 1
        missed = [q for q, c, a in answers if a == finished_attempt and not c]
        result[row.module] = {
            "status": row.status,
            "position": row.position,
            "attempt": row.attempt,
            "best": row.best_score,
            "answered": current if row.status == "started" else {},
            "missed": missed,
            "retake_at": _retake_at(row),
        }
    return result


def _retake_at(row: ModuleProgress) -> str | None:
    if row.finished_at is None:
        return None
    cooldown = timedelta(seconds=current_app.config["TRAINING_RETAKE_COOLDOWN_S"])
    return (row.finished_at + cooldown).isoformat()


def _progress(db: Session, contact_id: int, module: str) -> ModuleProgress:
    row = db.scalars(
        select(ModuleProgress).where(
            ModuleProgress.contact_id == contact_id, ModuleProgress.module == module
        )
    ).first()
    if row is None:
        row = ModuleProgress(contact_id=contact_id, module=module, status="started", position="",
                             attempt=0, started_at=utcnow(), updated_at=utcnow())  # fmt: skip
        db.add(row)
    return row


def apply(db: Session, contact: Contact, effect, now: datetime) -> None:
    """Save one training effect at once, in the caller's transaction."""
    if effect.module == PRETEST:  # the pre/post-test: answers only, no progress
        _answer(db, contact, effect, now)
        return
    row = _progress(db, contact.id, effect.module)
    row.updated_at = now
    if isinstance(effect, SaveProgress):
        row.position = effect.position
        if row.status not in ("passed", "failed"):
            row.status = "started"
    elif isinstance(effect, RecordAnswer):
        if row.status != "passed":
            row.status = "started"
        row.attempt, row.position = effect.attempt, "q"
        _answer(db, contact, effect, now)
    elif isinstance(effect, FinishModule):
        finish(db, contact, row, effect, now)


def save_progress(db: Session, profile: dict, effects, now: datetime) -> dict | None:
    """Keep the lessons reached and the answers given; return the new standing, or None.

    The common hops of a module (the next lesson, an answer) need neither the
    contact row nor a fresh read of the standing: the cached profile holds both,
    and is brought up to date here as standing() would read it. An UPDATE, and an
    INSERT for an answer. None means the effects need the full path (apply).
    """
    standing = dict(profile.get("training") or {})
    if "id" not in profile or not effects:
        return None
    for effect in effects:
        if not isinstance(effect, SaveProgress | RecordAnswer) or effect.module not in standing:
            return None  # a module's end, a first lesson, the pre-test: the full path
        if isinstance(effect, RecordAnswer) and standing[effect.module]["status"] == "passed":
            return None  # a passed module taken again: its missed questions move on
    for effect in effects:
        held = standing[effect.module]
        if isinstance(effect, SaveProgress):
            status = held["status"] if held["status"] in ("passed", "failed") else "started"
            values, changes = {"position": effect.position, "status": status}, {}
        else:
            status = "started"
            values = {"position": "q", "status": status, "attempt": effect.attempt}
            answered = dict(held["answered"]) if held["attempt"] == effect.attempt else {}
            answered.setdefault(effect.question, effect.correct)  # the first answer counts
            changes = {"attempt": effect.attempt, "answered": answered}
        moved = db.execute(
            update(ModuleProgress)
            .where(ModuleProgress.contact_id == profile["id"],
                   ModuleProgress.module == effect.module)
            .values(updated_at=now, **values)
        )  # fmt: skip
        if moved.rowcount != 1:  # the row is gone: the full path recreates it
            return None
        if isinstance(effect, RecordAnswer):
            _keep_answer(db, profile["id"], effect, now)
        standing[effect.module] = {**held, "position": values["position"], "status": status,
                                   **changes}  # fmt: skip
    return standing


def _keep_answer(db: Session, contact_id: int, effect: RecordAnswer, now: datetime) -> None:
    """Insert an answer unless this question already has one in this attempt."""
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    db.execute(
        dialect.insert(QuizAnswer)
        .values(contact_id=contact_id, module=effect.module, question=effect.question,
                attempt=effect.attempt, choice=effect.choice, correct=effect.correct,
                answered_at=now)
        .on_conflict_do_nothing(index_elements=["contact_id", "question", "attempt"])
    )  # fmt: skip


def _answer(db: Session, contact: Contact, effect: RecordAnswer, now: datetime) -> None:
    """Keep an answer; the first per question and attempt counts, a resent one is ignored."""
    db.flush()
    try:
        with db.begin_nested():
            db.add(QuizAnswer(contact_id=contact.id, module=effect.module, question=effect.question,
                              attempt=effect.attempt, choice=effect.choice,
                              correct=effect.correct, answered_at=now))  # fmt: skip
    except IntegrityError:
        pass


def tests(db: Session, contact_id: int) -> dict:
    """Return whether the learner took the pre-test and the post-test, and the pre score."""
    rows = db.execute(
        select(QuizAnswer.attempt, QuizAnswer.correct).where(
            QuizAnswer.contact_id == contact_id, QuizAnswer.module == PRETEST
        )
    ).all()
    items = len(current_app.extensions["catalog"].course.pretest)
    pre = [c for a, c in rows if a == PRE]
    post = [c for a, c in rows if a == POST]
    return {
        "pre": bool(items) and len(pre) >= items,
        "post": bool(items) and len(post) >= items,
        "pre_right": sum(pre),
    }


def finish(db: Session, contact: Contact, row: ModuleProgress, effect, now: datetime) -> None:
    """Score an attempt, keep the best, and queue the module SMS."""
    mark = current_app.config["TRAINING_PASS_MARK"]
    # The saved first answers are the truth; the session's count is only a display.
    db.flush()
    score = len(
        db.scalars(
            select(QuizAnswer.id).where(
                QuizAnswer.contact_id == contact.id,
                QuizAnswer.module == effect.module,
                QuizAnswer.attempt == effect.attempt,
                QuizAnswer.correct.is_(True),
            )
        ).all()
    )
    score = min(score, effect.total)
    passed = score * 100 >= mark * effect.total
    row.score, row.questions, row.finished_at = score, effect.total, now
    row.best_score = max(row.best_score or 0, score)
    row.status = "passed" if passed or row.status == "passed" else "failed"
    row.position = ""
    catalog = current_app.extensions["catalog"]
    lang = contact.language or "fr"
    text = catalog.get(
        "sms.module",
        lang,
        title=catalog.get(f"course.{effect.module}.title", lang),
        score=f"{score}/{effect.total}",
        takeaway=catalog.get(f"course.{effect.module}.takeaway", lang),
    )
    outbox.add(db, "module", f"{effect.module}.{effect.attempt}", contact.phone, text)
    if row.status == "passed" and contact.role == "agent":
        db.flush()
        certify(db, contact, now)


# Letters and digits that cannot be misread for one another on a small screen.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CODE_LENGTH = 8


def certify(db: Session, contact: Contact, now: datetime) -> Certificate | None:
    """Issue the agent's certificate once every module is passed, and queue its SMS."""
    course = current_app.extensions["catalog"].course
    rows = {
        r.module: r
        for r in db.scalars(select(ModuleProgress).where(ModuleProgress.contact_id == contact.id))
    }
    if not course.modules or any(
        rows.get(m.id) is None or rows[m.id].status != "passed" for m in course.modules
    ):
        return None
    existing = db.scalars(select(Certificate).where(Certificate.contact_id == contact.id)).first()
    if existing:
        return existing
    certificate = Certificate(
        contact_id=contact.id,
        code="".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)),
        modules=len(course.modules),
        score=sum(rows[m.id].best_score or 0 for m in course.modules),
        questions=sum(len(m.quiz) for m in course.modules),
        issued_at=now,
    )
    db.add(certificate)
    catalog = current_app.extensions["catalog"]
    text = catalog.get(
        "sms.certificate",
        contact.language or "fr",
        name=contact.name or "",
        modules=certificate.modules,
        code=certificate.code,
    )
    outbox.add(db, "certificate", contact.id, contact.phone, re.sub(r" {2,}", " ", text))
    return certificate


def verify(db: Session, code: str) -> dict | None:
    """Return who holds the certificate with this code, when, and with what score."""
    code = code.strip().upper()
    found = db.execute(
        select(Certificate, Contact)
        .join(Contact, Contact.id == Certificate.contact_id)
        .where(Certificate.code == code)
    ).first()
    if found is None:
        return None
    certificate, contact = found
    return {
        "code": certificate.code,
        "name": contact.name,
        "phone": contact.phone,
        "organisation": contact.organisation,
        "issued_at": certificate.issued_at,
        "score": certificate.score,
        "questions": certificate.questions,
        "modules": certificate.modules,
    }


def remind(db: Session, now: datetime) -> int:
    """Remind each idle agent once per idle spell, of one unfinished module; return how many.

    An agent gets at most TRAINING_REMINDERS_MAX reminders in all, not per module.
    """
    config = current_app.config
    idle = now - timedelta(days=config["TRAINING_REMINDER_DAYS"])
    catalog = current_app.extensions["catalog"]
    rows = db.execute(
        select(ModuleProgress, Contact)
        .join(Contact, Contact.id == ModuleProgress.contact_id)
        .where(Contact.role == "agent")
        .order_by(Contact.id, ModuleProgress.updated_at.desc())
    ).all()
    by_contact: dict[int, list] = {}
    for row, contact in rows:
        by_contact.setdefault(contact.id, []).append((row, contact))
    sent = 0
    for entries in by_contact.values():
        contact = entries[0][1]
        progress = [row for row, _ in entries]
        if sum(row.reminders for row in progress) >= config["TRAINING_REMINDERS_MAX"]:
            continue
        if max(row.updated_at for row in progress) >= idle:
            continue  # active lately, in some module
        if any(row.reminded_at and row.reminded_at >= idle for row in progress):
            continue  # already reminded in this idle spell
        unfinished = [row for row in progress if row.status in ("started", "failed")]
        if not unfinished:
            continue
        row = unfinished[0]  # the module touched last
        lang = contact.language or "fr"
        text = catalog.get(
            "sms.reminder",
            lang,
            title=catalog.get(f"course.{row.module}.title", lang),
            code=config["USSD_CODE"],
        )
        row.reminders += 1
        row.reminded_at = now
        total = sum(r.reminders for r in progress)
        # The window and opt-outs apply: a reminder is a bulk kind.
        outbox.add(db, "reminder", f"training.{total}", contact.phone, text)
        sent += 1
    db.commit()
    return sent
