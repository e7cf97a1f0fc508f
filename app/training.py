"""Training progress in SQL: what the journey's effects save, and what a session needs."""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flows.effects import FinishModule, RecordAnswer, SaveProgress

from . import outbox
from .models import Contact, ModuleProgress, QuizAnswer, utcnow

EFFECTS = (SaveProgress, RecordAnswer, FinishModule)


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
        db.flush()
        try:
            with db.begin_nested():  # the first answer per attempt counts; a resent one is ignored
                db.add(QuizAnswer(contact_id=contact.id, module=effect.module,
                                  question=effect.question, attempt=effect.attempt,
                                  choice=effect.choice, correct=effect.correct,
                                  answered_at=now))  # fmt: skip
        except IntegrityError:
            pass
    elif isinstance(effect, FinishModule):
        finish(db, contact, row, effect, now)


def finish(db: Session, contact: Contact, row: ModuleProgress, effect, now: datetime) -> None:
    """Score an attempt, keep the best, and queue the module SMS."""
    mark = current_app.config["TRAINING_PASS_MARK"]
    passed = effect.score * 100 >= mark * effect.total
    row.score, row.questions, row.finished_at = effect.score, effect.total, now
    row.best_score = max(row.best_score or 0, effect.score)
    row.status = "passed" if passed or row.status == "passed" else "failed"
    row.position = ""
    catalog = current_app.extensions["catalog"]
    lang = contact.language or "fr"
    text = catalog.get(
        "sms.module",
        lang,
        title=catalog.get(f"course.{effect.module}.title", lang),
        score=f"{effect.score}/{effect.total}",
        takeaway=catalog.get(f"course.{effect.module}.takeaway", lang),
    )
    outbox.add(db, "module", f"{effect.module}.{effect.attempt}", contact.phone, text)
