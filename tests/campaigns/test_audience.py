"""Campaign audiences: parsing, previews, areas and scopes, training."""

from datetime import timedelta
from decimal import Decimal

import pytest

from app.infra.models import Contact
from app.messaging.campaigns.audience import parse_audience, recipients, within
from app.messaging.campaigns.creation import create, preview
from app.messaging.campaigns.expansion import expand
from app.messaging.campaigns.text import CampaignError

from .conftest import NOW, add_contacts, new, phone, reload, rows


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
    assert parse_audience(pairs) == expected


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
        parse_audience(pairs)


def test_preview_counts_recipients_parts_and_cost(app, db):
    add_contacts(db, 3, 1, language="fr")
    add_contacts(db, 2, 10, language="bm")
    add_contacts(db, 1, 20, language=None)
    add_contacts(db, 1, 30, language="fr", opted_out_at=NOW)
    add_contacts(db, 1, 40, language="bm", unreachable_at=NOW)
    messages = {"fr": "Bonjour", "bm": "a" * 200}  # one part, two parts
    result = preview(db, messages, {}, app.config)
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
    result = preview(db, {"fr": "Bonjour"}, audience, app.config)
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
    assert preview(db, {"fr": "Bonjour"}, audience, app.config)["recipients"] == expected


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
    assert within(audience, scope, area) == expected


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
        within(audience, scope, area)


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
    audience = within({"role": ["agent"]}, scope, area)
    campaign = new(db, audience=audience, scope=scope, created_by="chef@kalan.ml")
    expand(db, campaign.id, app.config)
    assert sorted(m.phone for m in rows(db, campaign.id)) == sorted(phone(n) for n in reached)
    stored = reload(db, campaign.id)
    assert (stored.scope, stored.created_by) == (scope, "chef@kalan.ml")


def test_a_scoped_campaign_without_its_area_in_the_audience_is_refused(db):
    with pytest.raises(CampaignError, match="held inside"):
        create(db, "Nom", {"fr": "Bonjour"}, {"role": ["agent"]}, scope="cercle=kadiolo")


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
        audience = parse_audience([f"training={value}"])
        return [c.phone for c in db.scalars(recipients(audience).order_by(Contact.id))]

    assert who("none") == [phone(1)]
    assert who("started") == [phone(2)]
    assert who("certified") == [phone(3)]
    assert who("none,certified") == [phone(1), phone(3)]
    with pytest.raises(CampaignError):
        parse_audience(["training=expert"])
