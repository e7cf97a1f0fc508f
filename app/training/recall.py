"""Recall quizzes in SQL: scheduled when a module is passed, answered by USSD or by SMS."""

from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from app.infra.models import Contact, QuizAnswer, Recall, day_of
from app.messaging import outbox
from app.messaging.keywords import words
from flows import Catalog
from flows.course import Course
from flows.effects import RecallAnswer
from flows.training import RECALL
from flows.training.common import order
from flows.training.recall import pick

MAX_POSTPONED = 3  # then it is not offered again: the learner has said no
# Recall times are kept to the day, as a contact's are: the offer comes when an agent
# dials, perhaps to report, and a minute kept here could be matched with a report's.


def schedule(db: Session, config: Mapping, contact_id: int, module: str, now: datetime) -> None:
    """Plan a module's recall TRAINING_RECALL_DAYS after its first pass; once per module."""
    query = select(Recall.id).where(Recall.contact_id == contact_id, Recall.module == module)
    if db.scalars(query).first() is not None:
        return  # passed before: a retake does not move the recall
    due = now + timedelta(days=config["TRAINING_RECALL_DAYS"])
    try:
        with db.begin_nested():
            db.add(Recall(contact_id=contact_id, module=module, due_at=due, postponed=0))
    except IntegrityError:
        pass  # planned at the same moment by a resent hop


def pending(db: Session, contact_id: int) -> dict:
    """Return the recalls still to take, as the journey reads them (ctx["recalls"])."""
    rows = db.execute(
        select(Recall.module, Recall.due_at).where(
            Recall.contact_id == contact_id,
            Recall.finished_at.is_(None),
            Recall.postponed < MAX_POSTPONED,
        )
    ).all()
    if not rows:
        return {}
    answers = db.execute(
        select(QuizAnswer.module, QuizAnswer.question, QuizAnswer.correct).where(
            QuizAnswer.contact_id == contact_id, QuizAnswer.attempt == RECALL
        )
    ).all()
    return pending_of(rows, answers)


def pending_of(rows, answers) -> dict:
    """Return the recalls to take as pending() does, however they were read.

    rows are (module, due at), one per recall; answers, (module, question, correct).
    """
    return {
        module: {
            "due_at": due_at.isoformat(),
            "answered": {q: c for m, q, c in answers if m == module},
        }
        for module, due_at in rows
    }


def answer(
    db: Session, course: Course, contact_id: int, effect: RecallAnswer, now: datetime
) -> bool:
    """Keep one recall answer, the first per question; close the recall once all are in."""
    # The recall's row is locked first, by USSD and SMS alike: an answer by each at
    # the same moment then waits, rather than deadlocking.
    recall = _find(db, contact_id, effect.module)
    db.flush()
    try:
        with db.begin_nested():
            db.add(QuizAnswer(contact_id=contact_id, module=effect.module, question=effect.question,
                              attempt=RECALL, choice=effect.choice, correct=effect.correct,
                              answered_at=day_of(now)))  # fmt: skip
        new = True
    except IntegrityError:
        new = False
    if recall is not None:
        recall.asking = None if recall.asking == effect.question else recall.asking
        _close_if_done(db, course, recall, now)
    return new


def postpone(db: Session, contact_id: int, now: datetime) -> None:
    """Put every recall due off to tomorrow: one offer a day; after MAX_POSTPONED, no more."""
    due = db.scalars(
        select(Recall).where(
            Recall.contact_id == contact_id,
            Recall.finished_at.is_(None),
            Recall.postponed < MAX_POSTPONED,
            Recall.due_at <= now,
        )
    ).all()
    for recall in due:
        recall.due_at = day_of(now) + timedelta(days=1)
        recall.postponed += 1


def _find(db: Session, contact_id: int, module: str) -> Recall | None:
    query = select(Recall).where(Recall.contact_id == contact_id, Recall.module == module)
    return db.scalars(query.with_for_update()).first()


def _answered(db: Session, recall: Recall) -> dict[str, bool]:
    rows = db.execute(
        select(QuizAnswer.question, QuizAnswer.correct).where(
            QuizAnswer.contact_id == recall.contact_id,
            QuizAnswer.module == recall.module,
            QuizAnswer.attempt == RECALL,
        )
    )
    return dict(rows.all())


def _next(course: Course, recall: Recall, answered: Mapping) -> list[str]:
    """Return the recall's questions not answered yet, in order."""
    module = course.module(recall.module)
    asked = pick(module, recall.contact_id) if module else []
    return [q for q in asked if q not in answered]


def _close_if_done(db: Session, course: Course, recall: Recall, now: datetime) -> None:
    answered = _answered(db, recall)
    module = course.module(recall.module)
    if module is None or recall.finished_at is not None or _next(course, recall, answered):
        return
    asked = pick(module, recall.contact_id)
    recall.right = sum(1 for q in asked if answered.get(q))
    recall.questions = len(asked)
    recall.finished_at, recall.asking = day_of(now), None


