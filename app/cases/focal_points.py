"""Focal points: the supervisors and agents who receive an area's cases, and their PINs."""

import hashlib
import hmac
import secrets
from datetime import datetime

from redis import Redis
from sqlalchemy import Row, and_, bindparam, func, or_, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.infra.db import one_of
from app.infra.models import Case, CaseEvent, FocalArea, FocalPoint
from flows.desk import OPEN
from flows.report import REGIONS

ROLES = ("supervisor", "agent")
ALL = "all"  # an area covering every case, for a national supervisor
PIN_LENGTHS = range(4, 7)
MAX_TRIES = 5  # wrong PINs in a row before the desk locks
LOCK_S = 15 * 60
# The states in which a case still needs someone; "linked" rows live in their case.
DESK = (*OPEN, "unfounded")  # an unfounded case still waits for someone to close it
_SCRYPT = {"n": 2**13, "r": 8, "p": 1, "dklen": 32}  # ~10 ms: cheap for a hop, dear for a guess
REGION = "region:"  # an area naming a region; bare names are cercles (some share a name)


class FocalPointError(Exception):
    """A focal point that cannot be recorded; the message says why."""


def areas() -> set[str]:
    """Return every area a focal point may cover: cercles, "region:<name>" and "all"."""
    cercles = (cercle for names in REGIONS.values() for cercle in names)
    return {ALL, *(REGION + region for region in REGIONS), *cercles}


def valid_pin(pin: str) -> bool:
    """Tell whether pin is 4 to 6 digits."""
    return pin.isascii() and pin.isdigit() and len(pin) in PIN_LENGTHS


def hash_pin(pin: str) -> str:
    """Return a salted scrypt hash of a PIN, for storage."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def pin_matches(stored: str, pin: str) -> bool:
    """Tell whether pin is the one behind a stored hash."""
    try:
        _, salt, digest = stored.split("$")
        expected = bytes.fromhex(digest)
        given = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    except ValueError:
        return False
    return hmac.compare_digest(given, expected)


def add(
    db: Session, phone: str, area: str, role: str | None, pin: str | None
) -> tuple[FocalPoint, bool]:
    """Record that phone covers area in role; return it and whether it is new. Caller commits.

    A new focal point needs a PIN and is an agent unless told otherwise; an
    existing one keeps its PIN and role unless given new ones.
    """
    area = area.strip().lower()
    if area not in areas():
        raise FocalPointError(f"unknown area {area!r}: give a cercle, region:<region> or 'all'")
    point = find(db, phone)
    role = role or (point.role if point else "agent")
    if role not in ROLES:
        raise FocalPointError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if pin is not None and not valid_pin(pin):
        raise FocalPointError("the PIN must be 4 to 6 digits")
    created = point is None
    if created:
        if pin is None:
            raise FocalPointError("a new focal point needs a PIN")
        point = FocalPoint(phone=phone, role=role, pin_hash=hash_pin(pin))
        db.add(point)
        db.flush()
    else:
        point.role = role
        if pin is not None:
            point.pin_hash = hash_pin(pin)
    if area not in covered(db, point):
        db.add(FocalArea(focal_point_id=point.id, area=area))
    return point, created


def find(db: Session, phone: str) -> FocalPoint | None:
    """Return the focal point with this phone, or None."""
    return db.scalars(select(FocalPoint).where(FocalPoint.phone == phone)).first()


def covered(db: Session, point: FocalPoint) -> list[str]:
    """Return the areas a focal point covers."""
    query = select(FocalArea.area).where(FocalArea.focal_point_id == point.id)
    return sorted(db.scalars(query.order_by(FocalArea.area)))


def remove(db: Session, point: FocalPoint, now: datetime) -> int:
    """Forget a focal point and its areas; return how many open cases it let go. Caller commits.

    Its open cases become unassigned, in the audit log, so that no reminder
    keeps going to someone who has left.
    """
    held = select(Case).where(Case.assignee == point.phone, Case.status.in_(DESK))
    released = 0
    for case in db.scalars(held):
        db.add(CaseEvent(case_id=case.id, actor="focal-points", from_status=case.status,
                         to_status=case.status, note=f"unassigned: {point.phone} removed",
                         at=now))  # fmt: skip
        case.assignee, case.reminded_at, case.escalated_at = None, None, None
        released += 1
    for area in db.scalars(select(FocalArea).where(FocalArea.focal_point_id == point.id)):
        db.delete(area)
    db.delete(point)
    return released


def places(cercle: str | None, region: str | None) -> list[str]:
    """Return the areas that cover a place: everywhere, its cercle and its region."""
    return [ALL] + ([cercle] if cercle else []) + ([REGION + region] if region else [])


def covering(db: Session, case: Case, role: str | None = None) -> list[FocalPoint]:
    """Return the focal points whose areas include the case, optionally of one role."""
    query = (
        select(FocalPoint)
        .join(FocalArea, FocalArea.focal_point_id == FocalPoint.id)
        .where(FocalArea.area.in_(places(case.cercle, case.region)))
        .distinct()
        .order_by(FocalPoint.id)
    )
    if role:
        query = query.where(FocalPoint.role == role)
    return list(db.scalars(query))


_POINTS, _AREAS, _CASES = FocalPoint.__table__, FocalArea.__table__, Case.__table__
# Every focal point covering some areas, with the open cases each holds, by id.
_HELD = select(func.count()).where(
    _CASES.c.assignee == _POINTS.c.phone, one_of(_CASES.c.status, OPEN)
)
_COVERING = (
    select(_POINTS.c.id, _POINTS.c.phone, _POINTS.c.role, _HELD.scalar_subquery().label("load"))
    .where(_POINTS.c.id.in_(select(_AREAS.c.focal_point_id)
                            .where(_AREAS.c.area.in_(bindparam("v_areas", expanding=True)))))
    .order_by(_POINTS.c.id)
)  # fmt: skip


def covering_loads(conn: Connection, cercle: str | None, region: str | None) -> list[Row]:
    """Return the focal points covering a place, as (id, phone, role, open cases held)."""
    return conn.execute(_COVERING, {"v_areas": places(cercle, region)}).all()


def desk(db: Session, point: FocalPoint, limit: int = 30) -> list[Case]:
    """Return the open cases a focal point works on, urgent and oldest first."""
    query = _scope(db, point).order_by(Case.urgent.desc(), Case.created_at, Case.id)
    return list(db.scalars(query.limit(limit)))


def may_handle(db: Session, point: FocalPoint, case: Case) -> bool:
    """Tell whether a case is open and on this focal point's desk."""
    return db.scalars(_scope(db, point).where(Case.id == case.id)).first() is not None


