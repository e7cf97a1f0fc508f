"""Campaigns: audiences, previews, expansion into the outbox, progress and brakes."""

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from app.infra.models import Campaign, Contact, Message
from app.messaging import campaigns
from app.messaging.campaigns import CampaignError

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(app):
    with app.app_context(), app.extensions["db"]() as session:
        yield session


def phone(n: int) -> str:
    return f"+2237000{n:04d}"


def add_contacts(db, count: int, start: int = 1, **fields) -> list[Contact]:
    """Add count contacts with consecutive phones and the given fields."""
    fields.setdefault("role", "agent")
    people = [
        Contact(phone=phone(n), failed_streak=0, **fields) for n in range(start, start + count)
    ]
    db.add_all(people)
    db.commit()
    return people


def rows(db, campaign_id: int) -> list[Message]:
    db.expire_all()
    query = select(Message).where(Message.campaign_id == campaign_id).order_by(Message.id)
    return list(db.scalars(query))


def reload(db, campaign_id: int) -> Campaign:
    db.expire_all()
    return db.get(Campaign, campaign_id)


def new(db, messages=None, audience=None, **options) -> Campaign:
    campaign = campaigns.create(
        db, "Sensibilisation", messages or {"fr": "Bonjour"}, audience or {}, **options
    )
    db.commit()
    return campaign


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([], {}),
        (["role=agent"], {"role": ["agent"]}),
        (["ROLE = agent "], {"role": ["agent"]}),
        (["role=agent,focal_point"], {"role": ["agent", "focal_point"]}),
        (["role=agent, ,community,"], {"role": ["agent", "community"]}),
        (["role=agent", "role=supervisor"], {"role": ["agent", "supervisor"]}),
        (
            ["region=Koulikoro", "cercle=Kati,Kangaba", "language=fr"],
            {"region": ["Koulikoro"], "cercle": ["Kati", "Kangaba"], "language": ["fr"]},
        ),
        (["commune=Ouelessebougou"], {"commune": ["Ouelessebougou"]}),
        (["organisation=ONG Kalan"], {"organisation": ["ONG Kalan"]}),
        (["seen_after=2026-01-01"], {"seen_after": "2026-01-01"}),
        (["seen_before=2026-01-01T08:00:00+00:00"], {"seen_before": "2026-01-01T08:00:00+00:00"}),
        (["cercle=a=b"], {"cercle": ["a=b"]}),
    ],
)
def test_parse_audience(pairs, expected):
    assert campaigns.parse_audience(pairs) == expected


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["role"], "KEY=VALUE"),
        (["role="], "KEY=VALUE"),
        (["=agent"], "unknown audience key"),
        (["colour=blue"], "unknown audience key 'colour'"),
        (["phone=+22370000001"], "unknown audience key"),
        (["seen_after=yesterday"], "seen_after must be a date"),
        (["seen_before=2026-13-01"], "seen_before must be a date"),
    ],
)
def test_parse_audience_rejects(pairs, message):
    with pytest.raises(CampaignError, match=message):
        campaigns.parse_audience(pairs)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Bonjour {name} de {cercle}.", "Bonjour Awa de Kati."),
        ("Bonjour {name}, {commune}", "Bonjour Awa,"),  # blank at the end
        ("{region} Bonjour", "Bonjour"),  # blank at the start
        ("Bonjour {unknown} {name}", "Bonjour Awa"),
        ("Accolade { seule", "Accolade { seule"),
        ("Indice {0}", "Indice {0}"),
        # Stored before placeholders were checked: sent as written, never formatted.
        ("{name:x>5000}", "{name:x>5000}"),
        ("{name!r}", "{name!r}"),
        ("{name.upper}", "{name.upper}"),
        ("{name[0]}", "{name[0]}"),
        ("{{name}}", "{Awa}"),
    ],
)
def test_render(template, expected):
    person = Contact(phone=phone(1), name="Awa", cercle="Kati", region=None, commune="")
    assert campaigns.render(template, person) == expected


