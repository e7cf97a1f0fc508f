"""Each module's funnel and time on the line, from the screens the gateway reports per session.

Africa's Talking sends, with a session's end, the label of each screen shown
(hopsMetadata, from our at-ussd-hop-metadata header). A module's screens are
labelled t.<module>.<screen>: t.m1.l3 is lesson 3 of m1, t.m1.q a question.
"""

import re
from collections import Counter
from statistics import median

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.infra.models import Contact, ModuleProgress, UssdEvent
from flows.course import Course, Module

SEPARATOR = "|"  # between labels, in hopsMetadata as in the labels column
# A training screen's name: the only labels a session kept with its phone keeps.
LABEL = re.compile(r"t(?:\.[A-Za-z0-9_]{1,24}){1,2}")
MOST_LABELS = 300  # more hops than a three-minute session can make: no gateway sends more
# The screens of a learner who reached the quiz (done and wait: one who finished it before).
QUIZ = ("q", "fb", "resume_quiz", "score", "wait", "done")


def kept(metadata: str) -> str | None:
    """Return the training labels of a session's hopsMetadata, "|"-joined; None if none.

    Any other label, a malformed one included, is dropped: a session kept with its
    phone keeps what it showed of the training, nothing of where else its caller went.
    """
    labels = (label.strip() for label in metadata.split(SEPARATOR, MOST_LABELS)[:MOST_LABELS])
    return SEPARATOR.join(label for label in labels if LABEL.fullmatch(label)) or None


def steps(module: Module) -> list[str]:
    """Name a module's steps in order: started, each lesson (l1, l2...), quiz, passed."""
    return ["started", *(f"l{n}" for n in range(1, module.lessons + 1)), "quiz", "passed"]


def modules(db: Session, course: Course, where=None) -> list[dict]:
    """One row per module: its learners at each step, and the minutes of those who passed it.

    A learner's furthest step is the furthest that their sessions' labels or their saved
    progress show, so a gateway that sends no labels still leaves the progress; they
    count at every step before it. where, a condition on Contact, keeps one area's learners.
    """
    known = {module.id: module for module in course.modules}
    furthest: dict[tuple[int, str], int] = {}  # (contact, module): index of a step
    passed: set[tuple[int, str]] = set()
    progress = select(
        ModuleProgress.contact_id, ModuleProgress.module, ModuleProgress.status,
        ModuleProgress.position,
    ).join(Contact, Contact.id == ModuleProgress.contact_id)  # fmt: skip
    for contact_id, module_id, status, position in db.execute(_within(progress, where)):
        if module_id not in known:
            continue  # a module since taken out of the course
        key = (contact_id, module_id)
        furthest[key] = max(furthest.get(key, 0), _by_progress(known[module_id], status, position))
        if status == "passed":
            passed.add(key)
    spent: dict[tuple[int, str], float] = {}  # (contact, module): milliseconds
    sessions = (
        select(Contact.id, UssdEvent.labels, UssdEvent.duration_ms, UssdEvent.hops)
        .join(Contact, Contact.phone == UssdEvent.phone)
        .where(UssdEvent.labels.is_not(None))
    )
    for contact_id, labels, duration_ms, hops in db.execute(_within(sessions, where)):
        shown: Counter[str] = Counter()
        screens = labels.split(SEPARATOR)
        for label in screens:
            parts = label.split(".")
            module = known.get(parts[1]) if len(parts) == 3 else None
            if module is None:
                continue  # the training's menus, or the pre-test: no module's
            key = (contact_id, module.id)
            furthest[key] = max(furthest.get(key, 0), _by_screen(module, parts[2]))
            shown[module.id] += 1
        if not duration_ms:
            continue  # a session whose length the gateway did not say
        # Each hop gets an equal share of the session's time: hopsCount counts the hops
        # of other menus too, whose labels were not kept.
        for module_id, count in shown.items():
            share = duration_ms * count / max(hops or 0, len(screens))
            spent[(contact_id, module_id)] = spent.get((contact_id, module_id), 0) + share
    reached: dict[str, list[int]] = {module.id: [] for module in course.modules}
    for (_, module_id), step in furthest.items():
        reached[module_id].append(step)
    # Those who passed and whose time is known: a session without labels tells none.
    minutes: dict[str, list[float]] = {module.id: [] for module in course.modules}
    for key in passed:
        if spent.get(key):
            minutes[key[1]].append(spent[key] / 60000)
    return [_row(module, reached[module.id], minutes[module.id]) for module in course.modules]


def _row(module: Module, reached: list[int], minutes: list[float]) -> dict:
    """Count one module's learners at each step, from each one's furthest; add the median."""
    rows, before = [], None
    for index, name in enumerate(steps(module)):
        count = sum(1 for step in reached if step >= index)
        dropoff = round(100 * (before - count) / before) if before else None
        rows.append({"step": name, "learners": count, "dropoff_percent": dropoff})
        before = count
    return {
        "module": module.id,
        "steps": rows,
        "median_minutes": round(median(minutes), 1) if minutes else None,
        "timed": len(minutes),
    }


def _by_screen(module: Module, screen: str) -> int:
    """Return the index of the step that a screen of the module shows its learner reached."""
    if screen[:1] == "l" and screen[1:].isdigit():
        return min(max(int(screen[1:]), 1), module.lessons)  # a lesson since cut: the last
    return module.lessons + 1 if screen in QUIZ else 0


def _by_progress(module: Module, status: str, position: str | None) -> int:
    """Return the index of the step that a learner's saved progress shows they reached."""
    if status == "passed":
        return module.lessons + 2
    if status == "failed":  # a quiz finished, not passed
        return module.lessons + 1
    return _by_screen(module, position or "")  # l3, q, or "" before any


def _within(query, where):
    """Narrow a query joined to Contact to an area (None: everywhere)."""
    return query if where is None else query.where(where)
