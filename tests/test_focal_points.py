"""Focal points: the CLI that records them, their PINs, the PIN lock and whose desk sees what."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select

from app import cases
from app.cases import focal_points
from app.infra.models import FocalArea, FocalPoint

from .conftest import Dial

AGENT, OTHER, SUPERVISOR = "+22370100001", "+22370100002", "+22370100003"
NATIONAL, ROVER, STRANGER = "+22370100004", "+22370100005", "+22370100009"
# Focal points of the places that share a name: the cercle, or the whole region.
TOWN_AGENT, REGION_AGENT, TOWN_SUPERVISOR = "+22370100006", "+22370100007", "+22370100008"
PIN = "4821"
REPORTER = "+22376000555"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


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


# --- PINs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pin", "valid"),
    [("4821", True), ("0000", True), ("12345", True), ("735102", True), ("123", False),
     ("1234567", False), ("", False), ("12a4", False), ("abcd", False), (" 4821", False),
     ("4821\n", False), ("12.4", False), ("-123", False), ("١٢٣٤", False), ("４８２１", False)],
)  # fmt: skip
def test_valid_pin(pin, valid):
    """A PIN is 4 to 6 ASCII digits and nothing else."""
    assert focal_points.valid_pin(pin) is valid


def test_hash_pin_is_salted_and_never_holds_the_pin():
    """Two hashes of one PIN differ, both match it, neither contains it."""
    first, second = focal_points.hash_pin(PIN), focal_points.hash_pin(PIN)
    assert first != second
    assert first.startswith("scrypt$") and PIN not in first.split("$", 1)[1]
    assert focal_points.pin_matches(first, PIN) and focal_points.pin_matches(second, PIN)


@pytest.mark.parametrize("pin", ["4820", "48210", "0000", "", "١٨٢١"])
def test_a_wrong_pin_does_not_match(pin):
    """Any other PIN is refused."""
    assert not focal_points.pin_matches(focal_points.hash_pin(PIN), pin)


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "scrypt$", "scrypt$zz$00", "scrypt$$", "a$b$c", "scrypt$00$00$00", PIN],
)
def test_a_garbage_stored_hash_matches_nothing(garbage):
    """A stored value that is no hash never matches, and never raises."""
    assert focal_points.pin_matches(garbage, PIN) is False


@pytest.mark.parametrize("stored", ["scrypt$00$é", "scrypt$é$00", "scrypt$00$００", "é$00$00"])
def test_a_non_ascii_stored_hash_matches_nothing(stored):
    """A stored hash with non-ASCII characters is refused like any other garbage."""
    assert focal_points.pin_matches(stored, PIN) is False


def test_a_stored_hash_fits_its_column():
    """scrypt with a 16-byte salt and a 32-byte key: "scrypt$" + 32 + "$" + 64 hex digits."""
    stored = focal_points.hash_pin(PIN)
    assert re.fullmatch(r"scrypt\$[0-9a-f]{32}\$[0-9a-f]{64}", stored), stored
    assert len(stored) == 104
    assert FocalPoint.__table__.c.pin_hash.type.length == 128


# --- the PIN lock in Redis ----------------------------------------------------------------------


class Lock:
    """Check PINs as the desk does, against the app's real Redis."""

    def __init__(self, app):
        self.redis, self.prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
        self.point = FocalPoint(phone=AGENT, role="agent", pin_hash=focal_points.hash_pin(PIN))

    def __call__(self, pin, phone=AGENT, point=None, known=True):
        """Check a PIN for a phone (the agent by default); return the result."""
        point = (point or self.point) if known else None
        return focal_points.check_pin(self.redis, self.prefix, phone, point, pin)

    def ttl(self, phone=AGENT) -> int:
        """Return the seconds left on a phone's counter of wrong PINs (-2: none)."""
        return self.redis.ttl(f"{self.prefix}pin:{phone}")


@pytest.fixture
def lock(app):
    """A PIN checker on the app's Redis."""
    return Lock(app)


def test_the_right_pin_opens(lock):
    """The right PIN is ok and leaves no counter behind."""
    assert lock(PIN) == {"result": "ok", "left": 5, "wait": 0}
    assert lock.ttl() == -2


def test_five_wrong_pins_lock(lock):
    """Each wrong PIN costs a try; the fifth locks for 15 minutes."""
    results = [lock("0000") for _ in range(5)]
    assert results == [
        {"result": "wrong", "left": 4, "wait": 0},
        {"result": "wrong", "left": 3, "wait": 0},
        {"result": "wrong", "left": 2, "wait": 0},
        {"result": "wrong", "left": 1, "wait": 0},
        {"result": "locked", "left": 0, "wait": 900},
    ]


def test_a_wrong_pin_is_counted_for_fifteen_minutes(lock):
    """The counter of wrong PINs expires about 900 s after the last one."""
    lock("0000")
    assert 890 <= lock.ttl() <= 900