def test_render_does_not_fill_placeholders_typed_in_a_value():
    person = Contact(phone=phone(1), name="{cercle} {name:x>99}", cercle="Kati")
    assert campaigns.render("Bonjour {name} de {cercle}", person) == (
        "Bonjour {cercle} {name:x>99} de Kati"
    )


@pytest.mark.parametrize(
    "text",
    ["Bonjour", "Bonjour {name} de {cercle}, {region}, {commune} ({organisation}).", "a{name}b"],
)
def test_check_messages_accepts_the_placeholders(text):
    campaigns.check_messages({"fr": text, "bm": text})


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Bonjour {name:x>5000}", "'{name:x>5000}'"),  # a format spec: padding
        ("{name:x>20000000}", "'{name:x>20000000}'"),
        ("Bonjour {name!r}", "'{name!r}'"),  # a conversion
        ("Bonjour {name.upper}", "'{name.upper}'"),  # an attribute
        ("Bonjour {name[0]}", "'{name[0]}'"),  # an index
        ("Indice {0}", "'{0}'"),
        ("Vide {}", "'{}'"),
        ("Bonjour {nom}", "'{nom}'"),  # unknown
        ("Bonjour {Name}", "'{Name}'"),
        ("Bonjour { name }", "'{ name }'"),
        ("Accolade { seule", "'{ seule'"),  # unbalanced
        ("Accolade } seule", "'}'"),
        ("Bonjour {name", "'{name'"),
        ("Bonjour {{name}}", "'{}'"),  # str.format's escaped braces are braces too
        ("Bonjour {name}}", "'}'"),
    ],
)
def test_check_messages_refuses_anything_but_a_placeholder(text, shown):
    with pytest.raises(campaigns.PlaceholderError, match=re.escape(f"message (fr): {shown}")):
        campaigns.check_messages({"fr": text})
    with pytest.raises(campaigns.PlaceholderError, match=re.escape("message (bm)")):
        campaigns.check_messages({"fr": "Bonjour {name}", "bm": text})


def test_create_refuses_a_format_spec(db):
    with pytest.raises(campaigns.PlaceholderError):
        campaigns.create(db, "Nom", {"fr": "Bonjour {name:x>5000}"}, {})
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Campaign)) == 0


@pytest.mark.parametrize(
    "extra",
    [
        ["--message", "Bonjour {name:x>5000}"],
        ["--message", "Bonjour {name!r}"],
        ["--message", "Bonjour {nom}"],
        ["--message", "Bonjour {name"],
        ["--message", "Bonjour {name}", "--message-bm", "I ni ce {name[0]}"],
    ],
)
def test_cli_create_refuses_anything_but_a_placeholder(app, runner, db, extra):
    """kalan campaign create exits non-zero, in English, and creates nothing."""
    add_contacts(db, 2, 1, name="Awa")
    result = runner.invoke(["campaign", "create", "--name", "X", *extra, "--yes"])
    assert result.exit_code != 0
    assert "is not a placeholder (placeholders: {name}, {cercle}" in result.output
    assert "recipients:" not in result.output  # refused before counting anything
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Campaign)) == 0


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("bm", "I ni ce"), ("fr", "Bonjour"), (None, "Bonjour"), ("en", "Bonjour")],
)
def test_message_for(lang, expected):
    assert campaigns.message_for({"fr": "Bonjour", "bm": "I ni ce"}, lang) == expected


def test_message_for_without_french_takes_the_first():
    assert campaigns.message_for({"bm": "I ni ce"}, "fr") == "I ni ce"


def test_preview_counts_recipients_parts_and_cost(app, db):
    add_contacts(db, 3, 1, language="fr")
    add_contacts(db, 2, 10, language="bm")
    add_contacts(db, 1, 20, language=None)
    add_contacts(db, 1, 30, language="fr", opted_out_at=NOW)
    add_contacts(db, 1, 40, language="bm", unreachable_at=NOW)
    messages = {"fr": "Bonjour", "bm": "a" * 200}  # one part, two parts
    result = campaigns.preview(db, messages, {}, app.config)
    assert result["recipients"] == 6
    assert result["parts"] == {"fr": 1, "bm": 2}
    assert result["cost"] == Decimal(4 * 25 + 2 * 50)


