"""Training progress in SQL: what the journey's effects save, and what a session needs."""

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.infra.models import Contact, ModuleProgress, QuizAnswer
from app.messaging import outbox
from app.training import behind, certificate, recall
from app.voice import lessons
from flows import Catalog
from flows.effects import FinishModule, PostponeRecall, RecallAnswer, RecordAnswer, SaveProgress
from flows.training import POST, PRE, PRETEST

EFFECTS = (SaveProgress, RecordAnswer, FinishModule, RecallAnswer, PostponeRecall)
STEPS = (SaveProgress, RecordAnswer)  # the hops inside a module, written behind (steps())
FINISHED = ("passed", "failed")


def standing(db: Session, contact_id: int, cooldown_s: int) -> dict:
    """Return the learner's standing in every module, as the journey reads it.

    cooldown_s: how long after finishing a module it may be taken again.
    """
    rows = db.execute(
        select(ModuleProgress.module, ModuleProgress.status, ModuleProgress.position,
               ModuleProgress.attempt, ModuleProgress.best_score, ModuleProgress.step,
               ModuleProgress.finished_at)
        .where(ModuleProgress.contact_id == contact_id)
    ).all()  # fmt: skip
    if not rows:
        return {}
    every = db.execute(
        select(QuizAnswer.module, QuizAnswer.question, QuizAnswer.correct, QuizAnswer.attempt)
        .where(QuizAnswer.contact_id == contact_id)
        .order_by(QuizAnswer.id)  # the order the answers were given in, on any database
    ).all()
    return standing_of(rows, every, cooldown_s)


def standing_of(rows, every, cooldown_s: int) -> dict:
    """Return the standing from its rows and answers, however they were read.

    rows are (module, status, position, attempt, best score, step, finished at), one per
    module; every holds the learner's answers as (module, question, correct, attempt).
    """
    result = {}
    for module, status, position, attempt, best, step, finished_at in rows:
        answers = [(q, c, a) for m, q, c, a in every if m == module]
        retake_at = None
        if finished_at is not None:
            retake_at = (finished_at + timedelta(seconds=cooldown_s)).isoformat()
        result[module] = _entry(status, position, attempt, best, retake_at, answers, step)
    return result


def _entry(status: str, position: str, attempt: int, best, retake_at, answers: list,
           step: int) -> dict:  # fmt: skip
    """Return one module's standing from its row's values and its answers.

    answers are (question, correct, attempt), one per question and attempt. The
    one computation of a standing: standing() reads its inputs from the
    database, steps() from the standing it brings up to date.
    """
    finished = _finished(status, attempt)
    return {
        "status": status,
        "position": position,
        "attempt": attempt,
        "best": best,
        "answered": {q: c for q, c, a in answers if a == attempt} if status == "started" else {},
        "missed": [q for q, c, a in answers if a == finished and not c],
        "retake_at": retake_at,
        "step": step,  # the row's count of steps: orders the steps written behind
    }


def _finished(status: str, attempt: int) -> int:
    """Return the last finished attempt: this one once scored, else the one before."""
    return attempt if status in FINISHED else attempt - 1


def _after(held: dict, status: str, position: str, attempt: int, answer, step: int) -> dict | None:
    """Return a module's standing after one step, or None.

    The answers are the ones the held standing knows: the current attempt's, and
    the wrong ones of the last finished attempt. None if the last finished
    attempt moves to one whose answers the held standing lacks: only the
    database knows them.
    """
    before, after = _finished(held["status"], held["attempt"]), _finished(status, attempt)
    if after != before and not (held["status"] == "started" and after == held["attempt"]):
        return None
    answers = [(q, False, before) for q in held["missed"]]
    answers += [(q, c, held["attempt"]) for q, c in held["answered"].items()]
    if answer is not None and all((q, a) != (answer[0], answer[2]) for q, _, a in answers):
        answers.append(answer)  # the first answer to a question in an attempt counts
    return _entry(status, position, attempt, held["best"], held["retake_at"], answers, step)


def _progress(db: Session, contact_id: int, module: str, now: datetime) -> ModuleProgress:
    row = db.scalars(
        select(ModuleProgress).where(
            ModuleProgress.contact_id == contact_id, ModuleProgress.module == module
        )
    ).first()
    if row is None:
        row = ModuleProgress(contact_id=contact_id, module=module, status="started", position="",
                             attempt=0, started_at=now, updated_at=now)  # fmt: skip
        db.add(row)
    return row


def apply(
    db: Session, config: Mapping, catalog: Catalog, contact: Contact, effect, now: datetime
) -> None:
    """Save one training effect at once, in the caller's transaction."""
    if isinstance(effect, RecallAnswer):
        recall.answer(db, catalog.course, contact.id, effect, now)
        return
    if isinstance(effect, PostponeRecall):
        recall.postpone(db, contact.id, now)
        return
    if effect.module == PRETEST:  # the pre/post-test: answers only, no progress
        _answer(db, contact, effect, now)
        return
    row = _progress(db, contact.id, effect.module, now)
    row.updated_at = now
    row.step = (row.step or 0) + 1  # past every step written behind so far (behind.write first)
    if isinstance(effect, SaveProgress):
        row.position = effect.position
        if row.status not in FINISHED:
            row.status = "started"
    elif isinstance(effect, RecordAnswer):
        if row.status != "passed":
            row.status = "started"
        row.attempt, row.position = effect.attempt, "q"
        _answer(db, contact, effect, now)
    elif isinstance(effect, FinishModule):
        finish(db, config, catalog, contact, row, effect, now)


