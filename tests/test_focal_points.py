"""Focal points: the CLI that records them, and the main menu showing their desk at once."""

import re

import pytest
from sqlalchemy import func, select

from app.cases import focal_points
from app.infra.models import FocalArea, FocalPoint

from .conftest import Dial

AGENT, OTHER, SUPERVISOR = "+22370100001", "+22370100002", "+22370100003"
NATIONAL, ROVER, STRANGER = "+22370100004", "+22370100005", "+22370100009"
# Focal points of the places that share a name: the cercle, or the whole region.
TOWN_AGENT, REGION_AGENT, TOWN_SUPERVISOR = "+22370100006", "+22370100007", "+22370100008"
PIN = "4821"


def add(runner, phone, area, *extra, pin=None):
    """Run `kalan focal-points add`, with the PIN on stdin when given.

    An area "region:<name>" is given as --region <name>, any other as --cercle.
    """
    region = area.startswith("region:")
    where = ["--region", area.removeprefix("region:")] if region else ["--cercle", area]
    args = ["focal-points", "add", phone, *where, *extra]
    if pin is not None:
        return runner.invoke([*args, "--pin-stdin"], input=pin + "\n")
    return runner.invoke(args)


def listing(runner) -> str:
    """Return the output of `kalan focal-points list`."""
    result = runner.invoke(["focal-points", "list"])
    assert result.exit_code == 0, result.output
    return result.output


def stored(app, phone) -> tuple[FocalPoint | None, list[str]]:
    """Return the focal point recorded for a phone and its areas."""
    with app.extensions["db"]() as db:
        point = focal_points.find(db, phone)
        return point, focal_points.covered(db, point) if point else []


# --- the command line ---------------------------------------------------------------------------


def test_add_reads_the_pin_from_stdin(app, runner):
    """--pin-stdin records the PIN typed and never prints one."""
    result = add(runner, AGENT, "kadiolo", pin=PIN)
    assert result.exit_code == 0, result.output
    assert result.output == f"added agent {AGENT}: kadiolo\n"
    point, areas = stored(app, AGENT)
    assert (point.role, areas) == ("agent", ["kadiolo"])
    assert focal_points.pin_matches(point.pin_hash, PIN)
    assert PIN not in point.pin_hash


def test_add_draws_a_pin_for_a_new_focal_point_and_shows_it_once(app, runner):
    """Without --pin-stdin a new focal point gets a printed 4-digit PIN that opens its desk."""
    first = add(runner, SUPERVISOR, "kadiolo", "--role", "supervisor")
    assert first.exit_code == 0, first.output
    drawn = re.findall(r"^PIN (\d{4}): give it to them in person; it is not shown again$",
                       first.output, re.MULTILINE)  # fmt: skip
    assert len(drawn) == 1
    point, _ = stored(app, SUPERVISOR)
    assert focal_points.pin_matches(point.pin_hash, drawn[0])
    second = add(runner, SUPERVISOR, "region:sikasso", "--role", "supervisor")
    assert second.exit_code == 0, second.output
    assert "PIN" not in second.output
    assert second.output == f"updated supervisor {SUPERVISOR}: kadiolo, region:sikasso\n"


def test_adding_a_known_focal_point_to_another_area_keeps_its_pin(app, runner):
    """A second area is added to the first; the PIN stays the same."""
    assert add(runner, AGENT, "kadiolo", pin=PIN).exit_code == 0
    before, _ = stored(app, AGENT)
    result = add(runner, AGENT, "danderesso")
    assert result.exit_code == 0, result.output
    assert result.output == f"updated agent {AGENT}: danderesso, kadiolo\n"
    after, areas = stored(app, AGENT)
    assert after.pin_hash == before.pin_hash and after.id == before.id
    assert areas == ["danderesso", "kadiolo"]
    assert listing(runner) == f"{AGENT:<16}{'agent':<12}danderesso, kadiolo\n"


def test_adding_the_same_area_twice_records_it_once(app, runner):
    """Repeating an add changes nothing."""
    assert add(runner, AGENT, "kadiolo", pin=PIN).exit_code == 0
    again = add(runner, AGENT, "Kadiolo")
    assert again.exit_code == 0, again.output
    with app.extensions["db"]() as db:
        assert db.scalar(select(func.count(FocalArea.id))) == 1


def test_a_new_pin_on_stdin_replaces_the_old_one(app, runner):
    """An existing focal point given --pin-stdin gets the new PIN, not both."""
    assert add(runner, AGENT, "kadiolo", pin=PIN).exit_code == 0
    assert add(runner, AGENT, "kadiolo", pin="735102").exit_code == 0
    point, _ = stored(app, AGENT)
    assert focal_points.pin_matches(point.pin_hash, "735102")
    assert not focal_points.pin_matches(point.pin_hash, PIN)


