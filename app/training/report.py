"""Training measurement: per learner, organisation, question and recall, for the CLI and console."""

import csv
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.infra.models import Contact, ModuleProgress, QuizAnswer, UssdEvent
from flows.course import Course
from flows.training import POST, PRE
from flows.training.common import RECALL


def learners(db: Session, course: Course, where=None) -> list[dict]:
    """One row per learner: modules started and passed, attempts, scores, time, gain.

    where, a condition on Contact, keeps the learners of one area (a console user's scope).
    """
    query = select(ModuleProgress, Contact).join(Contact, Contact.id == ModuleProgress.contact_id)
    rows = db.execute(query if where is None else query.where(where)).all()
    by_contact: dict[int, dict] = {}
    began: dict[int, datetime] = {}  # when each learner started their first module
    for progress, contact in rows:
        began[contact.id] = min(began.get(contact.id, progress.started_at), progress.started_at)
        entry = by_contact.setdefault(
            contact.id,
            {"phone": contact.phone, "name": contact.name or "", "role": contact.role,
             "organisation": contact.organisation or "", "started": 0, "passed": 0,
             "attempts": 0, "right": 0, "asked": 0},
        )  # fmt: skip
        entry["started"] += 1
        entry["passed"] += progress.status == "passed"
        entry["attempts"] += progress.attempt
        if progress.best_score is not None and progress.questions:
            entry["right"] += progress.best_score
            entry["asked"] += progress.questions
    minutes = _minutes(db)
    before = _before(db, course, began)
    gains = _gains(db, course, before)
    result = []
    for contact_id, entry in sorted(by_contact.items()):
        right, asked = entry.pop("right"), entry.pop("asked")
        entry["score_percent"] = round(100 * right / asked) if asked else ""
        # Time on the line, from the gateway's session reports: a learner who
        # comes back days later is not credited the days in between.
        entry["minutes"] = round(minutes.get(entry["phone"], 0))
        entry["gain"] = gains.get(contact_id, "")
        # Agents are offered the pre-test first; one who began without it has no gain.
        offered = course.pretest and entry["role"] == "agent"
        entry["pretest"] = ("taken" if contact_id in before else "skipped") if offered else ""
        result.append(entry)
    return result


def gain_summary(rows: list[dict]) -> dict:
    """Sum learners() rows up: the mean gain, how many it covers, how many skipped the pre-test."""
    # Skippers have no gain, so they are out of the mean; they are counted, so that a
    # reader knows whom the figure speaks for.
    gains = [row["gain"] for row in rows if row["gain"] != ""]
    return {
        "gain": round(sum(gains) / len(gains)) if gains else None,
        "measured": len(gains),
        "skipped": sum(1 for row in rows if row.get("pretest") == "skipped"),
    }