def send_due(db: Session, config: Mapping, catalog: Catalog, now: datetime) -> int:
    """Text the first question of each recall due, where replies by SMS work; return how many.

    Off unless TRAINING_RECALL_SMS is set: without inbound SMS on the number we send
    from, a learner could not answer, and the recall waits for their next dial.
    """
    if not config["TRAINING_RECALL_SMS"]:
        return 0
    other = aliased(Recall)
    waiting = select(other.id).where(
        other.contact_id == Contact.id, other.asking.is_not(None)
    )  # a question texted and not answered yet
    rows = db.execute(
        select(Recall, Contact)
        .join(Contact, Contact.id == Recall.contact_id)
        .where(
            Recall.finished_at.is_(None),
            Recall.sms_at.is_(None),
            Recall.due_at <= now,
            Recall.postponed < MAX_POSTPONED,
            Contact.opted_out_at.is_(None),
            # Agents only: others' phones are often shared, and a quiz by SMS says
            # what it is about. They find their recall in the training.
            Contact.role == "agent",
            ~waiting.exists(),
        )
        .order_by(Recall.due_at, Recall.id)
        .limit(config["SMS_BATCH_SIZE"])
        .with_for_update(of=Recall, skip_locked=True)
    ).all()
    texted: set[int] = set()
    for recall, contact in rows:
        # One recall by SMS at a time per learner: a bare "2" must answer one question.
        if contact.id in texted:
            continue
        texted.add(contact.id)
        left = _next(catalog.course, recall, _answered(db, recall))
        recall.sms_at = day_of(now)
        if not left:
            continue  # the course changed under it: nothing to ask
        recall.asking = left[0]
        text = _question(catalog, contact, recall, left[0])
        # A bulk kind: held outside the send window, never sent to a number opted out.
        outbox.add(db, config, "recall", f"{recall.id}.{left[0]}", contact.phone, text)
    db.commit()
    return len(texted)


def reply(db: Session, config: Mapping, catalog: Catalog, contact: Contact, text: str,
          subject: str, now: datetime, back: Mapping = MappingProxyType({})) -> bool:  # fmt: skip
    """Take an SMS as the answer to the recall question it was asked; False if it is not one.

    The reply is the number of an option as the SMS showed it. What follows (the
    feedback with the next question, or the result) is queued under subject, sent back
    as back says (the provider and number the SMS came through).
    """
    first = words(text)[:1]
    if not first or not first[0].isdigit():
        return False  # a keyword (STOP must always work) or other text
    recall = db.scalars(
        select(Recall)
        .where(Recall.contact_id == contact.id, Recall.asking.is_not(None))
        .order_by(Recall.id.desc())  # one at a time (send_due): the newest, to be sure
        .with_for_update()
    ).first()
    question = catalog.course.question(recall.asking) if recall is not None else None
    if question is None:
        return False
    lang = contact.language or "fr"
    shown = order(question, {"profile": {"id": contact.id}}, RECALL)
    position = int(first[0]) if len(first[0]) < 3 else 0
    if not 1 <= position <= len(shown):  # not one of the options: ask again
        body = _question(catalog, contact, recall, question.id)
        outbox.add(db, config, "keyword", subject, contact.phone, body, **back)
        return True
    k = shown[position - 1]
    effect = RecallAnswer(recall.module, question.id, k, question.answers[k - 1].correct)
    answer(db, catalog.course, contact.id, effect, now)
    parts = [catalog.get(f"course.{question.id}.f{k}", lang)]
    left = _next(catalog.course, recall, _answered(db, recall))
    if left:
        recall.asking = left[0]
        parts.append(_question(catalog, contact, recall, left[0]))
    else:
        recall.asking = None
        takeaway = catalog.get(f"course.{recall.module}.takeaway", lang)
        parts.append(
            catalog.get("sms.recall_end", lang, right=recall.right or 0,
                        total=recall.questions or 0, takeaway=takeaway)
        )  # fmt: skip
    outbox.add(db, config, "keyword", subject, contact.phone, "\n".join(parts), **back)
    return True


def _question(catalog: Catalog, contact: Contact, recall: Recall, qid: str) -> str:
    """Write one recall question as an SMS: its options in the learner's order, numbered."""
    lang = contact.language or "fr"
    module = catalog.course.module(recall.module)
    asked = pick(module, contact.id)
    question = catalog.course.question(qid)
    shown = order(question, {"profile": {"id": contact.id}}, RECALL)
    lines = [f"{n}. {catalog.get(f'course.{qid}.o{k}', lang)}" for n, k in enumerate(shown, 1)]
    return catalog.get(
        "sms.recall_question",
        lang,
        n=asked.index(qid) + 1,
        total=len(asked),
        question=catalog.get(f"course.{qid}.q", lang),
        options="\n".join(lines),
        choices=catalog.get(f"sms.recall_choices_{len(shown)}", lang),
    )