@pytest.mark.parametrize(
    ("option", "given", "area"),
    [("--cercle", "sikasso", "sikasso"), ("--cercle", "bougouni", "bougouni"),
     ("--region", "sikasso", "region:sikasso"), ("--region", " Bougouni ", "region:bougouni"),
     ("--region", "KOUTIALA", "region:koutiala"), ("--cercle", "all", "all"),
     ("--cercle", "ALL", "all"), ("--cercle", " Kadiolo ", "kadiolo"),
     ("--cercle", "ouelessebougou", "ouelessebougou"), ("--cercle", "mpessoba", "mpessoba")],
)  # fmt: skip
def test_add_accepts_cercles_regions_and_all(app, runner, option, given, area):
    """Any cercle, any region (--region) and "all" are areas, whatever their case.

    A bare name is the cercle, even where a region has the same name.
    """
    args = ["focal-points", "add", SUPERVISOR, option, given, "--role", "supervisor"]
    result = runner.invoke([*args, "--pin-stdin"], input=PIN + "\n")
    assert result.exit_code == 0, result.output
    assert result.output == f"added supervisor {SUPERVISOR}: {area}\n"
    assert listing(runner) == f"{SUPERVISOR:<16}{'supervisor':<12}{area}\n"
    assert stored(app, SUPERVISOR)[1] == [area]


def test_the_areas_are_the_cercles_the_regions_and_all():
    """areas() lists each cercle bare, each region as "region:<name>", and "all"."""
    areas = focal_points.areas()
    regions = {"region:sikasso", "region:bougouni", "region:koutiala"}
    assert regions | {"all", "sikasso", "bougouni", "koutiala", "kadiolo", "mpessoba"} <= areas
    assert {area for area in areas if area.startswith("region:")} == regions
    assert len(areas) == 1 + 3 + 8 + 10 + 8


def test_a_new_focal_point_is_an_agent_unless_told(app, runner):
    """Without --role a new focal point is an agent."""
    result = add(runner, AGENT, "kadiolo", pin=PIN)
    assert result.output == f"added agent {AGENT}: kadiolo\n"
    assert stored(app, AGENT)[0].role == "agent"


def test_adding_an_area_without_role_keeps_the_role(app, runner):
    """A supervisor given another area without --role stays a supervisor; --role changes it."""
    first = add(runner, SUPERVISOR, "region:sikasso", "--role", "supervisor", pin=PIN)
    assert first.output == f"added supervisor {SUPERVISOR}: region:sikasso\n"
    again = add(runner, SUPERVISOR, "koutiala")
    assert again.exit_code == 0, again.output
    assert again.output == f"updated supervisor {SUPERVISOR}: koutiala, region:sikasso\n"
    point, areas = stored(app, SUPERVISOR)
    assert (point.role, areas) == ("supervisor", ["koutiala", "region:sikasso"])
    assert listing(runner) == f"{SUPERVISOR:<16}{'supervisor':<12}koutiala, region:sikasso\n"
    changed = add(runner, SUPERVISOR, "koutiala", "--role", "agent")
    assert changed.output == f"updated agent {SUPERVISOR}: koutiala, region:sikasso\n"
    assert stored(app, SUPERVISOR)[0].role == "agent"
    kept = add(runner, SUPERVISOR, "region:koutiala")
    assert kept.output == (
        f"updated agent {SUPERVISOR}: koutiala, region:koutiala, region:sikasso\n"
    )


def test_add_normalizes_a_local_number(app, runner):
    """A number typed without the country code is stored in E.164."""
    assert add(runner, "70 10 00 01", "kadiolo", pin=PIN).exit_code == 0
    assert stored(app, AGENT)[1] == ["kadiolo"]


@pytest.mark.parametrize(
    ("phone", "area", "extra", "pin", "message"),
    [
        (AGENT, "atlantis", (), PIN, "unknown area 'atlantis'"),
        (AGENT, "atlantis", (), None, "unknown area 'atlantis'"),
        ("not-a-phone", "kadiolo", (), PIN, "not a phone number: 'not-a-phone'"),
        ("12", "kadiolo", (), PIN, "not a phone number: '12'"),
        (AGENT, "kadiolo", (), "12", "must be 4 to 6 digits"),
        (AGENT, "kadiolo", (), "abcd", "must be 4 to 6 digits"),
        (AGENT, "kadiolo", (), "1234567", "must be 4 to 6 digits"),
        (AGENT, "kadiolo", (), "", "must be 4 to 6 digits"),
        (AGENT, "kadiolo", ("--role", "boss"), PIN, "'boss' is not one of 'supervisor', 'agent'"),
        (AGENT, "region:atlantis", (), PIN, "unknown area 'region:atlantis'"),
        (AGENT, "region:kadiolo", (), PIN, "unknown area 'region:kadiolo'"),  # a cercle
        (AGENT, "region:all", (), PIN, "unknown area 'region:all'"),
        (AGENT, "kadiolo", ("--region", "sikasso"), PIN, "give either --cercle or --region"),
        (AGENT, None, (), PIN, "give either --cercle or --region"),
    ],
)
def test_add_refuses_bad_input_and_writes_nothing(app, runner, phone, area, extra, pin, message):
    """Each bad input is a usage error that names the problem and records nothing."""
    if area is None:  # neither --cercle nor --region
        args = ["focal-points", "add", phone, *extra, "--pin-stdin"]
        result = runner.invoke(args, input=pin + "\n")
    else:
        result = add(runner, phone, area, *extra, pin=pin)
    assert result.exit_code == 2
    assert message in result.output
    assert "PIN " not in result.stdout
    assert listing(runner) == "no focal point\n"
    with app.extensions["db"]() as db:
        assert db.scalar(select(func.count(FocalArea.id))) == 0