@pytest.mark.parametrize(
    ("audience", "expected"),
    [
        ({}, 6),
        ({"role": ["agent"]}, 4),
        ({"role": ["agent", "supervisor"]}, 5),
        ({"cercle": ["Kati"]}, 3),
        ({"cercle": ["Kati"], "role": ["agent"]}, 2),
        ({"language": ["bm"]}, 1),
        ({"seen_after": "2026-03-01"}, 2),
        ({"seen_before": "2026-03-01"}, 1),
        ({"region": ["Kayes"]}, 0),
    ],
)
def test_preview_follows_the_audience(app, db, audience, expected):
    add_contacts(db, 2, 1, role="agent", cercle="Kati", last_seen=NOW)
    add_contacts(db, 1, 10, role="community", cercle="Kati", language="bm")
    add_contacts(db, 1, 20, role="supervisor", last_seen=NOW - timedelta(days=60))
    add_contacts(db, 2, 30, role="agent", cercle="Kangaba")
    add_contacts(db, 1, 40, role="agent", cercle="Kati", opted_out_at=NOW)
    result = campaigns.preview(db, {"fr": "Bonjour"}, audience, app.config)
    assert result["recipients"] == expected
    assert result["cost"] == Decimal(25 * expected)


@pytest.mark.parametrize(
    ("audience", "expected"),
    [
        ({"cercle": ["kati"]}, 3),  # typed in lower case, stored as "Kati"
        ({"cercle": ["KATI", "kangaba"]}, 5),
        ({"region": ["koulikoro"]}, 3),
        ({"organisation": ["ong kalan"]}, 3),
        ({"role": ["AGENT"]}, 0),  # roles and languages are codes: not folded
    ],
)
def test_place_and_organisation_names_match_whatever_their_case(app, db, audience, expected):
    add_contacts(
        db, 3, 1, role="agent", cercle="Kati", region="Koulikoro", organisation="ONG Kalan"
    )
    add_contacts(db, 2, 30, role="agent", cercle="Kangaba")
    assert campaigns.preview(db, {"fr": "Bonjour"}, audience, app.config)["recipients"] == expected


KADIOLO = {"cercle": ["kadiolo"]}
KOLONDIEBA = {"cercle": ["kolondieba", "Kolondiéba"]}
SIKASSO = {"region": ["sikasso"], "cercle": ["sikasso", "kadiolo", "kolondieba", "Kolondiéba"]}


@pytest.mark.parametrize(
    ("audience", "scope", "area", "expected"),
    [
        ({"role": ["agent"]}, None, {}, {"role": ["agent"]}),
        ({}, "cercle=kadiolo", KADIOLO, {"area": KADIOLO}),
        ({"cercle": ["Kolondiéba"]}, "cercle=kolondieba", KOLONDIEBA,
         {"cercle": ["Kolondiéba"], "area": KOLONDIEBA}),
        ({"role": ["agent"], "cercle": ["KADIOLO"]}, "cercle=kadiolo", KADIOLO,
         {"role": ["agent"], "cercle": ["KADIOLO"], "area": KADIOLO}),
        ({"cercle": ["Kadiolo"]}, "region=sikasso", SIKASSO,  # a cercle narrows a region
         {"cercle": ["Kadiolo"], "area": SIKASSO}),
    ],
)  # fmt: skip
def test_within_holds_the_audience_inside_the_scope(audience, scope, area, expected):
    assert campaigns.within(audience, scope, area) == expected


