"""Session storage in Redis: JSON, namespaced keys, TTLs and two round trips a hop."""

import contextlib
import json
import os
import socket
import struct

import pytest
from redis import Redis
from redis.connection import AbstractConnection
from redis.exceptions import ResponseError
from sqlalchemy import event, select

from app.infra import salt, session_scripts, sessions
from app.infra.models import ModuleProgress, QuizAnswer
from app.infra.sessions import UNCHANGED, Busy, SessionStore
from flows.training.common import order
from sandbox.embedded import EmbeddedRedis

from .conftest import Dial, phone_key
from .helpers import BODY, SMS, seen_from_outside, write_behind


def store_for(app) -> SessionStore:
    return app.extensions["sessions"]


# What a new connection says first, before any command of ours (redis-py's on_connect).
HANDSHAKE = {b"HELLO", b"AUTH", b"CLIENT", b"SELECT"}


@contextlib.contextmanager
def round_trips():
    """Count the writes to Redis, one per round trip, down any connection, pooled or kept.

    Every command and pipeline goes out in one send_packed_command; a new connection's
    handshake is left out, as the pool's check-outs that this count replaced left it.
    """
    trips, original = [], AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        packed = command if isinstance(command, bytes) else b"".join(command)
        if packed.split(b"\r\n")[2].upper() not in HANDSHAKE:
            trips.append(packed)
        return original(self, command, check_health)

    AbstractConnection.send_packed_command = counting
    try:
        yield trips
    finally:
        AbstractConnection.send_packed_command = original


def client_id(store: SessionStore) -> int:
    """Return the id the server gives the connection the store's round trips go down."""
    return store._round_trip([("CLIENT", "ID")])[0]


def test_values_are_json_under_the_prefix_with_ttls(app, dial):
    dial("5", "2")
    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    session_key = f"{prefix}session:{dial.session_id}"
    session = json.loads(redis.get(session_key))
    assert session["state"]["node"] == "account.name"
    assert "+22370000099" not in json.dumps(session) and len(session["caller"]) == 40
    assert 0 < redis.ttl(session_key) <= app.config["SESSION_TTL_S"]
    resume_key = phone_key(app, "resume", "+22370000099")
    assert json.loads(redis.get(resume_key))["node"] == "account.name"
    assert app.config["SESSION_TTL_S"] < redis.ttl(resume_key) <= app.config["RESUME_TTL_S"]
    assert all(k.decode().startswith(prefix) for k in redis.scan_iter(match=prefix + "*"))


def test_a_report_half_answered_waits_less_than_a_lesson(app, client, dial):
    """On a shared phone the next caller must not find a report's answers the next day."""
    redis = app.extensions["redis"]
    dial("2", *BODY[:3])  # Signaler, three answers in
    resume_key = phone_key(app, "resume", dial.phone)
    assert json.loads(redis.get(resume_key))["node"].startswith("r.")
    assert 0 < redis.ttl(resume_key) <= app.config["REPORT_RESUME_TTL_S"] < 3600
    other = Dial(client, phone="+22370000098")
    other("5", "2")  # a place in Mon compte: kept the whole day
    kept = phone_key(app, "resume", "+22370000098")
    assert app.config["REPORT_RESUME_TTL_S"] < redis.ttl(kept) <= app.config["RESUME_TTL_S"]


def test_save_keep_clear_resume(app):
    store = store_for(app)

    def hop(session, resume):
        loaded = store.load("s1", "+22370000001")
        store.save("s1", loaded, session, resume=resume)
        seen = store.load("s1", "+22370000001", wait_s=0)  # the lock was given back
        store.release("s1", seen)
        return seen

    assert hop({"a": 1}, {"node": "about"}).resume == {"node": "about"}
    loaded = hop({"a": 2}, UNCHANGED)
    assert (loaded.session, loaded.resume) == ({"a": 2}, {"node": "about"})
    assert hop({"a": 3}, None).resume is None


def test_a_hop_that_read_no_resume_point_deletes_none(app):
    """Clearing what was not there sends no DEL: a resume point that another session of
    the phone saved since the hop began stays."""
    store = store_for(app)
    loaded = store.load("s1", "+22370000001")
    assert loaded.resume is None
    other = store.load("s2", "+22370000001")
    store.save("s2", other, {"b": 1}, resume={"node": "about"})
    store.save("s1", loaded, {"a": 1}, resume=None)
    seen = store.load("s3", "+22370000001", wait_s=0)
    assert seen.resume == {"node": "about"}


def test_unreadable_values_count_as_absent(app):
    store = store_for(app)
    app.extensions["redis"].set(app.config["REDIS_PREFIX"] + "session:bad", b"\x80not json")
    loaded = store.load("bad", "+22370000001")
    assert (loaded.session, loaded.resume, loaded.profile) == (None, None, None)


