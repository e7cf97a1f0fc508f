"""Focal points' PINs: hashing and checking them, and the lock in Redis after wrong ones."""

import re

import pytest

from app.cases import focal_points
from app.infra.models import FocalPoint

from .test_focal_points import AGENT, OTHER, PIN, STRANGER

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