def test_a_locked_desk_refuses_even_the_right_pin(lock):
    """Once locked, the right PIN is locked too, with the time left to wait."""
    for _ in range(5):
        lock("0000")
    result = lock(PIN)
    assert (result["result"], result["left"]) == ("locked", 0)
    assert 890 <= result["wait"] <= 900
    assert lock(PIN)["result"] == "locked"


def test_the_right_pin_before_the_lock_resets_the_count(lock):
    """Four wrong PINs then the right one: the next wrong one has four tries left again."""
    for _ in range(4):
        lock("0000")
    assert lock(PIN)["result"] == "ok"
    assert lock.ttl() == -2
    assert lock("0000") == {"result": "wrong", "left": 4, "wait": 0}


def test_each_phone_has_its_own_counter(lock):
    """Locking one phone leaves another's tries untouched."""
    for _ in range(5):
        lock("0000")
    other = FocalPoint(phone=OTHER, role="agent", pin_hash=focal_points.hash_pin("1357"))
    assert lock("0000", phone=OTHER, point=other) == {"result": "wrong", "left": 4, "wait": 0}
    assert lock("1357", phone=OTHER, point=other)["result"] == "ok"
    assert lock(PIN)["result"] == "locked"


def test_a_phone_that_is_no_focal_point_spends_tries(lock):
    """Without a focal point every PIN is wrong and counted, so guessing locks too."""
    results = [lock(PIN, phone=STRANGER, known=False)["result"] for _ in range(5)]
    assert results == ["wrong"] * 4 + ["locked"]


def test_the_tries_left_are_told_without_spending_one(lock):
    """pin_tries reads the counter as check_pin leaves it and changes nothing."""

    def tries():
        return focal_points.pin_tries(lock.redis, lock.prefix, AGENT)

    assert tries() == {"result": "unchecked", "left": 5, "wait": 0}
    lock("0000")
    lock("0000")
    assert tries() == tries() == {"result": "unchecked", "left": 3, "wait": 0}
    assert lock("0000") == {"result": "wrong", "left": 2, "wait": 0}  # nothing spent meanwhile
    lock("0000")
    lock("0000")
    locked = tries()
    assert (locked["result"], locked["left"]) == ("locked", 0) and 890 <= locked["wait"] <= 900


# --- whose desk sees what -----------------------------------------------------------------------

ANSWERS = {"sector": "mining", "children": "few", "age": "13to14", "sex": "girls",
           "school": "no", "hazard": "pits", "contactable": False, "receipt": False}  # fmt: skip
# reference: region, cercle, place, urgent, minutes after T0, assignee, status
CASES = {
    "KADFRE": ("sikasso", "kadiolo", "Massiogo", False, 0, None, "new"),
    "KADCLO": ("sikasso", "kadiolo", "Fourou", False, 1, AGENT, "closed"),
    "KOUFRE": ("koutiala", "koutiala", "Sinsina", False, 5, None, "new"),
    "KADOTH": ("sikasso", "kadiolo", "Misseni", False, 10, OTHER, "new"),
    "SIKFRE": ("sikasso", "sikasso", "Finkolo", False, 20, None, "confirmed"),
    "KADURG": ("sikasso", "kadiolo", "Diou", True, 30, AGENT, "new"),
    "BOUMIN": ("bougouni", "yanfolila", "Kalana", False, 40, AGENT, "referred"),
    "KADLNK": ("sikasso", "kadiolo", "massiogo", False, 50, None, "linked"),  # joins KADFRE
    "KADVER": ("sikasso", "kadiolo", "Nafegue", True, 60, None, "verifying"),
    "MPEFRE": ("koutiala", "mpessoba", "Sirakele", False, 45, None, "new"),
}
POINTS = {
    AGENT: ("kadiolo", "agent"),
    OTHER: ("kadiolo", "agent"),
    SUPERVISOR: ("region:sikasso", "supervisor"),
    NATIONAL: ("all", "supervisor"),
    ROVER: ("all", "agent"),
    TOWN_AGENT: ("koutiala", "agent"),  # the cercle of Koutiala, not its region
    REGION_AGENT: ("region:koutiala", "agent"),
    TOWN_SUPERVISOR: ("sikasso", "supervisor"),  # the cercle of Sikasso, not its region
}


@pytest.fixture
def desks(app):
    """Cases in three regions, some assigned, closed or linked; then the focal points."""
    with app.app_context(), app.extensions["db"]() as db:
        for reference, (region, cercle, place, urgent, minutes, _, _) in CASES.items():
            answers = {**ANSWERS, "region": region, "cercle": cercle, "place": place,
                       "urgent": urgent}  # fmt: skip
            cases.file_report(
                db,
                current_app.config,
                current_app.extensions["catalog"],
                REPORTER,
                reference,
                answers,
                T0 + timedelta(minutes=minutes),
            )[0]
        db.flush()
        for reference, (*_, assignee, status) in CASES.items():
            case = cases.find(db, reference)
            assert case.assignee is None  # nobody covered any area yet: nothing was routed
            if assignee:
                cases.assign(
                    db,
                    current_app.config,
                    current_app.extensions["catalog"],
                    case,
                    assignee,
                    "test",
                    T0,
                    notify=False,
                )
            if status == "linked":
                assert case.status == "linked"
                assert case.linked_to == cases.find(db, "KADFRE").id
            case.status = status
        for phone, (area, role) in POINTS.items():
            focal_points.add(db, phone, area, role, PIN)
        db.commit()
    return app