def organisations(rows: list[dict]) -> list[dict]:
    """Sum learners() rows up per organisation as gain_summary does; "" is none given."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[row["organisation"]].append(row)
    return [{"organisation": org, "learners": len(group), **gain_summary(group)}
            for org, group in sorted(groups.items())]  # fmt: skip


def skippers(rows: list[dict]) -> dict:
    """Count, of learners() rows, the agents offered the pre-test and those who skipped it."""
    offered = [row for row in rows if row.get("pretest")]
    skipped = sum(1 for row in offered if row["pretest"] == "skipped")
    percent = round(100 * skipped / len(offered)) if offered else None
    return {"skipped": skipped, "offered": len(offered), "percent": percent}


def retention(db: Session, course: Course, where=None) -> list[dict]:
    """One row per module: who answered its recall quiz, their share right, and their quiz score.

    The quiz score is the same learners' best in the module's quiz, for comparison.
    where, a condition on Contact, counts the answers of one area's learners only.
    """
    query = select(QuizAnswer.contact_id, QuizAnswer.module, QuizAnswer.correct).where(
        QuizAnswer.attempt == RECALL
    )
    if where is not None:
        query = query.join(Contact, Contact.id == QuizAnswer.contact_id).where(where)
    recalled: dict[str, dict[int, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for contact_id, module, correct in db.execute(query):
        recalled[module][contact_id].append(correct)
    recallers = select(QuizAnswer.contact_id).where(QuizAnswer.attempt == RECALL)
    scores = select(
        ModuleProgress.contact_id, ModuleProgress.module, ModuleProgress.best_score,
        ModuleProgress.questions,
    ).where(ModuleProgress.questions > 0, ModuleProgress.contact_id.in_(recallers))  # fmt: skip
    best = {(c, module): (score or 0, asked) for c, module, score, asked in db.execute(scores)}
    result = []
    for module in course.modules:
        answers = recalled.get(module.id, {})
        given = [correct for each in answers.values() for correct in each]
        quiz = [best[(c, module.id)] for c in answers if (c, module.id) in best]
        asked = sum(n for _, n in quiz)
        result.append({
            "module": module.id,
            "learners": len(answers),
            "right_percent": round(100 * sum(given) / len(given)) if given else None,
            "quiz_percent": round(100 * sum(s for s, _ in quiz) / asked) if asked else None,
        })  # fmt: skip
    return result


def _minutes(db: Session) -> dict[str, float]:
    """Return the minutes each phone spent in USSD sessions, from the end-of-session reports."""
    rows = db.execute(
        select(UssdEvent.phone, func.sum(UssdEvent.duration_ms)).group_by(UssdEvent.phone)
    )
    return {phone: (total or 0) / 60000 for phone, total in rows if phone}


def _before(db: Session, course: Course, began: dict[int, datetime]) -> set[int]:
    """Return the learners who answered every pre-test item before starting a module."""
    # A pre-test finished after a lesson measures nothing of what was known before:
    # its learner counts as one who skipped it.
    items = set(course.pretest)
    if not items or not began:
        return set()
    answers = db.execute(
        select(QuizAnswer.contact_id, QuizAnswer.question, QuizAnswer.answered_at).where(
            QuizAnswer.attempt == PRE, QuizAnswer.question.in_(items)
        )
    )
    asked: dict[int, set[str]] = defaultdict(set)
    late: set[int] = set()
    for contact_id, question, answered_at in answers:
        asked[contact_id].add(question)
        if contact_id in began and answered_at > began[contact_id]:
            late.add(contact_id)
    return {c for c, done in asked.items() if done == items and c in began and c not in late}


def _gains(db: Session, course: Course, before: set[int]) -> dict[int, int]:
    """Return post-test minus pre-test, in points, of the learners in before with both tests."""
    items = set(course.pretest)
    if not items or not before:
        return {}
    scores: dict[int, dict[int, list[bool]]] = defaultdict(lambda: defaultdict(list))
    answers = db.execute(
        select(QuizAnswer.contact_id, QuizAnswer.attempt, QuizAnswer.correct).where(
            QuizAnswer.attempt.in_((PRE, POST)), QuizAnswer.question.in_(items)
        )
    )
    for contact_id, attempt, correct in answers:
        scores[contact_id][attempt].append(correct)
    return {
        contact_id: round(100 * (sum(s[POST]) - sum(s[PRE])) / len(items))
        for contact_id, s in scores.items()
        if contact_id in before and len(s[PRE]) == len(items) and len(s[POST]) == len(items)
    }


def questions(db: Session, course: Course, catalog, where=None) -> list[dict]:
    """One row per question: first-attempt success and the wrong answer chosen most.

    where, a condition on Contact, counts the answers of one area's learners only.
    """
    query = select(QuizAnswer.question, QuizAnswer.choice, QuizAnswer.correct).where(
        QuizAnswer.attempt == 1
    )
    if where is not None:
        query = query.join(Contact, Contact.id == QuizAnswer.contact_id).where(where)
    answers = db.execute(query).all()
    by_question: dict[str, list] = defaultdict(list)
    for question, choice, correct in answers:
        by_question[question].append((choice, correct))
    result = []
    for module in course.modules:
        for question in module.quiz:
            given = by_question.get(question.id, [])
            wrong = Counter(choice for choice, correct in given if not correct)
            top = wrong.most_common(1)
            rate = round(100 * sum(c for _, c in given) / len(given)) if given else ""
            result.append({
                "module": module.id,
                "question": question.id,
                "answered": len(given),
                "first_try_percent": rate,
                "top_wrong": catalog.get(f"course.{question.id}.o{top[0][0]}") if top else "",
                "top_wrong_count": top[0][1] if top else 0,
            })  # fmt: skip
    return result


def write_csv(path: Path, rows: list[dict]) -> None:
    """Write rows (dicts with the same keys) to a CSV file, header first."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        if not rows:
            return  # an empty file: nothing to report yet
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({key: safe_cell(value) for key, value in row.items()} for row in rows)


def safe_cell(value):
    """Keep a spreadsheet from running a cell as a formula: a site name typed on a
    phone may start with =, +, - or @."""
    if not isinstance(value, str) or value[:1] not in ("=", "+", "-", "@", "\t", "\r"):
        return value
    if value[:1] == "+" and value[1:].isdigit():
        return value  # a phone number in E.164: data, not a formula
    return "'" + value
