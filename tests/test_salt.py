"""The day's salts: the names of a phone's keys, known in process, checked, and renewed."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.infra import salt
from app.infra.sessions import Busy

from .conftest import phone_key
from .test_sessions import round_trips, store_for


def test_the_day_ends_at_local_midnight():
    keys, until = salt.day_keys_until("p:", "Africa/Bamako")
    ends = datetime.fromtimestamp(until, ZoneInfo("Africa/Bamako"))
    assert keys == salt.day_keys("p:", "Africa/Bamako") and ends.time().isoformat() == "00:00:00"
    assert 0 < until - datetime.now().timestamp() <= 24 * 3600


def test_yesterdays_salt_gone_from_redis_is_read_again_by_the_script(app):
    store, redis = store_for(app), app.extensions["redis"]
    phone, yesterday = "+22370000001", store._days()[1]
    redis.set(yesterday, b"old-salt", ex=60)
    store.release("k4", store.load("k4", phone))  # both salts are known now
    redis.delete(yesterday)
    loaded = store.load("k4", phone)
    assert len(loaded.callers) == 1 and store._salts[1][1] is None
    store.release("k4", loaded)


def test_a_new_day_forgets_the_salts_known(app):
    """At local midnight the day's keys are worked out again, and the salts known under the
    day before are dropped from the process with them."""
    store = store_for(app)
    store.release("k6", store.load("k6", "+22370000001"))
    assert store._salts is not None
    store._day = (("salt:a", "salt:b"), 0.0)  # as if the day had ended
    assert store._days() == salt.day_keys(app.config["REDIS_PREFIX"], app.config["TZ"])
    assert store._salts is None


def test_salts_that_redis_replaced_are_read_again_by_the_script(app):
    """Redis lost the salts (a restart): the names known in process would miss every key,
    so the hop that finds other salts reads again with the script, keeping its lock."""
    store, redis, prefix = store_for(app), app.extensions["redis"], app.config["REDIS_PREFIX"]
    phone, today = "+22370000001", store._days()[0]
    store.release("k2", store.load("k2", phone))  # the salts are known now
    redis.set(today, b"new-salt")
    redis.set(f"{prefix}resume:{salt.caller(b'new-salt', phone)}", json.dumps({"node": "x"}))
    loaded = store.load("k2", phone)
    assert loaded.caller == salt.caller(b"new-salt", phone) and loaded.resume == {"node": "x"}
    assert store._salts[1][0] == b"new-salt"
    with pytest.raises(Busy):
        store.load("k2", phone, wait_s=0)
    store.release("k2", loaded)


def test_keys_found_under_yesterdays_salt_move_to_todays(app):
    """A resume point made before midnight is found after it, and then renamed."""
    store, redis, prefix = store_for(app), app.extensions["redis"], app.config["REDIS_PREFIX"]
    today, yesterday = salt.day_keys(prefix, app.config["TZ"])
    redis.set(yesterday, b"old-salt", ex=60)
    old = f"{prefix}resume:{salt.caller(b'old-salt', '+22370000001')}"
    redis.set(old, json.dumps({"node": "about"}), ex=60)
    loaded = store.load("s5", "+22370000001")
    assert loaded.resume == {"node": "about"} and len(loaded.callers) == 2
    store.save("s5", loaded, {"n": 1})
    assert redis.get(old) is None
    assert json.loads(redis.get(phone_key(app, "resume", "+22370000001"))) == {"node": "about"}


def test_a_hop_under_known_salts_finds_yesterdays_keys_and_moves_them(app):
    """The plain commands read yesterday's names too, as the script does."""
    store, redis, prefix = store_for(app), app.extensions["redis"], app.config["REDIS_PREFIX"]
    phone, yesterday = "+22370000001", store._days()[1]
    redis.set(yesterday, b"old-salt", ex=60)
    store.release("k3", store.load("k3", phone))  # both salts are known now
    name = salt.caller(b"old-salt", phone)
    old, old_resume = f"{prefix}profile:{name}", f"{prefix}resume:{name}"
    redis.set(old, json.dumps({"seen": "y"}), ex=60)
    redis.set(old_resume, json.dumps({"node": "about"}), ex=60)
    with round_trips() as trips:
        loaded = store.load("k3", phone)
    assert b"EVAL" not in b"".join(trips)
    assert loaded.profile == {"seen": "y"} and loaded.resume == {"node": "about"}
    assert sorted(loaded.stale) == sorted([old, old_resume])
    store.save("k3", loaded, {"n": 1})
    assert redis.get(old) is None and json.loads(redis.get(store.profile_key(loaded))) == {
        "seen": "y"
    }
    assert json.loads(redis.get(f"{prefix}resume:{loaded.caller}")) == {"node": "about"}
