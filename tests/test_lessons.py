"""Lesson calls: an agent chooses an hour from the account screens; the next lesson and the
reminders then come by call at that hour, not by SMS."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import training
from app.infra.calls import CallRequest
from app.infra.models import Contact, Message, utcnow
from app.voice import lessons

from .conftest import Dial
from .test_training import open_module

DONE = "END Noté : Kalan vous appellera à cette heure pour la formation et vos rappels."
STOPPED = "END C'est noté : Kalan ne vous appellera plus. Vos rappels arriveront par SMS."


def call_hour(app, phone) -> int | None:
    with app.extensions["db"]() as db:
        return db.scalars(select(Contact.call_hour).where(Contact.phone == phone)).one()


def lesson_calls(app) -> list[tuple[str, datetime, str, str | None]]:
    with app.extensions["db"]() as db:
        rows = db.scalars(select(CallRequest).order_by(CallRequest.id))
        return [(r.phone, r.due_at, r.status, r.error) for r in rows if r.reason == "lesson"]


@pytest.mark.parametrize(
    ("now", "hour", "expected"),
    [
        (datetime(2026, 12, 7, 9, 30, tzinfo=UTC), 16, datetime(2026, 12, 7, 16, tzinfo=UTC)),
        (datetime(2026, 12, 7, 16, 0, tzinfo=UTC), 16, datetime(2026, 12, 8, 16, tzinfo=UTC)),
        (datetime(2026, 12, 31, 19, 0, tzinfo=UTC), 8, datetime(2027, 1, 1, 8, tzinfo=UTC)),
    ],
)
def test_the_next_call_comes_at_the_next_such_hour(now, hour, expected):
    assert lessons.next_at(hour, now, "Africa/Bamako") == expected


def test_the_next_such_hour_is_local():
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # 15:00 in Nairobi
    assert lessons.next_at(16, now, "Africa/Nairobi") == datetime(2026, 12, 7, 13, tzinfo=UTC)


def test_an_agent_chooses_an_hour_and_the_next_lesson_is_called_then(app, client, agent):
    caller = Dial(client, phone=agent)
    caller()
    screen = caller("5", "6")  # Compte / Aide, Appels de formation
    assert screen.startswith("CON Kalan vous appelle pour la formation et les rappels")
    assert "\n1. 8h\n2. 12h\n3. 16h\n4. 18h\n5. Ne plus m'appeler\n" in screen
    assert caller("3") == DONE
    assert call_hour(app, agent) == 16
    [(phone, due, status, _)] = lesson_calls(app)
    assert (phone, status) == (agent, "queued")
    assert due.astimezone(lessons.ZoneInfo("Africa/Bamako")).hour == 16
    assert utcnow() < due <= utcnow() + timedelta(days=1)


def test_stopping_lesson_calls_drops_the_next_one(app, client, agent):
    caller = Dial(client, phone=agent)
    caller()
    caller("5", "6", "1")
    caller = Dial(client, phone=agent)
    caller()
    assert caller("5", "6", "5") == STOPPED
    assert call_hour(app, agent) is None
    assert [(s, e) for _, _, s, e in lesson_calls(app)] == [("skipped", "lesson calls turned off")]


def test_only_agents_are_offered_lesson_calls(app, client):
    caller = Dial(client, phone="+22376000401")
    caller()
    assert "Appels de formation" not in caller("5")
    assert caller("6").startswith("CON Choix invalide.")


def test_choosing_the_same_hour_twice_is_one_call(app, agent):
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    with app.extensions["db"]() as db:
        assert lessons.choose(db, app.config, agent, 12, now)
        assert not lessons.choose(db, app.config, agent, 12, now + timedelta(minutes=5))
        db.commit()
    assert len(lesson_calls(app)) == 1


def test_reminders_call_an_agent_who_chose_calls_rather_than_text(app, client, agent):
    caller = Dial(client, phone=agent)
    caller()
    open_module(caller)
    caller("1")  # lesson 2: the module is started
    with app.extensions["db"]() as db:
        lessons.choose(db, app.config, agent, 18, utcnow())
        db.commit()
    later = utcnow() + timedelta(days=3, minutes=1)
    catalog = app.extensions["catalog"]
    with app.app_context(), app.extensions["db"]() as db:
        assert training.remind(db, app.config, catalog, later) == 1
        assert training.remind(db, app.config, catalog, later) == 0  # once per idle spell
        texted = db.scalars(select(Message).where(Message.kind == "reminder")).all()
    assert texted == []
    calls = lesson_calls(app)
    assert len(calls) == 2  # the one asked for, and the reminder's
    assert calls[1][1] == lessons.next_at(18, later, app.config["TZ"])


def test_another_hour_replaces_the_lesson_call_queued(app, agent):
    now = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
    with app.extensions["db"]() as db:
        assert lessons.choose(db, app.config, agent, 8, now)
        assert lessons.choose(db, app.config, agent, 12, now + timedelta(minutes=1))
        db.commit()
    calls = lesson_calls(app)
    assert [status for _, _, status, _ in calls] == ["skipped", "queued"]
    assert calls[1][1].hour == 12
