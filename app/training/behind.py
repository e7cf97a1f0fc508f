"""A learner's steps written behind: the next lesson and a quiz answer, queued in Redis, then SQL.

A hop inside a module adds its step to the stream {prefix}progress in the round trip
that saves its session, and runs no SQL for it. The clock (workers/progress.py) reads
the stream as a consumer of one group, writes a batch in one transaction, then
acknowledges and deletes its entries: the stream holds exactly what SQL may still lack.
Writing an entry again changes nothing: a row moves only to a step past the count it holds
(ModuleProgress.step), and the first answer per question and attempt is the one kept.
"""

import logging
from datetime import datetime

from redis import Redis
from redis.exceptions import ResponseError
from sqlalchemy import Boolean, Integer, String, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DataError, IntegrityError

from app.infra import sessions
from app.infra.models import ModuleProgress, QuizAnswer, UTCDateTime

FIELD = sessions.PENDING  # in the cached profile: the steps it counts that SQL may lack yet
# Past this many, a step takes the full path, which writes them all: the cached profile,
# read on every hop, stays small. A module is 11 steps after its first lesson.
CAP = 16
GROUP = "sql"
BATCH = 200
# An entry a consumer has held this long unacknowledged is taken over: that consumer died
# (or is stuck), and writing an entry twice is harmless.
CLAIM_IDLE_MS = 30_000
FORGET_IDLE_MS = 3600_000  # a consumer holding nothing, silent for an hour, is forgotten

log = logging.getLogger(__name__)


def key(prefix: str) -> str:
    """Return the name of the stream of steps."""
    return f"{prefix}progress"


def place(contact: int, module: str, step: int, position: str, status: str,
          now: datetime) -> dict:  # fmt: skip
    """Return the entry for a lesson reached (or the quiz entered) in a module, its step-th."""
    return {"contact": contact, "module": module, "step": step, "position": position,
            "status": status, "at": now.isoformat()}  # fmt: skip


def answer(contact: int, module: str, step: int, attempt: int, question: str, choice: int,
           correct: bool, now: datetime) -> dict:  # fmt: skip
    """Return the entry for one quiz answer (it also moves the module's row to the quiz)."""
    return {**place(contact, module, step, "q", "started", now), "attempt": attempt,
            "question": question, "choice": choice, "correct": correct}  # fmt: skip


def commands(prefix: str, entries) -> list[tuple]:
    """Return the XADD of each entry, for a hop's save to run in its transaction
    (SessionStore.save's together): the steps and the cached profile that counts them
    are kept together or not at all."""
    stream = key(prefix)
    out = []
    for entry in entries:
        fields = []
        for name, value in entry.items():
            fields += (name, str(int(value) if isinstance(value, bool) else value))
        out.append(("XADD", stream, "*", *fields))
    return out