@pytest.mark.parametrize(
    ("audience", "scope", "area"),
    [
        ({"cercle": ["Sikasso"]}, "cercle=kadiolo", KADIOLO),
        ({"cercle": ["Kadiolo", "Sikasso"]}, "cercle=kadiolo", KADIOLO),
        ({"region": ["Koutiala"]}, "region=sikasso", SIKASSO),
        ({"cercle": ["Koutiala"]}, "region=sikasso", SIKASSO),  # a cercle of another region
    ],
)
def test_within_refuses_an_audience_beyond_the_scope(audience, scope, area):
    with pytest.raises(CampaignError, match="may only send inside"):
        campaigns.within(audience, scope, area)


@pytest.mark.parametrize(
    ("scope", "area", "reached"),
    [
        ("cercle=kadiolo", KADIOLO, [1, 2, 3]),
        ("region=sikasso", SIKASSO, [1, 2, 3, 20, 21, 30, 40]),  # by its cercles, or region
        ("cercle=kolondieba", KOLONDIEBA, [40]),  # by its name, accent and all
    ],
)
def test_a_scoped_campaign_reaches_only_its_area_and_remembers_it(app, db, scope, area, reached):
    add_contacts(db, 2, 1, cercle="Kadiolo")
    add_contacts(db, 1, 3, cercle="kadiolo")
    add_contacts(db, 2, 20, cercle="Sikasso")
    add_contacts(db, 1, 30, region="Sikasso")  # no cercle: the region places it
    add_contacts(db, 1, 40, cercle="Kolondiéba", region="Sikasso")
    add_contacts(db, 2, 50, cercle="Koutiala", region="Koutiala")
    audience = campaigns.within({"role": ["agent"]}, scope, area)
    campaign = new(db, audience=audience, scope=scope, created_by="chef@kalan.ml")
    campaigns.expand(db, campaign.id, app.config)
    assert sorted(m.phone for m in rows(db, campaign.id)) == sorted(phone(n) for n in reached)
    stored = reload(db, campaign.id)
    assert (stored.scope, stored.created_by) == (scope, "chef@kalan.ml")


def test_a_scoped_campaign_without_its_area_in_the_audience_is_refused(db):
    with pytest.raises(CampaignError, match="held inside"):
        campaigns.create(db, "Nom", {"fr": "Bonjour"}, {"role": ["agent"]}, scope="cercle=kadiolo")


@pytest.mark.parametrize(
    ("name", "messages"),
    [(" ", {"fr": "Bonjour"}), ("Nom", {}), ("Nom", {"fr": "  "}), ("Nom", {"fr": "ok", "bm": ""})],
)
def test_create_needs_a_name_and_messages(db, name, messages):
    with pytest.raises(CampaignError):
        campaigns.create(db, name, messages, {})


def test_create_stores_the_campaign(db):
    start = NOW + timedelta(days=1)
    campaign = new(
        db,
        {"fr": "Bonjour", "bm": "I ni ce"},
        {"role": ["agent"]},
        start_at=start,
        rate=5,
        budget=Decimal("1000"),
    )
    stored = reload(db, campaign.id)
    assert stored.status == "scheduled"
    assert json.loads(stored.messages) == {"fr": "Bonjour", "bm": "I ni ce"}
    assert json.loads(stored.audience) == {"role": ["agent"]}
    assert (stored.rate, stored.budget, stored.cursor, stored.recipients) == (5, 1000, 0, 0)
    assert stored.start_at.replace(tzinfo=UTC) == start


def test_expand_writes_one_row_per_recipient(app, db):
    add_contacts(db, 1, 1, name="Awa", cercle="Kati", language="fr")
    add_contacts(db, 1, 2, name="Moussa", cercle="Kita", language="bm")
    add_contacts(db, 1, 3, name=None, cercle="Kati", language="en")
    add_contacts(db, 1, 4, name="Françoise", cercle=None, language=None)
    add_contacts(db, 1, 5, name="Retiré", language="fr", opted_out_at=NOW)
    add_contacts(db, 1, 6, name="Perdu", language="fr", unreachable_at=NOW)
    messages = {"fr": "Bonjour {name} de {cercle} !", "bm": "I ni ce {name} ({cercle})"}
    campaign = new(db, messages)
    result = campaigns.expand(db, campaign.id, app.config)
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
    campaigns.expand(db, campaign.id, app.config)
    again = campaigns.expand(db, campaign.id, app.config)
    assert again.recipients == 5
    assert len(rows(db, campaign.id)) == 5