def test_a_session_is_answered_one_hop_at_a_time(app):
    """A second hop of a session waits for the first to save; Busy if it never does."""
    store = store_for(app)
    first = store.load("s2", "+22370000001")
    with pytest.raises(Busy):
        store.load("s2", "+22370000001", wait_s=0.05)
    assert store.load("s3", "+22370000001", wait_s=0).session is None  # others go on
    store.save("s2", first, {"n": 1})
    assert store.load("s2", "+22370000001", wait_s=0).session == {"n": 1}


def test_a_lock_lost_to_time_is_not_released_by_its_late_holder(app):
    store, redis = store_for(app), app.extensions["redis"]
    late = store.load("s4", "+22370000001")
    redis.delete(app.config["REDIS_PREFIX"] + "lock:s4")  # expired while the hop ran
    now = store.load("s4", "+22370000001", wait_s=0)
    store.release("s4", late)
    with pytest.raises(Busy):
        store.load("s4", "+22370000001", wait_s=0)
    store.release("s4", now)


def test_the_load_run_again_with_its_own_token_goes_on(app):
    """redis-py runs the script again when its reply is lost: the lock it took then is its
    own, not another hop's. Another token still finds the session busy."""
    store, redis, prefix = store_for(app), app.extensions["redis"], app.config["REDIS_PREFIX"]
    store.save("s7", store.load("s7", "+22370000001"), {"n": 1})
    today, yesterday = salt.day_keys(prefix, app.config["TZ"])
    keys = [f"{prefix}lock:s7", f"{prefix}session:s7", today, yesterday]

    def run(token: str):
        args = [token, sessions.LOCK_MS, salt.candidate(), salt.TTL_S, prefix, "+22370000001"]
        return redis.eval(session_scripts.LOAD, len(keys), *keys, *args)

    first = run("ours")
    assert first is not None and json.loads(first[0]) == {"n": 1}
    assert run("ours") == first  # the retry reads the same, and keeps the lock
    assert redis.get(keys[0]) == b"ours"
    assert run("theirs") is None


def test_a_hop_under_known_salts_runs_no_script_and_reads_the_same(app):
    """Once a process knows the day's salts, plain commands lock and read what the script
    did, under the same names; a lost reply's retry finds the lock its own."""
    store, redis, prefix = store_for(app), app.extensions["redis"], app.config["REDIS_PREFIX"]
    phone = "+22370000001"
    first = store.load("k1", phone)  # the script: the salts are not known yet
    store.save("k1", first, {"n": 1}, resume={"node": "about"}, profile={"seen": "x"})
    redis.hset(f"{prefix}repeat:{first.caller}", "a", "1")
    redis.set(f"{prefix}reports:{first.caller}", 2)
    with round_trips() as trips:
        loaded = store.load("k1", phone)
    assert b"EVAL" not in b"".join(trips) and len(trips) == 1
    assert (loaded.session, loaded.resume, loaded.profile) == ({"n": 1}, {"node": "about"},
                                                               {"seen": "x"})  # fmt: skip
    assert loaded.callers == first.callers and loaded.stale == []
    assert loaded.facts == {"reports": 2, "lookups": 0, "repeats": [{"a": "1"}, {}]}
    keys = [f"{prefix}lock:k1", f"{prefix}session:k1", *store._days()]
    again = store._read_named(keys, loaded.token, phone, store._salts[1])
    assert again is not None and again[0] == b'{"n":1}'  # the retry holds the lock
    assert store._read_named(keys, "theirs", phone, store._salts[1]) is None
    store.release("k1", loaded)


def test_the_lock_taken_by_plain_commands_expires(app):
    """A process that dies holding a session must not hold it for ever."""
    store, redis, prefix = store_for(app), app.extensions["redis"], app.config["REDIS_PREFIX"]
    store.release("k5", store.load("k5", "+22370000001"))  # the salts are known now
    with round_trips() as trips:
        loaded = store.load("k5", "+22370000001")
    assert b"EVAL" not in b"".join(trips)
    assert 0 < redis.pttl(f"{prefix}lock:k5") <= sessions.LOCK_MS
    store.release("k5", loaded)


def test_a_hop_costs_at_most_two_redis_round_trips(app, dial):
    """Count the writes a hop makes to Redis: one per round trip."""
    dial("5")
    with round_trips() as trips:
        for value in ("5", "99", "0", "bad", "00"):
            trips.clear()
            dial(value)
            assert len(trips) == 2, value
        trips.clear()
        dial.post("5*5*99*0*bad*00")  # a resent hop: read, and the lock given back
        assert len(trips) == 2