_PROGRESS, _ANSWERS = ModuleProgress.__table__, QuizAnswer.__table__
_AT = bindparam("v_at", type_=UTCDateTime())
_ROW = and_(
    _PROGRESS.c.contact_id == bindparam("v_contact"), _PROGRESS.c.module == bindparam("v_module")
)
_STEP = bindparam("v_step", type_=Integer())
# Only to a step past the row's count: an entry written again, or after a later one (the
# full path, another consumer), leaves it be. The count is the hops' own, kept in the
# cached profile: no node's clock decides. An entry queued by the release before, which
# has no count, is ordered by its time as then. A lesson keeps the row's attempt.
_LATER = or_(_PROGRESS.c.step < _STEP, and_(_STEP.is_(None), _PROGRESS.c.updated_at <= _AT))
_MOVE = (
    update(_PROGRESS)
    .where(_ROW, _LATER)
    .values(position=bindparam("v_position"), status=bindparam("v_status"),
            attempt=func.coalesce(bindparam("v_attempt", type_=Integer()), _PROGRESS.c.attempt),
            step=func.coalesce(_STEP, _PROGRESS.c.step), updated_at=_AT)
)  # fmt: skip
# An answer is kept while its module's row exists, however old: a contact erased since
# gets none back. The first per question and attempt counts.
_ANSWER_ROW = select(
    _PROGRESS.c.contact_id,
    bindparam("v_module", type_=String()),
    bindparam("v_question", type_=String()),
    bindparam("v_attempt", type_=Integer()),
    bindparam("v_choice", type_=Integer()),
    bindparam("v_correct", type_=Boolean()),
    _AT,
).where(_ROW)
_COLUMNS = ("contact_id", "module", "question", "attempt", "choice", "correct", "answered_at")
_KEEP = {
    name: dialect.insert(_ANSWERS)
    .from_select(_COLUMNS, _ANSWER_ROW)
    .on_conflict_do_nothing(index_elements=["contact_id", "question", "attempt"])
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def write(conn: Connection, entries) -> None:
    """Write steps, in their order, in the caller's transaction."""
    _run(conn, [_params(entry) for entry in entries or ()])


def _params(entry: dict) -> dict:
    """Return a step's statement parameters; KeyError, ValueError or TypeError if malformed."""
    step = {"v_contact": int(entry["contact"]), "v_module": str(entry["module"]),
            "v_position": str(entry["position"]), "v_status": str(entry["status"]),
            "v_attempt": None, "v_at": datetime.fromisoformat(entry["at"]),
            "v_step": int(entry["step"]) if "step" in entry else None,
            "v_question": None}  # fmt: skip
    if "question" in entry:
        step.update(v_attempt=int(entry["attempt"]), v_question=str(entry["question"]),
                    v_choice=int(entry["choice"]),
                    v_correct=entry["correct"] in (True, "1"))  # fmt: skip
    return step


def _run(conn: Connection, steps: list[dict]) -> None:
    """Move the rows, then keep the answers: each statement sent once for all (executemany)."""
    if steps:
        conn.execute(_MOVE, steps)
    answers = [step for step in steps if step["v_question"] is not None]
    if answers:
        conn.execute(_KEEP[conn.dialect.name], answers)


def drain(redis: Redis, prefix: str, engine: Engine, consumer: str, **options) -> int:
    """Write every step waiting in the stream to SQL; return how many entries were handled."""
    done = 0
    while handled := drain_once(redis, prefix, engine, consumer, **options):
        done += handled
    return done


def drain_once(redis: Redis, prefix: str, engine: Engine, consumer: str, block_ms=None,
               idle_ms: int = CLAIM_IDLE_MS, count: int = BATCH) -> int:  # fmt: skip
    """Write one batch: this consumer's unacknowledged entries first, then any a dead one
    left for idle_ms, then new ones (waiting up to block_ms); return how many were handled.

    Entries are acknowledged and deleted only once their transaction is committed.
    """
    name = key(prefix)
    try:
        batch = _read(redis, name, consumer, block_ms, idle_ms, count)
    except ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        # A new stream, or one a Redis without persistence lost: from its first entry.
        try:
            redis.xgroup_create(name, GROUP, id="0", mkstream=True)
        except ResponseError as again:
            if "BUSYGROUP" not in str(again):
                raise
        batch = _read(redis, name, consumer, block_ms, idle_ms, count)
    if not batch:
        return 0
    steps = []
    for entry_id, fields in batch:
        if not fields:  # deleted meanwhile: written by whoever deleted it
            continue
        try:
            steps.append(_params({k.decode(): v.decode() for k, v in fields.items()}))
        except (KeyError, ValueError, TypeError):  # never written by this release
            log.error("training step %s is unreadable and was dropped", entry_id.decode())
    try:
        with engine.begin() as conn:
            _run(conn, steps)
    except (IntegrityError, DataError):
        # One step the database refuses must not hold up the others: each on its own.
        for step in steps:
            try:
                with engine.begin() as conn:
                    _run(conn, [step])
            except (IntegrityError, DataError):
                log.exception("a training step was refused by the database and dropped")
    ids = [entry_id for entry_id, _ in batch]
    pipe = redis.pipeline(transaction=True)
    pipe.xack(name, GROUP, *ids)
    pipe.xdel(name, *ids)
    pipe.execute()
    return len(ids)


def _read(redis: Redis, name: str, consumer: str, block_ms, idle_ms: int, count: int) -> list:
    """Return the next batch of (id, fields) this consumer should write, or []."""
    own = redis.xreadgroup(GROUP, consumer, {name: "0"}, count=count)  # a write that failed
    if own and own[0][1]:
        return own[0][1]
    claimed = redis.xautoclaim(name, GROUP, consumer, idle_ms, count=count)
    if claimed[1]:
        return claimed[1]
    new = redis.xreadgroup(GROUP, consumer, {name: ">"}, count=count, block=block_ms)
    return new[0][1] if new else []


def forget_consumers(redis: Redis, prefix: str, keep: str, idle_ms: int = FORGET_IDLE_MS) -> int:
    """Forget the group's consumers that hold nothing and were silent for idle_ms (clocks
    restarted since), but keep; return how many."""
    try:
        consumers = redis.xinfo_consumers(key(prefix), GROUP)
    except ResponseError:  # no stream or no group yet: nobody to forget
        return 0
    mine = keep.encode()
    gone = [c["name"] for c in consumers
            if c["pending"] == 0 and c["idle"] > idle_ms and c["name"] != mine]  # fmt: skip
    for name in gone:
        redis.xgroup_delconsumer(key(prefix), GROUP, name)
    return len(gone)
