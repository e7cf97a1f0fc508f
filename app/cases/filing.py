"""Filing a report in SQL Core: a case opened, joined to an open one, or a repeat noted.

The rows are the ones the ORM wrote before (app/cases.file_report is this on a Session's
connection); the statements are fewer: one read of the cases, one of the focal points
with their loads (for a case opened), then the writes. On PostgreSQL the writes of a case
opened, or of a report joining a case without making it urgent, are one statement (the
case, its log, its SMS and the count, as CTEs); elsewhere, one statement a table.
"""

import hashlib
from collections import namedtuple
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import (
    Integer,
    Row,
    Select,
    String,
    and_,
    bindparam,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import case as sql_case
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from app.cases import abuse, alerts, focal_points
from app.infra import keyring
from app.infra.db import Listed, one_of
from app.infra.folding import name_key
from app.infra.models import UNKEYED, Case, CaseEvent, Message, hour_of
from app.messaging import outbox
from flows import Catalog
from flows.desk import OPEN, TO_VERIFY

VERIFY_H, VERIFY_URGENT_H = 72, 24
_CASES, _EVENTS = Case.__table__, CaseEvent.__table__
# Built once, the rows given as parameters: compiled once, and a list of rows goes in one
# statement (SQLAlchemy's insertmanyvalues).
_OPEN, _LOG = insert(_CASES).returning(*_CASES.c), insert(_EVENTS)
_ASKED = ("sector", "region", "cercle", "children", "age", "sex", "school", "hazard")


class ReferenceTaken(Exception):
    """Another report was filed under this reference after it was drawn: file it again."""


def file(conn: Connection, config: Mapping, catalog: Catalog, phone: str, reference: str,
         answers: dict, now: datetime) -> tuple[int, bool]:  # fmt: skip
    """File a report; return the id of the case that will be worked on and whether it is new.

    See app/cases.file_report: the same rows, in the connection's transaction.
    """
    now = hour_of(now)
    urgent, contactable = bool(answers.get("urgent")), bool(answers.get("contactable"))
    case = {
        "reference": reference, "status": "new", "urgent": urgent,
        **{name: answers.get(name) for name in _ASKED}, "place": answers.get("place") or None,
        "place_key": site_key(answers.get("place")),
        "contactable": contactable,
        "reporter_phone": keyring.encrypt(phone, config["REPORTER_KEY"]) if contactable else None,
        "verify_by": now + timedelta(hours=VERIFY_URGENT_H if urgent else VERIFY_H),
        "created_at": now, "reports": 1, "follow_ups": 0,
    }  # fmt: skip
    window = timedelta(days=config["CASE_LINK_WINDOW_DAYS"])
    found = _found(conn, case, now - window)
    known = next((row for row in found if row.reference == reference), None)
    if known is not None:
        return _repeat(conn, known, answers, reference, now), False
    host = found[0] if found else None
    if host is not None:
        case.update(status="linked", linked_to=host.id, verify_by=None)
        return _join(conn, config, catalog, case, host, phone, answers, now), True
    points = focal_points.covering_loads(conn, case["cercle"], case["region"])
    agent = alerts.least_loaded(points)
    case["assignee"] = agent
    # Given to its agent as it is written: the log says so, after the report's own line.
    events = [_event(None, "report", None, "new", None, None, now)]
    if agent is not None:
        events.append(_event(None, "routing", "new", "new", "assigned", agent, now))
    if conn.dialect.name == "postgresql":
        # The alerts read only what is written: the case as it will be, unread.
        written = _Written._make(case.get(name) for name in _Written._fields)
        sms = alerts.alert_rows(config, catalog, written, points, now)
        sms += _receipt(config, catalog, phone, reference, answers)
        return conn.execute(*_opening(case, events, sms)).scalar_one(), True
    opened = conn.execute(_OPEN, case).one()
    conn.execute(_LOG, [{**event, "case_id": opened.id} for event in events])
    texts = alerts.alert_rows(config, catalog, opened, points, now)
    outbox.insert(conn, texts + _receipt(config, catalog, phone, reference, answers))
    return opened.id, True


_MINE = _CASES.c.reference == bindparam("v_reference")
_BY_REFERENCE = select(_CASES).where(_MINE)


def _same_site(sector):
    """Select this reference's case and the open cases about the same site, oldest first."""
    return select(_CASES).where(or_(_MINE, and_(
        _CASES.c.cercle == bindparam("v_cercle"), sector, one_of(_CASES.c.status, OPEN),
        _CASES.c.linked_to.is_(None), _CASES.c.place_key == bindparam("v_place_key"),
        _CASES.c.created_at >= bindparam("v_since"),
    ))).order_by(_CASES.c.id)  # fmt: skip


# A sector compared with "=", which the index on (cercle, sector, status) serves; none, by IS.
_SAME_SITE = _same_site(_CASES.c.sector == bindparam("v_sector"))
_SAME_SITE_NO_SECTOR = _same_site(_CASES.c.sector.is_(None))


def site_key(place: str | None) -> str | None:
    """Return what a site's name is compared by: lower case, without accents or extra spaces.

    Kept with the case, made here: the databases' lower() differ (SQLite's lowers A to Z
    only, and so does PostgreSQL's under the C locale), and callers type a name in capitals,
    with its accents or without them ("SEGOU", "Ségou").
    """
    key = name_key(place)
    return key and key[: _CASES.c.place_key.type.length]


# A case without its site's key was filed by a release before migration 0025, still
# running beside this one while it was deployed: no later report would find it.
# Its WHERE is ix_cases_unkeyed's own, which the query then reads.
_UNKEYED = select(_CASES.c.id, _CASES.c.place).where(UNKEYED).order_by(_CASES.c.id).limit(500)


def rekey(conn: Connection) -> int:
    """Give the cases filed without their site's key that key (a blank name gets "", which
    nothing matches); return how many. The tick calls it: none, most of the time."""
    rows = conn.execute(_UNKEYED).all()
    if rows:
        keys = {id_: site_key(place) or "" for id_, place in rows}
        conn.execute(
            update(_CASES)
            .where(_CASES.c.id.in_(list(keys)))
            .values(place_key=sql_case(keys, value=_CASES.c.id))
        )
    return len(rows)


def _found(conn: Connection, case: dict, since: datetime) -> list[Row]:
    """Return the case filed under this reference, and the open ones this report may join.

    A report without a known cercle or a site name joins none: "somewhere in Kadiolo"
    may be any of its sites. The oldest open case about the same site comes first.
    """
    if not case["cercle"] or case["cercle"] == "unknown" or not case["place_key"]:
        return conn.execute(_BY_REFERENCE, {"v_reference": case["reference"]}).all()
    _hold_site(conn, case)
    same_site = _SAME_SITE if case["sector"] is not None else _SAME_SITE_NO_SECTOR
    return conn.execute(same_site, {
        "v_reference": case["reference"], "v_cercle": case["cercle"], "v_sector": case["sector"],
        "v_place_key": case["place_key"], "v_since": since,
    }).all()  # fmt: skip


# Two reports about one site filed at the same moment each read "no open case" and opened
# two: the second now waits at this lock until the first's transaction ends, then reads
# the case it opened. A lock a site, of the transaction (PgBouncer's transaction pooling
# keeps it); two int4 keys, a space of their own beside any bigint-keyed lock.
_SITE_LOCKS = 0x4B434153  # "KCAS"
# It waits 2 s at most (a filing takes milliseconds): one stuck behind a stalled transaction
# fails the hop, whose caller resumes at "Envoyer", rather than hold its pooled connection
# past the gateway's patience. The rest of the transaction's locks wait no longer either.
SITE_WAIT = "2s"
# The wait is set in the WHERE, which PostgreSQL checks before it takes the lock: no round
# trip of its own.
_HOLD_SITE = select(
    func.pg_advisory_xact_lock(_SITE_LOCKS, bindparam("v_site", type_=Integer))
).where(func.set_config("lock_timeout", SITE_WAIT, True) == SITE_WAIT)
# SQLite has one writer at a time: a write that changes nothing takes its lock for the
# rest of the transaction, so the read that follows sees every report filed before.
_HOLD_WRITES = update(_CASES).where(false()).values(id=_CASES.c.id)


def _hold_site(conn: Connection, case: dict) -> None:
    """Wait until no other transaction is filing a report about this case's site."""
    if conn.dialect.name != "postgresql":
        conn.execute(_HOLD_WRITES)
        return
    site = "\x1f".join((case["cercle"], case["sector"] or "", case["place_key"]))
    key = int.from_bytes(hashlib.blake2b(site.encode(), digest_size=4).digest(), "big", signed=True)
    conn.execute(_HOLD_SITE, {"v_site": key})


def _repeat(conn: Connection, known: Row, answers: dict, reference: str, now) -> int:
    """Note a report sent again by its reporter in the case it belongs to; return its id."""
    if not abuse.same(answers, {name: getattr(known, name) for name in abuse.SAME}):
        # Drawn free, then taken by a report sent at the same moment: filing this one as
        # a repeat of it would lose it. The hop fails and the caller, who resumes at
        # Envoyer, gets a reference of their own.
        raise ReferenceTaken(reference)
    # The reference they were shown is the first one's (abuse.repeat_of): nothing is opened.
    host = known
    if known.linked_to:
        host = conn.execute(select(_CASES).where(_CASES.c.id == known.linked_to)).one()
    note = f"same report sent again by its reporter ({reference})"
    logged = _event(host.id, "report", host.status, host.status, note, host.assignee, now)
    conn.execute(_LOG, logged)
    return host.id


def _join(conn: Connection, config: Mapping, catalog: Catalog, case: dict, host: Row,
          phone: str, answers: dict, now: datetime) -> int:  # fmt: skip
    """Keep a report inside the open case about the same site; return that case's id."""
    note = f"report {case['reference']} about the same place"
    events = [  # the first one the joined report's, written with it
        _event(None, "report", None, "linked", f"linked to {host.reference}", None, now),
        _event(host.id, "report", host.status, host.status, note, host.assignee, now),
    ]
    if conn.dialect.name == "postgresql" and not case["urgent"]:
        # Nothing of the case is read back: the report, its log, the count and the receipt
        # in one statement.
        receipt = _receipt(config, catalog, phone, case["reference"], answers)
        conn.execute(*_opening(case, events, receipt, joined=host.id))
        return host.id
    linked = conn.execute(_OPEN, case).one().id
    conn.execute(_LOG, [{**event, "case_id": event["case_id"] or linked} for event in events])
    # Counted in SQL: two reports about one site may arrive at once.
    more = {"reports": _CASES.c.reports + 1}
    if case["urgent"]:
        # A child in immediate danger there now: the case becomes urgent, and its focal
        # points hear of it at once, whatever it was before.
        more["urgent"] = True
        due = now + timedelta(hours=VERIFY_URGENT_H)
        if host.status in TO_VERIFY and (host.verify_by or due) >= due:
            more.update(verify_by=due, reminded_at=None, escalated_at=None)
    moved = update(_CASES).where(_CASES.c.id == host.id).values(more).returning(*_CASES.c)
    host = conn.execute(moved).one()
    texts = []
    if case["urgent"]:
        points = focal_points.covering_loads(conn, host.cercle, host.region)
        texts = alerts.alert_rows(config, catalog, host, points, now, linked=case["reference"])
    outbox.insert(conn, texts + _receipt(config, catalog, phone, case["reference"], answers))
    return host.id


# A case as the alerts may read it, before it has an id: the columns not written are None.
_Written = namedtuple("_Written", [column.name for column in _CASES.c])
_MESSAGES = Message.__table__
_LOGGED = ("actor", "from_status", "to_status", "note", "assignee", "at")  # all but case_id
# One statement a shape (the case's fields, the SMS's, whether it joins a case), built
# once each: a case, its log and its SMS written together, where there were three
# statements or four. The log and the SMS go as arrays, a parameter a column: psycopg
# parses a statement of over 50 parameters anew at every run, which cost more than the
# statements saved.
_OPENINGS: dict[tuple, Select] = {}


def _opening(case: dict, events: list[dict], sms: list[dict], joined: int | None = None):
    """Return the statement that writes a report's case (PostgreSQL), its log (an event
    without a case_id is the new case's), its SMS and one more report counted in the case
    it joined, if it did; and the statement's values."""
    shape = (tuple(case), tuple(sms[0]) if sms else (), joined is not None)
    statement = _OPENINGS.get(shape)
    if statement is None:
        statement = _OPENINGS[shape] = _built(*shape)
    values = {f"c_{name}": value for name, value in case.items()}
    for prefix, rows, names in (("e", events, ("case_id", *_LOGGED)), ("m", sms, shape[1])):
        values.update((f"{prefix}_{name}", [row[name] for row in rows]) for name in names)
    if joined is not None:
        values["v_joined"] = joined
    return statement, values


def _built(fields, sms_fields, joins: bool) -> Select:
    """Build the statement of _opening for one shape, its values as named parameters."""

    def unnested(table, prefix: str, names):
        # Each array bound as one literal (db.Listed): psycopg would dump it element by element.
        arrays = [bindparam(f"{prefix}_{name}", type_=Listed(_unbounded(table.c[name])))
                  for name in names]  # fmt: skip
        # Numbered: rows are given their ids in the arrays' order (ORDER BY n below).
        return func.unnest(*arrays).table_valued(*names, with_ordinality="n").render_derived()

    one = {name: bindparam(f"c_{name}", type_=_CASES.c[name].type) for name in fields}
    opened = insert(_CASES).values(one).returning(_CASES.c.id).cte("opened")
    log = unnested(_EVENTS, "e", ("case_id", *_LOGGED))
    # In the arrays' order: the new case's lines first, as they were written before.
    lines = select(func.coalesce(log.c.case_id, opened.c.id), *(log.c[name] for name in _LOGGED))
    logged = insert(_EVENTS).from_select(
        ["case_id", *_LOGGED], lines.select_from(opened.join(log, true())).order_by(log.c.n)
    )
    statement = select(opened.c.id).add_cte(logged.cte("logged"))
    if sms_fields:
        # As outbox.insert adds them: a key already there is skipped.
        texts = unnested(_MESSAGES, "m", sms_fields)
        sent = postgresql.insert(_MESSAGES).from_select(
            list(sms_fields), select(*(texts.c[name] for name in sms_fields)).order_by(texts.c.n)
        )
        statement = statement.add_cte(
            sent.on_conflict_do_nothing(index_elements=["key"]).cte("sent")
        )
    if joins:
        # Counted in SQL: two reports about one site may arrive at once.
        counted = update(_CASES).where(_CASES.c.id == bindparam("v_joined"))
        statement = statement.add_cte(counted.values(reports=_CASES.c.reports + 1).cte("counted"))
    return statement


def _unbounded(column):
    """Return a column's type, a string's without its length: a cast to VARCHAR(16) cuts
    what is longer, where the insert of it would fail, as the other inserts do."""
    return String() if isinstance(column.type, String) else column.type


def _receipt(config: Mapping, catalog: Catalog, phone: str, reference: str, answers) -> list:
    """Return the reporter's receipt, if they may be called and asked for one."""
    if not (answers.get("contactable") and answers.get("receipt")):
        return []
    text = catalog.get("sms.receipt", reference=reference, code=config["USSD_CODE"])
    # Keyed by the reference alone: the key outlives the message.
    return [outbox.row(config, "receipt", reference, phone, text, key=f"receipt:{reference}")]


def _event(case_id: int, actor: str, before, after: str, note, assignee, at) -> dict:
    return {"case_id": case_id, "actor": actor, "from_status": before, "to_status": after,
            "note": note, "assignee": assignee, "at": at}  # fmt: skip
