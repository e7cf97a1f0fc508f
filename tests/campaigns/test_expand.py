"""Expanding a campaign into the outbox: idempotent, resumable, budgeted."""

from decimal import Decimal

import pytest
from sqlalchemy import update

from app.infra.models import Campaign
from app.messaging.campaigns import expansion

from .conftest import NOW, add_contacts, new, phone, reload, rows


def test_expand_writes_one_row_per_recipient(app, db):
    add_contacts(db, 1, 1, name="Awa", cercle="Kati", language="fr")
    add_contacts(db, 1, 2, name="Moussa", cercle="Kita", language="bm")
    add_contacts(db, 1, 3, name=None, cercle="Kati", language="en")
    add_contacts(db, 1, 4, name="Françoise", cercle=None, language=None)
    add_contacts(db, 1, 5, name="Retiré", language="fr", opted_out_at=NOW)
    add_contacts(db, 1, 6, name="Perdu", language="fr", unreachable_at=NOW)
    messages = {"fr": "Bonjour {name} de {cercle} !", "bm": "I ni ce {name} ({cercle})"}
    campaign = new(db, messages)
    result = expansion.expand(db, campaign.id, app.config)
    assert result.status == "sending"
    assert result.recipients == 4
    assert result.expanded_at is not None
    assert result.estimated_cost == Decimal(100)
    bodies = {m.key: m.body for m in rows(db, campaign.id)}
    assert bodies == {
        f"campaign:{campaign.id}:{phone(1)}": "Bonjour Awa de Kati !",
        f"campaign:{campaign.id}:{phone(2)}": "I ni ce Moussa (Kita)",
        f"campaign:{campaign.id}:{phone(3)}": "Bonjour de Kati !",
        f"campaign:{campaign.id}:{phone(4)}": "Bonjour Francoise de !",
    }
    assert {m.kind for m in rows(db, campaign.id)} == {"campaign"}
    assert {m.status for m in rows(db, campaign.id)} == {"queued"}


def test_expand_twice_adds_nothing(app, db):
    add_contacts(db, 5)
    campaign = new(db)
    expansion.expand(db, campaign.id, app.config)
    again = expansion.expand(db, campaign.id, app.config)
    assert again.recipients == 5
    assert len(rows(db, campaign.id)) == 5


def test_expand_replayed_from_the_start_adds_nothing(app, db):
    add_contacts(db, 5)
    campaign = new(db)
    expansion.expand(db, campaign.id, app.config, batch=2)
    db.execute(
        update(Campaign).values(status="expanding", cursor=0).where(Campaign.id == campaign.id)
    )
    db.commit()
    replay = expansion.expand(db, campaign.id, app.config, batch=2)
    assert replay.recipients == 5
    assert len(rows(db, campaign.id)) == 5


def test_expand_replay_keeps_the_estimated_cost(app, db):
    add_contacts(db, 5)
    campaign = new(db)
    expansion.expand(db, campaign.id, app.config)
    db.execute(
        update(Campaign).values(status="expanding", cursor=0).where(Campaign.id == campaign.id)
    )
    db.commit()
    assert expansion.expand(db, campaign.id, app.config).estimated_cost == Decimal(125)


def test_expand_resumes_from_its_cursor(app, db):
    add_contacts(db, 10)
    campaign = new(db)
    batches = []

    class Crash(Exception):
        pass

    def crash_after_first_batch():
        batches.append(len(rows(db, campaign.id)))
        raise Crash

    with pytest.raises(Crash):
        expansion.expand(db, campaign.id, app.config, batch=3, heartbeat=crash_after_first_batch)
    stopped = reload(db, campaign.id)
    assert batches == [3]
    assert stopped.status == "expanding"
    assert stopped.recipients == 3
    assert campaign.id in expansion.due(db, NOW)  # picked up again by the next tick
    resumed = expansion.expand(db, campaign.id, app.config, batch=3)
    assert resumed.status == "sending"
    assert resumed.recipients == 10
    assert resumed.estimated_cost == Decimal(250)
    assert sorted(m.phone for m in rows(db, campaign.id)) == [phone(n) for n in range(1, 11)]
    # Set back to expanding: the cursor is at the end, nothing is added twice.
    db.execute(update(Campaign).values(status="expanding").where(Campaign.id == campaign.id))
    db.commit()
    assert expansion.expand(db, campaign.id, app.config, batch=3).recipients == 10
    assert len(rows(db, campaign.id)) == 10


def test_expand_streams_in_batches(app, db):
    add_contacts(db, 50)
    campaign = new(db)
    beats = []
    result = expansion.expand(
        db, campaign.id, app.config, batch=7, heartbeat=lambda: beats.append(1)
    )
    assert result.recipients == 50
    assert len(rows(db, campaign.id)) == 50
    assert len(beats) == 8  # ceil(50 / 7) committed batches


@pytest.mark.parametrize("batch", [1000, 3])
def test_budget_cap_stops_adding(app, db, batch):
    add_contacts(db, 10)
    campaign = new(db, budget=Decimal("110"))  # room for four 25-XOF messages
    result = expansion.expand(db, campaign.id, app.config, batch=batch)
    assert len(rows(db, campaign.id)) == 4
    assert result.recipients == 4
    assert result.estimated_cost == Decimal(100)
    assert result.status == "sending"
    assert result.reason.startswith("budget reached")


def test_budget_reason_counts_the_recipients_added(app, db):
    add_contacts(db, 10)
    campaign = new(db, budget=Decimal("110"))
    result = expansion.expand(db, campaign.id, app.config)
    assert result.reason == "budget reached after 4 recipients"


@pytest.mark.parametrize("status", ["sending", "paused", "cancelled", "done"])
def test_expand_only_runs_for_scheduled_or_expanding(app, db, status):
    add_contacts(db, 3)
    campaign = new(db)
    db.execute(update(Campaign).values(status=status).where(Campaign.id == campaign.id))
    db.commit()
    assert expansion.expand(db, campaign.id, app.config).status == status
    assert rows(db, campaign.id) == []


def test_expand_unknown_campaign_returns_none(app, db):
    assert expansion.expand(db, 999, app.config) is None
