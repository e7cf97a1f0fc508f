"""A campaign's progress, and pausing, resuming, cancelling."""

import pytest
from sqlalchemy import update

from app.infra.models import Campaign
from app.messaging.campaigns import expansion, lifecycle
from app.messaging.campaigns.text import CampaignError

from .conftest import NOW, add_contacts, new, reload, rows, set_statuses


def test_progress_counts_by_state(app, db):
    add_contacts(db, 10)
    campaign = new(db)
    expansion.expand(db, campaign.id, app.config)
    assert lifecycle.progress(db, campaign.id) == {
        "total": 10,
        "queued": 10,
        "sent": 0,
        "delivered": 0,
        "failed": 0,
        "cancelled": 0,
        "unknown": 0,
        "percent": 0,
    }
    statuses = ["queued", "claimed", "sending", "sent", "sent", "delivered", "delivered"]
    set_statuses(db, campaign.id, [*statuses, "failed", "unknown", "unknown"])
    # One unknown is closed (at most once), the other still awaits its reconciliation.
    last = rows(db, campaign.id)[-1]
    last.finished_at = NOW
    db.commit()
    assert lifecycle.progress(db, campaign.id) == {
        "total": 10,
        "queued": 3,
        "sent": 2,
        "delivered": 2,
        "failed": 1,
        "cancelled": 0,
        "unknown": 2,
        "percent": 60,
    }


def test_progress_of_an_empty_campaign_is_complete_once_expanded(app, db):
    campaign = new(db)
    assert lifecycle.progress(db, campaign.id)["percent"] == 0  # not even started
    expansion.expand(db, campaign.id, app.config)
    assert lifecycle.progress(db, campaign.id)["percent"] == 100


@pytest.mark.parametrize(
    ("start", "expanded", "action", "expected"),
    [
        ("scheduled", False, "pause", "paused"),
        ("expanding", False, "pause", "paused"),
        ("sending", True, "pause", "paused"),
        ("paused", True, "resume", "sending"),
        ("paused", False, "resume", "scheduled"),
        ("scheduled", False, "cancel", "cancelled"),
        ("expanding", False, "cancel", "cancelled"),
        ("sending", True, "cancel", "cancelled"),
        ("paused", True, "cancel", "cancelled"),
    ],
)
def test_set_status(db, start, expanded, action, expected):
    campaign = new(db)
    values = {"status": start, "expanded_at": NOW if expanded else None, "reason": "old"}
    db.execute(update(Campaign).values(**values).where(Campaign.id == campaign.id))
    db.commit()
    db.expire_all()
    assert lifecycle.set_status(db, campaign.id, action).status == expected
    stored = reload(db, campaign.id)
    assert stored.status == expected
    if action == "pause":
        assert stored.reason == "paused by a supervisor"
    if action == "resume":
        assert stored.reason is None


@pytest.mark.parametrize(
    ("start", "action"),
    [
        ("sending", "resume"),
        ("scheduled", "resume"),
        ("paused", "pause"),
        ("done", "pause"),
        ("done", "cancel"),
        ("done", "resume"),
        ("cancelled", "cancel"),
        ("cancelled", "resume"),
        ("cancelled", "pause"),
    ],
)
def test_set_status_refuses_invalid_transitions(db, start, action):
    campaign = new(db)
    db.execute(update(Campaign).values(status=start).where(Campaign.id == campaign.id))
    db.commit()
    db.expire_all()
    with pytest.raises(CampaignError, match=f"is {start}: cannot {action}"):
        lifecycle.set_status(db, campaign.id, action)
    assert reload(db, campaign.id).status == start


def test_set_status_reads_the_campaign_afresh(app, db):
    """A pause sent from a page shown while sending, once the worker has finished: refused,
    and the campaign stays done (it was read again, not taken from the session's memory)."""
    campaign = new(db)
    db.execute(update(Campaign).values(status="sending").where(Campaign.id == campaign.id))
    db.commit()
    assert db.get(Campaign, campaign.id).status == "sending"  # as the page saw it
    with app.extensions["db"]() as worker:
        worker.execute(update(Campaign).values(status="done").where(Campaign.id == campaign.id))
        worker.commit()
    with pytest.raises(CampaignError, match="is done: cannot pause"):
        lifecycle.set_status(db, campaign.id, "pause")
    assert reload(db, campaign.id).status == "done"


@pytest.mark.parametrize(
    ("status", "actions"),
    [("scheduled", ["pause", "cancel"]), ("expanding", ["pause", "cancel"]),
     ("sending", ["pause", "cancel"]), ("paused", ["resume", "cancel"]), ("failed", ["cancel"]),
     ("done", []), ("cancelled", [])],
)  # fmt: skip
def test_actions_are_what_set_status_allows(status, actions):
    assert lifecycle.actions(status) == actions


def test_set_status_of_a_missing_campaign(db):
    with pytest.raises(CampaignError, match="no campaign 999"):
        lifecycle.set_status(db, 999, "pause")


def test_cancel_turns_queued_rows_cancelled(app, db):
    add_contacts(db, 5)
    campaign = new(db)
    expansion.expand(db, campaign.id, app.config)
    set_statuses(db, campaign.id, ["sent", "delivered", "failed", "queued", "queued"])
    lifecycle.set_status(db, campaign.id, "cancel")
    statuses = [(m.status, m.reason) for m in rows(db, campaign.id)]
    assert statuses == [
        ("sent", None),
        ("delivered", None),
        ("failed", None),
        ("cancelled", "campaign cancelled"),
        ("cancelled", "campaign cancelled"),
    ]
    assert all(m.finished_at is not None for m in rows(db, campaign.id)[3:])


def test_cancel_leaves_other_campaigns_alone(app, db):
    add_contacts(db, 3)
    first, second = new(db), new(db)
    for campaign in (first, second):
        expansion.expand(db, campaign.id, app.config)
    lifecycle.set_status(db, first.id, "cancel")
    assert {m.status for m in rows(db, second.id)} == {"queued"}
