"""USSD session state in Redis: JSON values under namespaced keys, with TTLs.

Each hop costs two round trips: one pipelined read of the session, the
caller's resume point and cached profile; one pipelined write of the same.
"""

import json

from flask import Flask
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

UNCHANGED = object()  # leave the resume point as it is
PROFILE_TTL_S = 24 * 3600


def connect(url: str) -> Redis:
    """Create a Redis client that fails fast: a USSD hop cannot wait."""
    return Redis.from_url(
        url,
        socket_timeout=1,
        socket_connect_timeout=1,
        # One quick retry reconnects after a Redis restart without a user noticing.
        retry=Retry(NoBackoff(), 1),
    )


class SessionStore:
    """Load and save USSD sessions, resume points and cached profiles."""

    def __init__(self, redis: Redis, prefix: str, session_ttl: int, resume_ttl: int):
        self.redis = redis
        self.prefix = prefix
        self.session_ttl = session_ttl
        self.resume_ttl = resume_ttl

    def _keys(self, session_id: str, phone: str) -> tuple[str, str, str]:
        p = self.prefix
        return f"{p}session:{session_id}", f"{p}resume:{phone}", f"{p}profile:{phone}"

    def load(self, session_id: str, phone: str) -> tuple[dict | None, dict | None, dict | None]:
        """Return (session, resume point, profile) in one round trip."""
        return tuple(_decode(raw) for raw in self.redis.mget(self._keys(session_id, phone)))

    def peek(self, session_id: str) -> dict | None:
        """Return a session without its companions, or None."""
        return _decode(self.redis.get(self._keys(session_id, "")[0]))

    def forget_profile(self, phone: str) -> None:
        """Drop a phone's cached profile, so that its next hop reads the database."""
        self.redis.delete(self._keys("", phone)[2])

    def save(
        self, session_id: str, phone: str, session: dict, resume=UNCHANGED, profile=None, also=None
    ) -> None:
        """Store a session and, if given, the resume point (None clears it) and profile.

        also(pipe) adds commands of its own (a job to queue) to the same round trip.
        """
        session_key, resume_key, profile_key = self._keys(session_id, phone)
        value = json.dumps(session, separators=(",", ":"))
        if resume is UNCHANGED and profile is None and also is None:  # most hops: one command
            self.redis.set(session_key, value, ex=self.session_ttl)
            return
        pipe = self.redis.pipeline(transaction=False)
        if also is not None:
            also(pipe)  # first: it may turn the pipeline into a transaction
        pipe.set(session_key, value, ex=self.session_ttl)
        if resume is None:
            pipe.delete(resume_key)
        elif resume is not UNCHANGED:
            pipe.set(resume_key, json.dumps(resume, separators=(",", ":")), ex=self.resume_ttl)
        if profile is not None:
            pipe.set(profile_key, json.dumps(profile, separators=(",", ":")), ex=PROFILE_TTL_S)
        pipe.execute()


def _decode(raw: bytes | None) -> dict | None:
    """Parse a stored JSON value; anything unreadable counts as absent."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def init_app(app: Flask) -> None:
    """Create the app's Redis client and session store."""
    redis = connect(app.config["REDIS_URL"])
    app.extensions["redis"] = redis
    app.extensions["sessions"] = SessionStore(
        redis, app.config["REDIS_PREFIX"], app.config["SESSION_TTL_S"], app.config["RESUME_TTL_S"]
    )
