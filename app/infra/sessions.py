"""USSD session state in Redis: JSON values under namespaced keys, with TTLs.

Each hop costs two round trips: one that takes the session's lock and reads the
session, the caller's resume point and cached profile; one pipelined write of
the same that gives the lock back. Keys found by phone are named by its hash
under the day's salt (app/salt.py), never by the number itself: a script names
them the first time a process meets the day, plain commands after that.

Both go down a connection of the client's own pool, packed by hand: redis-py's
command layer (options, response callbacks, a Pipeline object) cost more than
the round trips themselves, and its pool and connection keep what matters:
timeouts, reconnection and its retry, a Sentinel's choice of server. The store
keeps the connections it took from the pool rather than give each back after
its round trip: taking and giving back cost half as much as the round trip.
"""

import json
import os
import random
import time
from dataclasses import dataclass, field

import hiredis
import orjson
from redis import Redis
from redis.exceptions import NoScriptError, ResponseError

from app.infra import redis_replies, salt
from app.infra.session_scripts import FORGET, LOAD, LOAD_SHA, RELEASE

UNCHANGED = object()  # leave the resume point as it is
PROFILE_TTL_S = 24 * 3600
# Longer than any hop (gunicorn's timeout is 9 s): a crashed process cannot hold a session.
LOCK_MS = 10_000
LOCK_WAIT_S = 5.0  # a doubled hop waits this long for the first one's reply
LOCK_POLL_S = 0.01

_STALE = object()  # the salts known in process are no longer Redis's

PENDING = "behind"  # a cached profile's steps that SQL may lack yet (app/training/behind.py)


# This process's id, kept up to date across forks: os.getpid() is a system call, twice a hop.
_PID = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))


class Busy(Exception):
    """Another hop of the same session held it for longer than a caller can wait."""


@dataclass
class Loaded:
    """A session read under its lock, with the caller's companions and names."""

    session: dict | None
    resume: dict | None
    profile: dict | None
    callers: tuple[str, ...]  # the phone's hash under today's salt, then yesterday's
    token: str
    facts: dict = field(default_factory=dict)  # the report limits' counts, see app/abuse.py
    waited: bool = False  # another hop held the session: this one may be its copy
    stale: list[str] = field(default_factory=list)  # keys under yesterday's salt, to move

    @property
    def caller(self) -> str:
        """Return the phone's name under today's salt."""
        return self.callers[0]