def test_menus_and_the_next_lesson_run_no_sql(app, dial):
    """Once the profile is cached, a menu choice reads nothing from the database (the main
    menu's count of today's reports is fetched only for Signaler), and the next lesson
    screen writes nothing either: its place goes to Redis, and from there to SQL."""
    engine, statements = app.extensions["engine"], []

    def record(_conn, _cursor, statement, *_):
        statements.append(statement.split()[0].upper())

    dial("1", "1", "1")  # Formation, Continuer (lesson 1), lesson 2: the module's row opens
    write_behind(app)
    with app.extensions["db"]() as db:
        before = db.scalars(select(ModuleProgress.position)).one()
    event.listen(engine, "before_cursor_execute", record)
    try:
        dial("1")  # the third lesson screen
        assert statements == []
        # Kept by the writer, for a resume once Redis has forgotten: in one transaction.
        with seen_from_outside(engine, "SELECT position FROM module_progress") as seen:
            assert write_behind(app) == 1
        assert statements == ["UPDATE"] and seen == [before]
        with app.extensions["db"]() as db:
            after = db.scalars(select(ModuleProgress.position)).one()
        assert after not in (before, None)
        statements.clear()
        dial("00", "1")  # back to the main menu, then Formation
        assert statements == []
        dial("00", "5")  # Compte / Aide
        assert statements == []
        dial("00", "2")  # Signaler: today's count of reports came with the session
        assert statements == []
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_quiz_answer_runs_no_sql_and_is_written_with_its_place(app, dial):
    """A quiz answer writes nothing in its hop; the writer keeps the place in the module and
    the answer in one transaction."""
    engine, statements = app.extensions["engine"], []
    # Formation, Continuer (module 1), its lesson screens: question 1.
    assert "Q1/5" in dial("1", "1", *["1"] * 6)
    write_behind(app)

    def record(_conn, _cursor, statement, *_):
        statements.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        dial("2")
        assert statements == []
        with seen_from_outside(engine, "SELECT count(*) FROM quiz_answers") as seen:
            assert write_behind(app) == 1
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statements == ["UPDATE", "INSERT"]
    assert seen == [0, 0]  # committed together, after both
    with app.extensions["db"]() as db:
        (answer,) = db.scalars(select(QuizAnswer)).all()
        progress = db.scalars(select(ModuleProgress)).one()
    # The second option shown, kept as its number in the course: this learner's order.
    shown = order(app.extensions["catalog"].course.question("m1q1"),
                  {"profile": {"id": progress.contact_id}}, progress.attempt)  # fmt: skip
    assert (answer.question, answer.choice, answer.attempt) == ("m1q1", shown[1], progress.attempt)
    assert progress.position == "q"


def test_the_hop_that_sends_a_report_wakes_the_workers_in_its_two_round_trips(app, dial):
    """The report is saved, and a dispatch queued for its receipt, within the same two trips."""
    queue = app.extensions["queue"]
    queue.get_redis_server_version()  # RQ asks once per process, then remembers
    assert confirm_screen(dial).startswith("CON ")
    before = set(queue.job_ids)
    with round_trips() as trips:
        done = dial("1")  # Envoyer
    assert done.startswith("END Merci. Référence : ")
    assert len(trips) == 2
    (job,) = [queue.fetch_job(j) for j in set(queue.job_ids) - before]
    assert job.func_name == "workers.jobs.dispatch"


def confirm_screen(dial) -> str:
    """Answer a report up to its last screen (Envoyer), as a new caller."""
    return dial("2", *BODY, SMS)


def test_a_desk_hop_costs_at_most_two_redis_round_trips(app, client):
    """Once the PIN opened the desk, its screens cost what any hop costs: the session says
    the desk is open, with no key of its own to read."""
    from app import cases
    from app.cases import focal_points
    from app.infra.models import utcnow

    agent, pin = "+22370000611", "4821"
    answers = {"sector": "mining", "region": "sikasso", "cercle": "kadiolo", "place": "Fourou",
               "hazard": "pits", "contactable": False}  # fmt: skip
    with app.extensions["db"]() as db:
        focal_points.add(db, agent, "kadiolo", "agent", pin)
        db.commit()
        cases.file_report(db, app.config, app.extensions["catalog"], "+22376000556",
                          "482913", answers, utcnow())  # fmt: skip
        db.commit()
    caller = Dial(client, phone=agent)
    opened = caller("6", pin)
    assert "482913" in opened, opened
    with round_trips() as trips:
        for value in ("1", "0", "1"):
            trips.clear()
            reply = caller(value)
            assert len(trips) == 2, (value, reply)
    assert "482913" in reply  # still on the desk: the case is shown again