def test_expand_replayed_from_the_start_adds_nothing(app, db):
    add_contacts(db, 5)
    campaign = new(db)
    campaigns.expand(db, campaign.id, app.config, batch=2)
    db.execute(
        update(Campaign).values(status="expanding", cursor=0).where(Campaign.id == campaign.id)
    )
    db.commit()
    replay = campaigns.expand(db, campaign.id, app.config, batch=2)
    assert replay.recipients == 5
    assert len(rows(db, campaign.id)) == 5


def test_expand_replay_keeps_the_estimated_cost(app, db):
    add_contacts(db, 5)
    campaign = new(db)
    campaigns.expand(db, campaign.id, app.config)
    db.execute(
        update(Campaign).values(status="expanding", cursor=0).where(Campaign.id == campaign.id)
    )
    db.commit()
    assert campaigns.expand(db, campaign.id, app.config).estimated_cost == Decimal(125)


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
        campaigns.expand(db, campaign.id, app.config, batch=3, heartbeat=crash_after_first_batch)
    stopped = reload(db, campaign.id)
    assert batches == [3]
    assert stopped.status == "expanding"
    assert stopped.recipients == 3
    assert campaign.id in campaigns.due(db, NOW)  # picked up again by the next tick
    resumed = campaigns.expand(db, campaign.id, app.config, batch=3)
    assert resumed.status == "sending"
    assert resumed.recipients == 10
    assert resumed.estimated_cost == Decimal(250)
    assert sorted(m.phone for m in rows(db, campaign.id)) == [phone(n) for n in range(1, 11)]
    # Set back to expanding: the cursor is at the end, nothing is added twice.
    db.execute(update(Campaign).values(status="expanding").where(Campaign.id == campaign.id))
    db.commit()
    assert campaigns.expand(db, campaign.id, app.config, batch=3).recipients == 10
    assert len(rows(db, campaign.id)) == 10


def test_expand_streams_in_batches(app, db):
    add_contacts(db, 50)
    campaign = new(db)
    beats = []
    result = campaigns.expand(
        db, campaign.id, app.config, batch=7, heartbeat=lambda: beats.append(1)
    )
    assert result.recipients == 50
    assert len(rows(db, campaign.id)) == 50
    assert len(beats) == 8  # ceil(50 / 7) committed batches


@pytest.mark.parametrize("batch", [1000, 3])
def test_budget_cap_stops_adding(app, db, batch):
    add_contacts(db, 10)
    campaign = new(db, budget=Decimal("110"))  # room for four 25-XOF messages
    result = campaigns.expand(db, campaign.id, app.config, batch=batch)
    assert len(rows(db, campaign.id)) == 4
    assert result.recipients == 4
    assert result.estimated_cost == Decimal(100)
    assert result.status == "sending"
    assert result.reason.startswith("budget reached")


def test_budget_reason_counts_the_recipients_added(app, db):
    add_contacts(db, 10)
    campaign = new(db, budget=Decimal("110"))
    result = campaigns.expand(db, campaign.id, app.config)
    assert result.reason == "budget reached after 4 recipients"


@pytest.mark.parametrize("status", ["sending", "paused", "cancelled", "done"])
def test_expand_only_runs_for_scheduled_or_expanding(app, db, status):
    add_contacts(db, 3)
    campaign = new(db)
    db.execute(update(Campaign).values(status=status).where(Campaign.id == campaign.id))
    db.commit()
    assert campaigns.expand(db, campaign.id, app.config).status == status
    assert rows(db, campaign.id) == []


def test_expand_unknown_campaign_returns_none(app, db):
    assert campaigns.expand(db, 999, app.config) is None