def steps(profile: dict, effects, now: datetime) -> tuple[dict, list[dict]] | None:
    """Work out the hops inside a module (the next lesson, an answer) without SQL: return
    the new standing and the entries to write behind (app/training/behind.py), or None.

    The cached profile holds the contact's id and standing; the standing is brought up
    to date here as standing() would read it once the entries are written. None means
    the effects need the full path (apply).
    """
    standing = dict(profile.get("training") or {})
    if "id" not in profile or not effects:
        return None
    for effect in effects:
        if not isinstance(effect, SaveProgress | RecordAnswer) or effect.module not in standing:
            return None  # a module's end, a first lesson, the pre-test: the full path
        if "step" not in standing[effect.module]:  # cached by the release before
            return None
        if isinstance(effect, RecordAnswer) and standing[effect.module]["status"] == "passed":
            # A passed module taken again: its missed questions move on, and the entry
            # would mark it started, undoing the pass.
            return None
    entries = []
    for effect in effects:
        held = standing[effect.module]
        step = held["step"] + 1
        if isinstance(effect, SaveProgress):
            status = held["status"] if held["status"] in FINISHED else "started"
            after = _after(held, status, effect.position, held["attempt"], None, step)
            entry = behind.place(profile["id"], effect.module, step, effect.position, status, now)
        else:
            answer = (effect.question, effect.correct, effect.attempt)
            after = _after(held, "started", "q", effect.attempt, answer, step)
            entry = behind.answer(profile["id"], effect.module, step, effect.attempt,
                                  effect.question, effect.choice, effect.correct, now)  # fmt: skip
        if after is None:  # the full path reads what the cached standing lacks
            return None
        standing[effect.module] = after
        entries.append(entry)
    return standing, entries


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


def tests(db: Session, course, contact_id: int) -> dict:
    """Return whether the learner took the pre-test and the post-test, and the pre score."""
    rows = db.execute(
        select(QuizAnswer.attempt, QuizAnswer.correct).where(
            QuizAnswer.contact_id == contact_id, QuizAnswer.module == PRETEST
        )
    ).all()
    return tests_of(course, rows)


def tests_of(course, rows) -> dict:
    """Return what tests() says from the pre- and post-test answers, as (attempt, correct)."""
    items = len(course.pretest)
    pre = [c for a, c in rows if a == PRE]
    post = [c for a, c in rows if a == POST]
    return {
        "pre": bool(items) and len(pre) >= items,
        "post": bool(items) and len(post) >= items,
        "pre_right": sum(pre),
    }


def finish(
    db: Session,
    config: Mapping,
    catalog: Catalog,
    contact: Contact,
    row: ModuleProgress,
    effect,
    now: datetime,
) -> None:
    """Score an attempt against TRAINING_PASS_MARK, keep the best, and queue the module SMS."""
    mark = config["TRAINING_PASS_MARK"]
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
    if passed:  # days later, three of its questions again: what stayed
        recall.schedule(db, config, contact.id, effect.module, now)
    row.status = "passed" if passed or row.status == "passed" else "failed"
    row.position = ""
    lang = contact.language or "fr"
    text = catalog.get(
        "sms.module",
        lang,
        title=catalog.get(f"course.{effect.module}.title", lang),
        score=f"{score}/{effect.total}",
        takeaway=catalog.get(f"course.{effect.module}.takeaway", lang),
    )
    outbox.add(db, config, "module", f"{effect.module}.{effect.attempt}", contact.phone, text)
    if row.status == "passed" and contact.role == "agent":
        db.flush()
        certificate.certify(db, config, catalog, contact, now)


def remind(db: Session, config: Mapping, catalog: Catalog, now: datetime) -> int:
    """Remind each idle agent once per idle spell, of one unfinished module; return how many.

    An agent gets at most TRAINING_REMINDERS_MAX reminders in all, not per module; one who
    chose lesson calls is called at their hour instead of texted.
    """
    idle = now - timedelta(days=config["TRAINING_REMINDER_DAYS"])
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
        row.reminders += 1
        row.reminded_at = now
        sent += 1
        if lessons.remind(db, config, contact, now):
            continue  # a call at the agent's hour, rather than an SMS
        lang = contact.language or "fr"
        text = catalog.get(
            "sms.reminder",
            lang,
            title=catalog.get(f"course.{row.module}.title", lang),
            code=config["USSD_CODE"],
        )
        total = sum(r.reminders for r in progress)
        # The window and opt-outs apply: a reminder is a bulk kind.
        outbox.add(db, config, "reminder", f"training.{total}", contact.phone, text)
    db.commit()
    return sent
