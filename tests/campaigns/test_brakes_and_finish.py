"""The failure brake, the end of a campaign, and repeats."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.infra.models import Campaign, Message
from app.messaging.campaigns import expansion, lifecycle

from .conftest import NOW, add_contacts, new, phone, reload, rows, set_statuses


@pytest.mark.parametrize(
    ("delivered", "failed", "threshold", "window", "paused"),
    [
        (9, 11, 0.5, 200, True),  # 55% of 20 sends
        (10, 10, 0.5, 200, False),  # 50% is not past 50%
        (0, 19, 0.5, 200, False),  # 19 sends: too few to judge
        (0, 20, 0.5, 200, True),
        (5, 5, 0.3, 50, True),  # 10 sends is the minimum for a small window
        (4, 5, 0.3, 50, False),
        (30, 9, 0.2, 200, True),  # 23%
        (32, 8, 0.2, 200, False),  # 20%
    ],
)
def test_brake(app, db, delivered, failed, threshold, window, paused):
    add_contacts(db, delivered + failed)
    campaign = new(db)
    expansion.expand(db, campaign.id, app.config)
    set_statuses(db, campaign.id, ["delivered"] * delivered + ["failed"] * failed)
    assert lifecycle.brake(db, campaign.id, threshold, window=window) is paused
    stored = reload(db, campaign.id)
    assert stored.status == ("paused" if paused else "sending")
    if paused:
        assert stored.reason.startswith(f"paused: {failed / (delivered + failed):.0%} of the last")


def test_brake_looks_at_the_last_sends_only(app, db):
    add_contacts(db, 30)
    campaign = new(db)
    expansion.expand(db, campaign.id, app.config)
    # Early failures, then 20 good sends: the last 20 are fine.
    set_statuses(db, campaign.id, ["failed"] * 10 + ["delivered"] * 20)
    assert lifecycle.brake(db, campaign.id, 0.5, window=20) is False
    assert lifecycle.brake(db, campaign.id, 0.2, window=30) is True


def test_brake_ignores_queued_and_unknown_rows(app, db):
    add_contacts(db, 40)
    campaign = new(db)
    expansion.expand(db, campaign.id, app.config)
    set_statuses(db, campaign.id, ["failed"] * 15 + ["unknown"] * 10 + ["queued"] * 15)
    assert lifecycle.brake(db, campaign.id, 0.5) is False  # 15 judged sends: too few


def test_brake_does_not_touch_a_paused_campaign(app, db):
    add_contacts(db, 20)
    campaign = new(db)
    expansion.expand(db, campaign.id, app.config)
    set_statuses(db, campaign.id, ["failed"] * 20)
    lifecycle.set_status(db, campaign.id, "pause")
    assert lifecycle.brake(db, campaign.id, 0.5) is False
    assert reload(db, campaign.id).reason == "paused by a supervisor"


def test_finish_only_when_nothing_is_left(app, db):
    add_contacts(db, 4)
    campaign = new(db)
    expansion.expand(db, campaign.id, app.config)
    set_statuses(db, campaign.id, ["delivered", "failed", "sent", "queued"])
    assert lifecycle.finish(db, NOW) == []
    set_statuses(db, campaign.id, ["delivered", "failed", "sent", "unknown"])
    assert lifecycle.finish(db, NOW) == []  # the unknown one is still being reconciled
    last = rows(db, campaign.id)[-1]
    last.finished_at = NOW
    db.commit()
    assert lifecycle.finish(db, NOW) == [campaign.id]
    assert reload(db, campaign.id).status == "done"
    assert lifecycle.finish(db, NOW) == []


@pytest.mark.parametrize("status", ["scheduled", "expanding", "paused"])
def test_finish_skips_campaigns_not_sending(app, db, status):
    campaign = new(db)
    db.execute(
        update(Campaign).values(status=status, expanded_at=NOW).where(Campaign.id == campaign.id)
    )
    db.commit()
    assert lifecycle.finish(db, NOW) == []
    assert reload(db, campaign.id).status == status


def test_finish_waits_for_the_expansion(db):
    campaign = new(db)
    db.execute(update(Campaign).values(status="sending").where(Campaign.id == campaign.id))
    db.commit()
    assert lifecycle.finish(db, NOW) == []


def test_due(db):
    ready = new(db, start_at=NOW - timedelta(minutes=1))
    later = new(db, start_at=NOW + timedelta(minutes=1))
    stalled = new(db, start_at=NOW + timedelta(days=1))
    db.execute(update(Campaign).values(status="expanding").where(Campaign.id == stalled.id))
    db.commit()
    due = expansion.due(db, NOW)
    assert sorted(due) == sorted([ready.id, stalled.id])
    assert later.id not in due


def test_a_repeating_campaign_comes_back_with_new_keys(app, db):
    add_contacts(db, 1)
    campaign = new(db, repeat_days=7)
    first_start = campaign.start_at
    expansion.expand(db, campaign.id, app.config)
    db.execute(update(Message).values(status="delivered"))
    db.commit()
    assert lifecycle.finish(db, NOW) == [campaign.id]
    db.refresh(campaign)
    assert (campaign.status, campaign.occurrence) == ("scheduled", 1)
    assert campaign.start_at == first_start + timedelta(days=7)
    expansion.expand(db, campaign.id, app.config)
    keys = sorted(m.key for m in db.scalars(select(Message)))
    assert keys == [f"campaign:{campaign.id}.1:{phone(1)}", f"campaign:{campaign.id}:{phone(1)}"]


def test_finish_cancels_rows_queued_by_an_expansion_that_raced_a_cancel(app, db):
    add_contacts(db, 3)
    campaign = new(db)
    expansion.expand(db, campaign.id, app.config)
    db.execute(update(Campaign).where(Campaign.id == campaign.id).values(status="cancelled"))
    db.commit()
    lifecycle.finish(db, NOW)
    assert {m.status for m in rows(db, campaign.id)} == {"cancelled"}
    assert {m.reason for m in rows(db, campaign.id)} == {"campaign cancelled"}