def set_statuses(db, campaign_id: int, statuses: list[str]) -> None:
    """Give the campaign's rows these statuses, in id order."""
    for message, status in zip(rows(db, campaign_id), statuses, strict=True):
        message.status = status
        if status in ("sent", "delivered"):
            message.sent_at = NOW
        if status in ("delivered", "failed", "cancelled"):
            message.finished_at = NOW
    db.commit()


def test_progress_counts_by_state(app, db):
    add_contacts(db, 10)
    campaign = new(db)
    campaigns.expand(db, campaign.id, app.config)
    assert campaigns.progress(db, campaign.id) == {
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
    assert campaigns.progress(db, campaign.id) == {
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
    assert campaigns.progress(db, campaign.id)["percent"] == 0  # not even started
    campaigns.expand(db, campaign.id, app.config)
    assert campaigns.progress(db, campaign.id)["percent"] == 100


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
    assert campaigns.set_status(db, campaign.id, action).status == expected
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
        campaigns.set_status(db, campaign.id, action)
    assert reload(db, campaign.id).status == start


def test_set_status_of_a_missing_campaign(db):
    with pytest.raises(CampaignError, match="no campaign 999"):
        campaigns.set_status(db, 999, "pause")


def test_cancel_turns_queued_rows_cancelled(app, db):
    add_contacts(db, 5)
    campaign = new(db)
    campaigns.expand(db, campaign.id, app.config)
    set_statuses(db, campaign.id, ["sent", "delivered", "failed", "queued", "queued"])
    campaigns.set_status(db, campaign.id, "cancel")
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
        campaigns.expand(db, campaign.id, app.config)
    campaigns.set_status(db, first.id, "cancel")
    assert {m.status for m in rows(db, second.id)} == {"queued"}


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
    campaigns.expand(db, campaign.id, app.config)
    set_statuses(db, campaign.id, ["delivered"] * delivered + ["failed"] * failed)
    assert campaigns.brake(db, campaign.id, threshold, window=window) is paused
    stored = reload(db, campaign.id)
    assert stored.status == ("paused" if paused else "sending")
    if paused:
        assert stored.reason.startswith(f"paused: {failed / (delivered + failed):.0%} of the last")


def test_brake_looks_at_the_last_sends_only(app, db):
    add_contacts(db, 30)
    campaign = new(db)
    campaigns.expand(db, campaign.id, app.config)
    # Early failures, then 20 good sends: the last 20 are fine.
    set_statuses(db, campaign.id, ["failed"] * 10 + ["delivered"] * 20)
    assert campaigns.brake(db, campaign.id, 0.5, window=20) is False
    assert campaigns.brake(db, campaign.id, 0.2, window=30) is True


def test_brake_ignores_queued_and_unknown_rows(app, db):
    add_contacts(db, 40)
    campaign = new(db)
    campaigns.expand(db, campaign.id, app.config)
    set_statuses(db, campaign.id, ["failed"] * 15 + ["unknown"] * 10 + ["queued"] * 15)
    assert campaigns.brake(db, campaign.id, 0.5) is False  # 15 judged sends: too few


def test_brake_does_not_touch_a_paused_campaign(app, db):
    add_contacts(db, 20)
    campaign = new(db)
    campaigns.expand(db, campaign.id, app.config)
    set_statuses(db, campaign.id, ["failed"] * 20)
    campaigns.set_status(db, campaign.id, "pause")
    assert campaigns.brake(db, campaign.id, 0.5) is False
    assert reload(db, campaign.id).reason == "paused by a supervisor"


def test_finish_only_when_nothing_is_left(app, db):
    add_contacts(db, 4)
    campaign = new(db)
    campaigns.expand(db, campaign.id, app.config)
    set_statuses(db, campaign.id, ["delivered", "failed", "sent", "queued"])
    assert campaigns.finish(db, NOW) == []
    set_statuses(db, campaign.id, ["delivered", "failed", "sent", "unknown"])
    assert campaigns.finish(db, NOW) == []  # the unknown one is still being reconciled
    last = rows(db, campaign.id)[-1]
    last.finished_at = NOW
    db.commit()
    assert campaigns.finish(db, NOW) == [campaign.id]
    assert reload(db, campaign.id).status == "done"
    assert campaigns.finish(db, NOW) == []


@pytest.mark.parametrize("status", ["scheduled", "expanding", "paused"])
def test_finish_skips_campaigns_not_sending(app, db, status):
    campaign = new(db)
    db.execute(
        update(Campaign).values(status=status, expanded_at=NOW).where(Campaign.id == campaign.id)
    )
    db.commit()
    assert campaigns.finish(db, NOW) == []
    assert reload(db, campaign.id).status == status


def test_finish_waits_for_the_expansion(db):
    campaign = new(db)
    db.execute(update(Campaign).values(status="sending").where(Campaign.id == campaign.id))
    db.commit()
    assert campaigns.finish(db, NOW) == []


def test_due(db):
    ready = new(db, start_at=NOW - timedelta(minutes=1))
    later = new(db, start_at=NOW + timedelta(minutes=1))
    stalled = new(db, start_at=NOW + timedelta(days=1))
    db.execute(update(Campaign).values(status="expanding").where(Campaign.id == stalled.id))
    db.commit()
    due = campaigns.due(db, NOW)
    assert sorted(due) == sorted([ready.id, stalled.id])
    assert later.id not in due


def test_a_repeating_campaign_comes_back_with_new_keys(app, db):
    add_contacts(db, 1)
    campaign = new(db, repeat_days=7)
    first_start = campaign.start_at
    campaigns.expand(db, campaign.id, app.config)
    db.execute(update(Message).values(status="delivered"))
    db.commit()
    assert campaigns.finish(db, NOW) == [campaign.id]
    db.refresh(campaign)
    assert (campaign.status, campaign.occurrence) == ("scheduled", 1)
    assert campaign.start_at == first_start + timedelta(days=7)
    campaigns.expand(db, campaign.id, app.config)
    keys = sorted(m.key for m in db.scalars(select(Message)))
    assert keys == [f"campaign:{campaign.id}.1:{phone(1)}", f"campaign:{campaign.id}:{phone(1)}"]


def test_finish_cancels_rows_queued_by_an_expansion_that_raced_a_cancel(app, db):
    add_contacts(db, 3)
    campaign = new(db)
    campaigns.expand(db, campaign.id, app.config)
    db.execute(update(Campaign).where(Campaign.id == campaign.id).values(status="cancelled"))
    db.commit()
    campaigns.finish(db, NOW)
    assert {m.status for m in rows(db, campaign.id)} == {"cancelled"}
    assert {m.reason for m in rows(db, campaign.id)} == {"campaign cancelled"}


def test_audience_by_training_status(app, db):
    from app.infra.models import Certificate, ModuleProgress

    people = add_contacts(db, 3)
    now = NOW
    db.add(ModuleProgress(contact_id=people[1].id, module="m1", status="started", position="l1",
                          attempt=0, started_at=now, updated_at=now))  # fmt: skip
    db.add(ModuleProgress(contact_id=people[2].id, module="m1", status="passed", position="",
                          attempt=1, started_at=now, updated_at=now))  # fmt: skip
    db.add(Certificate(contact_id=people[2].id, code="ACDEFGHJ", modules=8, score=30,
                       questions=33, issued_at=now))  # fmt: skip
    db.commit()

    def who(value):
        audience = campaigns.parse_audience([f"training={value}"])
        return [c.phone for c in db.scalars(campaigns.recipients(audience).order_by(Contact.id))]

    assert who("none") == [phone(1)]
    assert who("started") == [phone(2)]
    assert who("certified") == [phone(3)]
    assert who("none,certified") == [phone(1), phone(3)]
    with pytest.raises(CampaignError):
        campaigns.parse_audience(["training=expert"])