def test_a_hop_after_redis_forgot_its_scripts_sends_the_script_again(make_app, tmp_path):
    """A restarted Redis has no script cache: the load falls back to EVAL, which fills it."""
    server = EmbeddedRedis(tmp_path / "redis").start()  # SCRIPT FLUSH is server-wide
    try:
        app = make_app(REDIS_URL=server.url)
        redis, dial = app.extensions["redis"], Dial(app.test_client())
        dial("5")
        redis.script_flush()
        # A process that starts now, or at midnight, knows no salts yet: its hop runs the
        # script (one that knows them needs none, see the test above).
        dial.client = make_app(REDIS_URL=server.url).test_client()
        assert dial("0").startswith("CON Kalan - Menu principal")
        assert redis.script_exists(session_scripts.LOAD_SHA) == [True]
    finally:
        server.stop()


def test_an_error_in_a_batch_is_raised_after_every_reply_is_read(app):
    """The connection is kept clean: the next round trip reuses it as it is."""
    store = store_for(app)
    loaded = store.load("s6", "+22370000001")
    before = client_id(store)
    with pytest.raises(ResponseError, match="invalid expire time"):
        # A resume point that may not live (-1 s) is refused in the middle of the batch.
        store.save("s6", loaded, {"n": 1}, resume={"node": "about"}, resume_ttl=-1)
    assert client_id(store) == before  # no reply was left unread, so no reconnection
    assert store.load("s6", "+22370000001", wait_s=0).session == {"n": 1}  # lock given back


def test_a_kept_connection_the_server_dropped_is_retried_on_a_new_one(app, dial):
    """A kept connection is not checked before its write: a dropped one costs one retry."""
    store = store_for(app)
    dial("5")
    kept = client_id(store)
    with Redis.from_url(app.config["REDIS_URL"]) as other:
        other.client_kill_filter(_id=kept)
    assert dial("0").startswith("CON Kalan - Menu principal")
    assert client_id(store) != kept


def test_the_round_trips_go_down_a_socket_the_kernel_times_out(app, dial):
    """Python's own timeout polls before each send and read: the kernel keeps it instead."""
    store = store_for(app)
    dial("5")
    [conn] = store._kept
    timeout = app.extensions["redis"].connection_pool.connection_kwargs["socket_timeout"]
    assert conn._sock.gettimeout() is None
    seconds, micros = struct.unpack(
        "ll", conn._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16)
    )
    assert timeout > 0 and seconds + micros / 1e6 == pytest.approx(timeout, abs=0.011)


def test_a_forked_process_never_writes_down_its_parents_connection(app):
    """gunicorn forks its workers from a process that may have used Redis: each makes its own."""
    store = store_for(app)
    parent = client_id(store)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its answer down the pipe, then out without pytest's teardown
        try:
            os.write(write, str(client_id(store)).encode())
        finally:
            os._exit(0)
    os.close(write)
    child = int(os.read(read, 64) or 0)
    os.waitpid(pid, 0)
    assert child and child != parent
    assert client_id(store) == parent  # the parent's is still its own, and clean


def test_a_forked_worker_draws_lock_tokens_of_its_own(app):
    """A doubled hop on another worker, holding the same token, would take the lock as its own."""
    store = store_for(app)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its token down the pipe, then out without pytest's teardown
        try:
            os.write(write, store.load("forked-child", "+22370000951").token.encode())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    mine = store.load("forked-parent", "+22370000951").token
    assert len(child) == 16 and child != mine


def test_a_save_with_commands_together_is_one_transaction(app):
    """together's commands run in the save's MULTI: refused as queued, nothing is kept;
    an error as they run (Redis rolls nothing back) is raised all the same."""
    store, redis, prefix = store_for(app), app.extensions["redis"], app.config["REDIS_PREFIX"]
    loaded = store.load("t1", "+22370000001")
    with round_trips() as trips:
        store.save("t1", loaded, {"n": 1}, together=[("RPUSH", f"{prefix}t-list", "a")])
    assert len(trips) == 1 and b"MULTI" in trips[0] and b"EXEC" in trips[0]
    assert store.peek("t1") == {"n": 1} and redis.lrange(f"{prefix}t-list", 0, -1) == [b"a"]
    loaded = store.load("t1", "+22370000001")
    with pytest.raises(ResponseError, match="unknown command"):
        store.save("t1", loaded, {"n": 2}, together=[("NO-SUCH-COMMAND",)])
    assert store.peek("t1") == {"n": 1}
    store.release("t1", loaded)
    loaded = store.load("t1", "+22370000001")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        store.save("t1", loaded, {"n": 3}, together=[("INCR", f"{prefix}t-list")])
    assert store.peek("t1") == {"n": 3}