class SessionStore:
    """Load and save USSD sessions, resume points and cached profiles, one hop at a time."""

    def __init__(self, redis: Redis, prefix: str, session_ttl: int, resume_ttl: int, tz: str):
        self.redis = redis
        self.prefix = prefix
        self.session_ttl = session_ttl
        self.resume_ttl = resume_ttl
        self.tz = tz
        self.wait_s = LOCK_WAIT_S
        # Taken from the pool and kept: one a thread at most, appended and popped whole.
        self._kept: list = []
        self._day: tuple = ((), 0.0)  # the salts' keys, and when the local day ends
        self._salts: tuple | None = None  # (those keys, the salts the last script read)

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}{kind}:{name}"

    def load(self, session_id: str, phone: str, wait_s: float | None = None) -> Loaded:
        """Lock a session and return it with the caller's resume point and profile.

        One round trip when nobody else holds the session. A doubled hop waits
        for the first to be answered, then reads what it saved; Busy after wait_s.
        """
        # Told apart from another hop's, never secret: Python's generator (reseeded in each
        # forked worker) rather than the system's, which costs a system call a hop.
        token = f"{random.getrandbits(64):016x}"
        keys = [self._key("lock", session_id), self._key("session", session_id), *self._days()]
        deadline = time.monotonic() + (self.wait_s if wait_s is None else wait_s)
        waited = False
        while (found := self._lock_and_read(keys, token, phone)) is None:
            waited = True
            if time.monotonic() >= deadline:
                raise Busy(f"session {session_id} is still being answered")
            time.sleep(LOCK_POLL_S)
        raw_session, salt_today, salt_yesterday, resume, r_which, profile, p_which = found[:7]
        reports, lookups, *repeats = found[7:]
        loaded = Loaded(
            _decode(raw_session),
            _decode(resume),
            _decode(profile),
            salt.callers((salt_today, salt_yesterday), phone),
            token,
            {
                "reports": int(reports or 0),
                "lookups": int(lookups or 0),
                "repeats": [_pairs(flat) for flat in repeats],
            },
            waited,
        )
        for kind, which in (("resume", r_which), ("profile", p_which)):
            if which == 2 and len(loaded.callers) == 2:
                loaded.stale.append(self._key(kind, loaded.callers[1]))
        return loaded

    def _days(self) -> tuple[str, str]:
        """Return the keys of today's and yesterday's salts, worked out once a local day."""
        days, until = self._day
        if time.time() >= until:
            days, until = self._day = salt.day_keys_until(self.prefix, self.tz)
            self._salts = None  # a new day: a salt Redis will forget is not kept here either
        return days

    def _lock_and_read(self, keys: list, token: str, phone: str) -> list | None:
        """Lock and read in one round trip, as the LOAD script returns it; None when another
        hop holds the lock.

        With the day's salts known from an earlier hop, plain commands do it (the script
        was most of Redis's work in a hop), and the salts they read back prove the names
        right; otherwise, or if the salts changed (Redis lost them), the script runs.
        """
        known = self._salts
        if known is not None and known[0] == keys[2:]:
            found = self._read_named(keys, token, phone, known[1])
            if found is not _STALE:
                return found
        args = [token, LOCK_MS, salt.candidate(), salt.TTL_S, self.prefix, phone]
        found = self._run_load(keys, args)
        if found is not None:
            self._salts = (keys[2:], (found[1], found[2]))
        return found

    def _read_named(self, keys: list, token: str, phone: str, salts: tuple) -> list | object:
        """Lock and read with names made here under known salts; _STALE if Redis holds others.

        SET NX GET tells the lock is ours (Redis 7): it was free, or holds our token, taken
        by this very round trip before a retry (as the script does). The session's writers
        let the lock go last, so what is read after it is taken is whole.
        """
        lock, session_key, today, yesterday = keys
        names, key = salt.callers(salts, phone), self._key
        mine = names[0]
        read = ("MGET", session_key, today, yesterday, key("resume", mine), key("profile", mine),
                key("reports", mine), key("lookups", mine))  # fmt: skip
        repeat = [("HGETALL", key("repeat", mine))]
        if len(names) == 2:
            older = names[1]
            read += (key("resume", older), key("profile", older))
            repeat.append(("HGETALL", key("repeat", older)))
        commands = [("SET", lock, token, "NX", "PX", LOCK_MS, "GET"), read, *repeat]
        replies = self._round_trip(commands)
        if replies[0] is not None and replies[0] != token.encode():
            return None
        values = replies[1]
        if values[1] != salts[0] or values[2] != salts[1]:
            return _STALE  # the lock is ours: the script goes on with it
        session, resume, profile, reports, lookups = values[0], *values[3:7]
        r_which, p_which = int(resume is not None), int(profile is not None)
        if len(names) == 2:
            if resume is None and values[7] is not None:
                resume, r_which = values[7], 2
            if profile is None and values[8] is not None:
                profile, p_which = values[8], 2
        repeats = replies[2:] if len(names) == 2 else [replies[2], []]
        return [session, *salts, resume, r_which, profile, p_which, reports, lookups, *repeats]

    def _run_load(self, keys: list, args: list) -> list | None:
        """Run the LOAD script in one round trip; None when another hop holds the lock."""
        try:
            [found] = self._round_trip([("EVALSHA", LOAD_SHA, len(keys), *keys, *args)])
        except NoScriptError:
            # Redis restarted or flushed its scripts: EVAL sends it whole, and caches it again.
            [found] = self._round_trip([("EVAL", LOAD, len(keys), *keys, *args)])
        return found

    def _round_trip(self, commands: list[tuple]) -> list:
        """Send commands in one write down a pooled connection; return their replies.

        Every reply is read before the first error is raised, so that the connection
        goes back to the pool clean. A broken connection is retried as redis-py's own
        commands are (the client's Retry), on a fresh socket.
        """
        conn = self._connection()

        def attempt() -> list:
            # As the pool's check-out does: a Sentinel's connection asks where the primary
            # is (a write's own reconnection would not), and only if it lost its socket, so
            # the retry after a demoted primary's READONLY reaches the new one.
            conn.connect()
            redis_replies.kernel_timed(conn)
            return _exchange(conn, commands)

        try:
            return conn.retry.call_with_retry(attempt, lambda _error: conn.disconnect())
        finally:
            # Its replies all read, or it was disconnected (redis-py does on a failed read
            # or write): either way ready for the next round trip, which reconnects.
            self._kept.append(conn)

    def _connection(self):
        """Return a connection kept from an earlier round trip, or a new one from the pool.

        A kept one is dropped where the pool would not take it back: made before a fork,
        to a primary the sentinels have since replaced, or marked for reconnection.
        """
        pool = self.redis.connection_pool
        while True:
            try:
                conn = self._kept.pop()
            except IndexError:  # none kept, or another thread took the last
                return pool.get_connection()
            if conn.pid != _PID[0]:
                continue  # the parent's socket: the pool makes the child its own
            if pool.owns_connection(conn):
                if conn.should_reconnect():
                    conn.disconnect()
                return conn
            pool.release(conn)  # which disconnects it and counts it gone

    def release(self, session_id: str, loaded: Loaded) -> None:
        """Give a session's lock back without saving (a hop that failed or changed nothing)."""
        self._round_trip([("EVAL", RELEASE, 1, self._key("lock", session_id), loaded.token)])

    def peek(self, session_id: str) -> dict | None:
        """Return a session without its companions, or None."""
        return _decode(self.redis.get(self._key("session", session_id)))

    def forget_profile(self, phone: str) -> None:
        """Drop a phone's cached profile, so that its next hop reads the database, once it
        has written the steps the profile held (see FORGET)."""
        salts = salt.current(self.redis, self.prefix, self.tz)
        names = [self._key("profile", c) for c in salt.callers(salts, phone)]
        self.redis.eval(FORGET, len(names), *names, PENDING)

    def forget_caller(self, phone: str) -> None:
        """Drop a phone's cached profile and resume point: its contact was deleted, and the
        steps the profile held would write nothing (they need its rows)."""
        callers = salt.callers(salt.current(self.redis, self.prefix, self.tz), phone)
        self.redis.delete(*(self._key(kind, c) for c in callers for kind in ("profile", "resume")))

    def save(
        self,
        session_id: str,
        loaded: Loaded,
        session: dict,
        resume=UNCHANGED,
        profile=None,
        also=None,
        ttl: int | None = None,
        resume_ttl: int | None = None,
        together: list[tuple] = (),
    ) -> None:
        """Store a session and, if given, the resume point (None clears it) and profile,
        and give the session's lock back, in one round trip.

        also(pipe) adds commands of its own (a job to queue, a count) to the same
        round trip. ttl shortens the session's life (a sent report's last reply);
        resume_ttl, the resume point's (a report's answers). together holds commands
        kept with the save or not at all: the save becomes one transaction.
        """
        resume_key = self._key("resume", loaded.caller)
        value = _encode(session)
        commands = [("SET", self._key("session", session_id), value, "EX", ttl or self.session_ttl)]
        if loaded.stale:
            commands.append(("DEL", *loaded.stale))
            if resume is UNCHANGED and loaded.resume is not None:
                resume = loaded.resume  # moved under today's name
        if resume is None:
            # None was there as the hop began (most menus clear it): a DEL would be one
            # command of a navigation hop's six for nothing.
            if loaded.resume is not None:
                commands.append(("DEL", resume_key))
        elif resume is not UNCHANGED:
            commands.append(
                ("SET", resume_key, _encode(resume), "EX", resume_ttl or self.resume_ttl)
            )
        if profile is None and loaded.stale and loaded.profile is not None:
            profile = loaded.profile
        if profile is not None:
            commands.append(
                ("SET", self.profile_key(loaded), _encode(profile), "EX", PROFILE_TTL_S)
            )
        commands.append(("EVAL", RELEASE, 1, self._key("lock", session_id), loaded.token))
        commands[:0] = together
        if also is None:
            if not together:
                self._round_trip(commands)
                return
            # Packed too: redis-py's transaction tripled a lesson's save (90 µs more).
            for reply in self._round_trip([("MULTI",), *commands, ("EXEC",)])[-1]:
                if isinstance(reply, ResponseError):  # EXEC's own replies, as redis-py raises
                    raise reply
            return
        # RQ's jobs and the counts are queued on a redis-py pipeline, always a transaction:
        # a job is queued with its session or not at all, whatever also() queues first.
        pipe = self.redis.pipeline(transaction=True)
        also(pipe)
        for command in commands:
            pipe.execute_command(*command)
        pipe.execute()

    def profile_key(self, loaded: Loaded) -> str:
        """Return the key of the caller's cached profile, under today's salt."""
        return self._key("profile", loaded.caller)


def _exchange(conn, commands: list[tuple]) -> list:
    """Write commands at once on a redis-py connection; read all their replies, then raise
    the first error reply, if any (the connection is left clean)."""
    redis_replies.send(conn, b"".join([hiredis.pack_command(c) for c in commands]))
    replies = redis_replies.read(conn, len(commands))
    for reply in replies:
        if isinstance(reply, ResponseError):
            raise reply
    return replies


def _encode(value: dict) -> bytes | str:
    """Return a value as compact JSON: orjson's, a tenth of a navigation hop faster than json's."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # an integer over 64 bits: json keeps it (read back as a float)
        return json.dumps(value, separators=(",", ":"))


def _pairs(flat: list | dict) -> dict[str, str]:
    """Turn HGETALL's reply (a flat list from a script, a map in RESP3) into a dict of text."""
    if isinstance(flat, dict):
        return {name.decode(): value.decode() for name, value in flat.items()}
    return {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat) - 1, 2)}


def _decode(raw: bytes | None) -> dict | None:
    """Parse a stored JSON value; anything unreadable counts as absent."""
    if raw is None:
        return None
    try:
        value = orjson.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