@pytest.mark.parametrize(
    ("area", "extra", "pin"),
    [("atlantis", ("--role", "supervisor"), None), ("region:sikasso", ("--role", "boss"), None),
     ("region:sikasso", ("--role", "supervisor"), "12"), ("region:atlantis", (), None)],
)  # fmt: skip
def test_a_refused_add_leaves_a_known_focal_point_as_it_was(app, runner, area, extra, pin):
    """A bad add for a known phone changes neither its role, areas nor PIN."""
    assert add(runner, AGENT, "kadiolo", pin=PIN).exit_code == 0
    before, _ = stored(app, AGENT)
    assert add(runner, AGENT, area, *extra, pin=pin).exit_code == 2
    after, areas = stored(app, AGENT)
    assert (after.role, areas, after.pin_hash) == ("agent", ["kadiolo"], before.pin_hash)


def test_remove_forgets_the_focal_point_and_its_areas(app, runner):
    """remove deletes the phone and every area it covered."""
    assert add(runner, AGENT, "kadiolo", pin=PIN).exit_code == 0
    assert add(runner, AGENT, "region:sikasso").exit_code == 0
    assert add(runner, OTHER, "koutiala", pin=PIN).exit_code == 0
    result = runner.invoke(["focal-points", "remove", AGENT])
    assert result.exit_code == 0, result.output
    assert result.output == f"removed {AGENT}\n"
    assert listing(runner) == f"{OTHER:<16}{'agent':<12}koutiala\n"
    with app.extensions["db"]() as db:
        assert list(db.scalars(select(FocalArea.area))) == ["koutiala"]


def test_removing_an_unknown_phone_fails(app, runner):
    """remove of a phone that is no focal point says so and exits 1."""
    assert add(runner, AGENT, "kadiolo", pin=PIN).exit_code == 0
    result = runner.invoke(["focal-points", "remove", STRANGER])
    assert result.exit_code == 1
    assert result.stderr == f"no focal point {STRANGER}\n"
    assert listing(runner) == f"{AGENT:<16}{'agent':<12}kadiolo\n"


def test_list_without_focal_points(runner):
    """list says when there is nobody."""
    assert listing(runner) == "no focal point\n"


# --- the USSD main menu follows at once ---------------------------------------------------------


def menu(caller) -> str:
    """Call, and return every page of the main menu (paging with 99), joined."""
    pages = [caller()]
    while "99.Suite" in pages[-1]:
        pages.append(caller("99"))
    return "\n".join(pages)


MENU = ("CON Kalan - Menu principal\n1. Formation\n2. Signaler un enfant\n"
        "3. Urgence : danger immédiat\n4. Suivre un signalement\n5. Compte / Aide\n")  # fmt: skip


def test_adding_a_focal_point_shows_the_desk_on_the_next_call(app, client, runner):
    """The cached profile is forgotten on add and remove, so the menu changes at the next call."""
    caller = Dial(client, phone=AGENT)
    assert caller() == MENU + "6. Quitter"  # a new caller: the main menu at once
    caller.drop()
    assert menu(caller) == MENU + "6. Quitter"
    store = app.extensions["sessions"]
    loaded = store.load("unused", AGENT)
    store.release("unused", loaded)
    cached = loaded.profile
    assert cached is not None and cached["focal"] is None  # cached for the day
    caller.drop()
    assert add(runner, AGENT, "kadiolo", pin=PIN).exit_code == 0
    # The whole focal main menu fits on one page: the desk is 6, Quitter last.
    assert menu(caller) == MENU + "6. Mes dossiers\n7. Quitter"
    assert caller("6").startswith("CON Mes dossiers. Entrez votre code PIN :")
    caller.drop()
    assert runner.invoke(["focal-points", "remove", AGENT]).exit_code == 0
    assert menu(caller) == MENU + "6. Quitter"