def _scope(db: Session, point: FocalPoint):
    """Select the open cases on a desk.

    A supervisor sees every open case of their areas; an agent sees the cases
    given to them and those of their areas that nobody has yet.
    """
    places = covered(db, point)
    regions = [area.removeprefix(REGION) for area in places if area.startswith(REGION)]
    mine = or_(Case.cercle.in_(places), Case.region.in_(regions)) if ALL not in places else true()
    query = select(Case).where(Case.status.in_(DESK))
    if point.role == "supervisor":
        return query.where(mine)
    return query.where(or_(Case.assignee == point.phone, and_(Case.assignee.is_(None), mine)))


def role(db: Session, phone: str) -> str | None:
    """Return the focal role of a phone, or None for everyone else."""
    return db.scalars(select(FocalPoint.role).where(FocalPoint.phone == phone)).first()


def check_pin(redis: Redis, prefix: str, caller: str, point: FocalPoint | None, pin: str) -> dict:
    """Check a PIN against the lock; return {"result": ok|wrong|locked, "left": n, "wait": s}.

    Wrong PINs are counted in Redis under caller, the phone's name under the
    day's salt (app/salt.py), each resetting a 15-minute expiry; the fifth
    locks the desk for 15 minutes (tries while locked do not extend it).
    """
    key = f"{prefix}pin:{caller}"
    # Count the try before judging it: parallel tries cannot slip past the lock.
    pipe = redis.pipeline()
    pipe.incr(key)
    pipe.ttl(key)
    tries, ttl = pipe.execute()
    if tries > MAX_TRIES:
        return {"result": "locked", "left": 0, "wait": max(1, ttl)}
    if point is not None and pin_matches(point.pin_hash, pin):
        redis.delete(key)
        return {"result": "ok", "left": MAX_TRIES, "wait": 0}
    redis.expire(key, LOCK_S)
    if tries >= MAX_TRIES:
        return {"result": "locked", "left": 0, "wait": LOCK_S}
    return {"result": "wrong", "left": MAX_TRIES - tries, "wait": 0}


def pin_tries(redis: Redis, prefix: str, caller: str) -> dict:
    """Tell, spending no try, how many are left: {"result": unchecked|locked, ...}."""
    key = f"{prefix}pin:{caller}"
    pipe = redis.pipeline()
    pipe.get(key)
    pipe.ttl(key)
    tries, ttl = pipe.execute()
    tries = int(tries or 0)
    if tries >= MAX_TRIES:
        return {"result": "locked", "left": 0, "wait": max(1, ttl)}
    return {"result": "unchecked", "left": MAX_TRIES - tries, "wait": 0}