def desk_of(app, phone, limit=30) -> list[str]:
    """Return the references on a phone's desk, in the order shown."""
    with app.extensions["db"]() as db:
        point = focal_points.find(db, phone)
        return [case.reference for case in focal_points.desk(db, point, limit)]


@pytest.mark.parametrize(
    ("phone", "references"),
    [
        (SUPERVISOR, ["KADURG", "KADVER", "KADFRE", "KADOTH", "SIKFRE"]),
        (AGENT, ["KADURG", "KADVER", "KADFRE", "BOUMIN"]),
        (OTHER, ["KADVER", "KADFRE", "KADOTH"]),
        (NATIONAL,
         ["KADURG", "KADVER", "KADFRE", "KOUFRE", "KADOTH", "SIKFRE", "BOUMIN", "MPEFRE"]),
        (ROVER, ["KADVER", "KADFRE", "KOUFRE", "SIKFRE", "MPEFRE"]),
        (TOWN_AGENT, ["KOUFRE"]),
        (REGION_AGENT, ["KOUFRE", "MPEFRE"]),
        (TOWN_SUPERVISOR, ["SIKFRE"]),
    ],
    ids=["region-supervisor", "agent", "other-agent", "national-supervisor", "national-agent",
         "cercle-agent", "region-agent", "cercle-supervisor"],
)  # fmt: skip
def test_each_desk_shows_its_open_cases_urgent_then_oldest(desks, phone, references):
    """A desk lists the open cases in its scope, urgent first, then the oldest first."""
    assert desk_of(desks, phone) == references


def test_a_desk_is_cut_at_its_limit(desks):
    """The limit keeps the first cases of the order."""
    assert desk_of(desks, NATIONAL, limit=3) == ["KADURG", "KADVER", "KADFRE"]


@pytest.mark.parametrize(
    ("phone", "reference", "allowed"),
    [
        (AGENT, "KADFRE", True),  # unassigned, in their cercle
        (AGENT, "KADURG", True),  # theirs
        (AGENT, "BOUMIN", True),  # theirs, outside their areas
        (AGENT, "KADOTH", False),  # another agent's
        (AGENT, "SIKFRE", False),  # another cercle
        (AGENT, "KADCLO", False),  # theirs, but closed
        (AGENT, "KADLNK", False),  # a linked report, in their cercle
        (SUPERVISOR, "KADOTH", True),
        (SUPERVISOR, "SIKFRE", True),
        (SUPERVISOR, "KOUFRE", False),
        (SUPERVISOR, "BOUMIN", False),
        (SUPERVISOR, "KADCLO", False),
        (NATIONAL, "BOUMIN", True),
        (NATIONAL, "KADCLO", False),
        (NATIONAL, "KADLNK", False),
        (ROVER, "KOUFRE", True),
        (ROVER, "KADOTH", False),
        # A bare name is the cercle: Koutiala's agent does not see Mpessoba (Koutiala
        # region), the agent of "region:koutiala" does.
        (TOWN_AGENT, "KOUFRE", True),
        (TOWN_AGENT, "MPEFRE", False),
        (REGION_AGENT, "MPEFRE", True),
        (REGION_AGENT, "KOUFRE", True),
        (REGION_AGENT, "SIKFRE", False),
        (TOWN_SUPERVISOR, "SIKFRE", True),
        (TOWN_SUPERVISOR, "KADFRE", False),
        (TOWN_SUPERVISOR, "KADURG", False),
    ],
)
def test_may_handle_follows_the_desk(desks, phone, reference, allowed):
    """A focal point may handle exactly the cases on its desk."""
    with desks.extensions["db"]() as db:
        point = focal_points.find(db, phone)
        case = cases.find(db, reference)
        assert focal_points.may_handle(db, point, case) is allowed
        assert (case in focal_points.desk(db, point)) is allowed


def test_a_removed_focal_point_lets_its_open_cases_go_back_to_the_desks(desks):
    """Removing an agent unassigns its open cases, in the log: nobody keeps texting it."""
    with desks.extensions["db"]() as db:
        released = focal_points.remove(db, focal_points.find(db, AGENT), T0)
        db.commit()
        assert released == 2  # KADURG and BOUMIN; the closed KADCLO stays as it was
        assert cases.find(db, "KADCLO").assignee == AGENT
        case = cases.find(db, "KADURG")
        assert (case.assignee, case.reminded_at, case.escalated_at) == (None, None, None)
        assert cases.history(db, case)[-1].note == f"unassigned: {AGENT} removed"
        assert focal_points.role(db, AGENT) is None
    assert "KADURG" in desk_of(desks, SUPERVISOR)
