"""The tick with campaigns: reaping, starting and dispatching them, one expansion at a time."""

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app
from sqlalchemy import select

from app.infra.models import Campaign, Message, utcnow
from app.messaging import outbox
from app.messaging.campaigns.creation import create
from workers import jobs

from .helpers import errors_logged, race
from .test_workers import add_contacts, sending

# -- the tick -----------------------------------------------------------------------------------


def test_a_tick_reaps_starts_due_campaigns_and_dispatches(sms_app, sandbox, caplog):
    """A row a lost worker held goes out, a due campaign is sent, a later one waits, and a
    broken one is stopped without holding up the rest."""
    now = utcnow()
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        phones = add_contacts(db, 3)
        outbox.add(db, current_app.config, "receipt", "R1", "+22379000001", "Reçu")
        db.flush()
        lost = db.scalars(select(Message)).one()  # claimed by a worker that vanished
        lost.status, lost.lease_owner, lost.lease_until = "claimed", "gone", now - timedelta(1)
        due = create(db, "Due", {"fr": "Bonjour"}, {}, start_at=now)
        create(db, "Later", {"fr": "Demain"}, {}, start_at=now + timedelta(1))
        broken = create(db, "Broken", {"fr": "Bonjour"}, {}, start_at=now)
        broken.audience = "{not json"  # its expansion raises
        db.commit()
        result = jobs.tick()
        db.expire_all()
        status = {c.name: (c.status, c.reason) for c in db.scalars(select(Campaign))}
    assert result["reaped"]["requeued"] == 1
    assert sorted(result["started"]) == sorted([due.id, broken.id])
    received = Counter(m["to"] for m in sandbox.messages())
    assert received == Counter([*phones, "+22379000001"])  # each once
    assert status == {
        "Due": ("done", None),
        "Later": ("scheduled", None),
        "Broken": ("failed", "expansion failed: see the worker log"),
    }
    assert errors_logged(caplog)[0].startswith(f"app: campaign {broken.id} could not be expanded")


# -- expand_campaign ----------------------------------------------------------------------------


def test_two_expansions_of_one_campaign_at_once_the_second_skips(sms_app, sandbox):
    """A second worker given the same campaign while the first is expanding it does nothing,
    without waiting; the first sends every row once."""
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        phones = add_contacts(db, 5)
        campaign_id = create(db, "Une fois", {"fr": "Bonjour"}, {}).id
        db.commit()
    engine = sms_app.extensions["engine"]
    inside, second_done = threading.Event(), threading.Event()
    returned, failed, waited = {}, [], []
    insert = f"INSERT INTO {Message.__tablename__}"

    def hold(_conn, _cursor, statement, *_):
        # The first expansion stops mid-batch, rows written but not committed, until the
        # second has had its go.
        first = threading.current_thread().name == "first"
        if first and statement.startswith(insert) and not inside.is_set():
            inside.set()
            waited.append(second_done.wait(timeout=10))

    def expand(name: str) -> None:
        if name == "second":
            inside.wait(timeout=10)
        try:
            with sms_app.app_context():
                returned[name] = jobs.expand_campaign(campaign_id)
        except Exception as exc:  # reported by the assertions below
            failed.append(exc)
        finally:
            if name == "second":
                second_done.set()

    race(engine, hold, expand, timeout=60)
    assert failed == []
    assert waited == [True], "the second expansion waited for the first"
    assert returned == {"first": 5, "second": 0}
    assert sorted(m["to"] for m in sandbox.messages()) == phones  # each once
    with sms_app.app_context():  # the lock was given back: a later expansion gets it
        assert jobs.expand_campaign(campaign_id) == 5


# -- dispatch: the brake and the next occurrence ------------------------------------------------


@pytest.mark.parametrize(
    ("failing", "status"),
    [
        (0, "done"),
        (12, "done"),  # 12 of 25: under half (CAMPAIGN_PAUSE_FAILURE_RATE)
        (13, "paused"),
        (25, "paused"),
    ],
)
def test_dispatch_pauses_a_campaign_whose_sends_fail(sms_app, sandbox, failing, status):
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        phones = add_contacts(db, 25)
        sandbox.faults(recipient_status={p: 406 for p in phones[:failing]})  # blacklisted
        campaign = sending(db, phones)
        result = jobs.dispatch()
        db.refresh(campaign)
    assert (result["sent"], result["failed"]) == (25 - failing, failing)
    assert campaign.status == status
    if status == "paused":
        assert campaign.reason == f"paused: {failing / 25:.0%} of the last 25 sends failed"


def test_dispatch_schedules_a_repeating_campaigns_next_occurrence(sms_app, sandbox):
    start = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        phones = add_contacts(db, 2)
        campaign = sending(db, phones, start_at=start, repeat_days=7)
        jobs.dispatch()
        db.refresh(campaign)
    assert (campaign.status, campaign.occurrence) == ("scheduled", 1)
    assert campaign.start_at == start + timedelta(days=7)
    registry = sms_app.extensions["queue"].scheduled_job_registry
    (job,) = [registry.job_class.fetch(j, connection=registry.connection)
              for j in registry.get_job_ids()]  # fmt: skip
    assert (job.func_name, job.args) == ("workers.jobs.expand_campaign", (campaign.id,))
    assert registry.get_scheduled_time(job) == start + timedelta(days=7)
