"""Filing reports in SQL Core: the rows a run of reports leaves, and the statements each takes."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.exc import OperationalError

from app.cases import filing, focal_points
from app.infra.models import Case, CaseEvent, Message
from workers import jobs

AGENT, AGENT_2, SUPERVISOR = "+22370200001", "+22370200002", "+22370200011"
T0 = datetime(2025, 3, 10, 10, 20, tzinfo=UTC)  # a Monday morning in Bamako: SMS go at once
HOUR = timedelta(hours=1)
N = T0.replace(minute=0)  # the times kept are the hour's


def answers(**changes) -> dict:
    """A calm, anonymous report about a mining site in Kadiolo, with some answers changed."""
    return {"urgent": False, "sector": "mining", "region": "sikasso", "cercle": "kadiolo",
            "place": "Massiogo", "children": "few", "age": "13to14", "sex": "girls",
            "school": "no", "hazard": "pits", "contactable": False, "receipt": False,
            **changes}  # fmt: skip


# Filed one after the other, an hour apart: (reference, answers, the case it goes to, whether
# it is new, the statements it takes: on SQLite, and on PostgreSQL, where a report is
# written with its log, its SMS and the count of the case it joins in one, unless it makes
# that case urgent). A report naming its site first holds that site (one statement more).
# None as a reference: the first case is reminded.
STEPS = {
    "a new case, routed, with a receipt": (
        "100001", answers(contactable=True, receipt=True), "100001", True, (6, 4)),
    "another site: the other agent": ("100002", answers(place="Kalana"), "100002", True, (6, 4)),
    "the same site: joined": ("100003", answers(place="massiogo"), "100001", True, (5, 3)),
    "the first case is reminded": (None, None, None, None, (0, 0)),
    "the same site, urgent: it becomes urgent, due sooner": (
        "100004", answers(urgent=True, contactable=True), "100001", True, (7, 7)),
    "sent again: noted, no second receipt": (
        "100001", answers(contactable=True, receipt=True), "100001", False, (3, 3)),
    "a joined report sent again: noted in its case": (
        "100003", answers(place="massiogo"), "100001", False, (4, 4)),
    "no site name: joins nothing": ("100005", answers(place=None), "100005", True, (5, 3)),
}  # fmt: skip


def test_a_run_of_reports_leaves_the_rows_and_takes_few_statements(app):
    """Cases, their log and their SMS, as the ORM wrote them; one insert per table."""
    with app.extensions["db"]() as db:
        for phone, area, role in ((AGENT, "kadiolo", "agent"), (AGENT_2, "kadiolo", "agent"),
                                  (SUPERVISOR, "all", "supervisor")):  # fmt: skip
            focal_points.add(db, phone, area, role, "4821")
        db.commit()
    engine, catalog, statements, went = app.extensions["engine"], app.extensions["catalog"], [], []
    postgres = engine.dialect.name == "postgresql"

    def count(*_):
        statements.append(1)

    for n, (reference, sent, _, _, _) in enumerate(STEPS.values()):
        with engine.begin() as conn:
            if reference is None:
                at = N + n * HOUR
                conn.execute(update(Case).where(Case.reference == "100001")
                             .values(reminded_at=at, escalated_at=at))  # fmt: skip
                continue
            statements.clear()
            event.listen(engine, "before_cursor_execute", count)
            try:
                case_id, new = filing.file(conn, app.config, catalog, f"+2237600000{n}",
                                           reference, sent, T0 + n * HOUR)  # fmt: skip
            finally:
                event.remove(engine, "before_cursor_execute", count)
            case = conn.execute(select(Case.reference).where(Case.id == case_id)).scalar()
            went.append((case, new, len(statements)))
    assert went == [(case, new, counts[postgres]) for reference, _, case, new, counts
                    in STEPS.values() if reference is not None]  # fmt: skip
    with app.extensions["db"]() as db:
        cases = {c.id: c for c in db.scalars(select(Case))}
        kept = [(c.reference, c.status, c.urgent, c.linked_to and cases[c.linked_to].reference,
                 c.reports, c.assignee, c.verify_by, c.reminded_at, c.escalated_at,
                 c.reporter_phone is not None) for c in cases.values()]  # fmt: skip
        events = db.scalars(select(CaseEvent).order_by(CaseEvent.id))
        log = [(cases[e.case_id].reference, e.actor, e.from_status, e.to_status, e.note,
                e.assignee, e.at) for e in events]  # fmt: skip
        sms = [
            (m.key, m.urgent, m.not_before)
            for m in db.scalars(select(Message).order_by(Message.id))
        ]
    assert sorted(kept) == [
        # Urgent since the fourth report (at 4 h), due 24 h later: the reminder starts over.
        ("100001", "new", True, None, 3, AGENT, N + 28 * HOUR, None, None, True),
        ("100002", "new", False, None, 1, AGENT_2, N + 73 * HOUR, None, None, False),
        ("100003", "linked", False, "100001", 1, None, None, None, None, False),
        ("100004", "linked", True, "100001", 1, None, None, None, None, True),
        ("100005", "new", False, None, 1, AGENT, N + 79 * HOUR, None, None, False),
    ]
    assert log == [
        ("100001", "report", None, "new", None, None, N),
        ("100001", "routing", "new", "new", "assigned", AGENT, N),
        ("100002", "report", None, "new", None, None, N + HOUR),
        ("100002", "routing", "new", "new", "assigned", AGENT_2, N + HOUR),
        ("100003", "report", None, "linked", "linked to 100001", None, N + 2 * HOUR),
        ("100001", "report", "new", "new", "report 100003 about the same place", AGENT,
         N + 2 * HOUR),
        ("100004", "report", None, "linked", "linked to 100001", None, N + 4 * HOUR),
        ("100001", "report", "new", "new", "report 100004 about the same place", AGENT,
         N + 4 * HOUR),
        ("100001", "report", "new", "new", "same report sent again by its reporter (100001)",
         AGENT, N + 5 * HOUR),
        ("100001", "report", "new", "new", "same report sent again by its reporter (100003)",
         AGENT, N + 6 * HOUR),
        ("100005", "report", None, "new", None, None, N + 7 * HOUR),
        ("100005", "routing", "new", "new", "assigned", AGENT, N + 7 * HOUR),  # the first on a tie
    ]  # fmt: skip
    everyone = (AGENT, AGENT_2, SUPERVISOR)
    alerts = [(f"case_alert:{subject}:{phone}", urgent, N + hours * HOUR)
              for subject, urgent, hours in (("100001-n", False, 0), ("100002-n", False, 1),
                                             ("100001-u-100004", True, 4), ("100005-n", False, 7))
              for phone in everyone]  # fmt: skip
    assert [key for key, _, _ in sms] == [
        *(key for key, _, _ in alerts[:3]),
        "receipt:100001",
        *(key for key, _, _ in alerts[3:]),
    ]
    assert [row for row in sms if row[0] != "receipt:100001"] == alerts


def test_a_report_filed_after_another_sends_statements_compiled_once(app):
    """Each statement of a filing is SQLAlchemy's cached compilation, and psycopg's: none
    is built anew, none parsed anew (psycopg caches statements of 50 parameters and 4096
    characters at most)."""
    from sqlalchemy.engine.default import CacheStats

    with app.extensions["db"]() as db:
        focal_points.add(db, AGENT, "kadiolo", "agent", "4821")
        focal_points.add(db, SUPERVISOR, "all", "supervisor", "4821")
        db.commit()
    engine, catalog, seen = app.extensions["engine"], app.extensions["catalog"], []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((context.cache_hit, len(parameters) <= 50 and len(statement) <= 4096))

    # Each shape filed once (opened, opened with a receipt, joined), then again, watched.
    shapes = (answers(), answers(place="Kalana", contactable=True, receipt=True),
              answers(place="massiogo"))  # fmt: skip
    for n, sent in enumerate((*shapes, answers(place="Fourou"), answers(place="MASSIOGO"))):
        if n == len(shapes):
            event.listen(engine, "before_cursor_execute", record)
        with engine.begin() as conn:
            filing.file(conn, app.config, catalog, "+22376000001", f"10000{n}", sent, T0)
    event.remove(engine, "before_cursor_execute", record)
    assert seen and all(hit is CacheStats.CACHE_HIT and small for hit, small in seen), seen


@pytest.mark.parametrize(
    ("place", "second"),
    [("Massiogo", answers(place="MASSIOGO")), ("Massiogo", answers(urgent=True)),
     ("Niéna", answers(place="NIENA"))],
    ids=["capitals", "urgent", "accents"],
)  # fmt: skip
def test_a_report_about_a_site_being_filed_waits_and_joins_its_case(app, place, second):
    """Two reports about one site at the same moment open one case: the second waits for
    the first's transaction, then reads the case it opened and joins it."""
    engine, catalog = app.extensions["engine"], app.extensions["catalog"]
    first = engine.connect()
    with first.begin():
        filing.file(first, app.config, catalog, "+22376000001", "200001", answers(place=place),
                    T0)  # fmt: skip
        filed = {}
        other = threading.Thread(target=lambda: filed.update(case=_file(app, "200002", second)))
        other.start()
        other.join(0.5)
        waited = other.is_alive()
    first.close()
    other.join(10)
    with engine.connect() as conn:
        rows = conn.execute(select(Case.id, Case.reference, Case.status, Case.linked_to)
                            .order_by(Case.id)).all()  # fmt: skip
    assert waited
    (opened, _, status, _), joined = rows
    assert status == "new" and joined[1:] == ("200002", "linked", opened)
    assert filed["case"] == (opened, True)


@pytest.mark.parametrize(
    ("first", "second"),
    [("ÉCOLE DE NIÉNA", "ÉCOLE DE NIÉNA"), ("Ségou", "SÉGOU"), ("SÉGOU", "Ségou"),
     ("Niéna", "niena"), ("ΟΔΟΣ ΣΑΝΟ", "ΟΔΟΣ ΣΑΝΟ")],
    ids=["É", "capitals second", "capitals first", "accents", "Greek"],
)  # fmt: skip
def test_a_site_spelled_another_way_joins_its_case(app, first, second):
    """A site is matched by its name in lower case, without accents, made in Python: SQLite's
    lower() (and PostgreSQL's under the C locale) lowers A to Z only, and callers type a name
    in capitals, with its accents or without them."""
    opened, joined = (
        _file(app, "200001", answers(place=first)),
        _file(app, "200002", answers(place=second)),
    )
    with app.extensions["engine"].connect() as conn:
        linked = conn.execute(select(Case.linked_to).where(Case.reference == "200002")).scalar()
    assert opened == joined == (opened[0], True) and linked == opened[0]


def test_another_site_of_the_cercle_opens_its_own_case(app):
    """Folding the names keeps sites apart that differ by more than case and accents."""
    opened, other = (
        _file(app, "200001", answers(place="Kalana")),
        _file(app, "200002", answers(place="Kalanba")),
    )
    assert opened != other and other[1]
    with app.extensions["engine"].connect() as conn:
        keys = conn.execute(select(Case.place_key).order_by(Case.id)).scalars().all()
    assert keys == ["kalana", "kalanba"]


def test_the_tick_keys_a_case_an_older_release_filed_and_a_report_then_joins_it(app):
    """During a deploy, a release before migration 0025 still files cases, without their
    site's key: the next tick gives them one, so that a report about the site finds them."""
    first = _file(app, "200001", answers(place="SÉGOU"))
    blank = _file(app, "200003", answers(place="Kalana"))
    engine = app.extensions["engine"]
    with engine.begin() as conn:  # as the older release left them
        conn.execute(update(Case).values(place_key=None))
        conn.execute(update(Case).where(Case.reference == "200003").values(place=" "))
    with app.app_context():
        jobs.tick()
    with engine.connect() as conn:
        keys = dict(conn.execute(select(Case.reference, Case.place_key)).all())
        assert filing.rekey(conn) == 0  # nothing left: the tick's query finds none
    assert keys == {"200001": "segou", "200003": ""} and blank != first
    assert _file(app, "200002", answers(place="Segou")) == (first[0], True)


def test_a_report_waits_for_its_site_two_seconds_at_most(app):
    """Behind a filing that stalls, the next one about the site gives up in SITE_WAIT, rather
    than hold its connection (and the caller) for as long as the other takes."""
    engine, catalog = app.extensions["engine"], app.extensions["catalog"]
    if engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite waits its busy timeout (5 s), as every write does")
    with engine.connect() as stalled, stalled.begin():
        filing.file(stalled, app.config, catalog, "+22376000001", "200001", answers(), T0)
        started = time.monotonic()
        with pytest.raises(OperationalError, match="lock timeout"), engine.begin() as conn:
            filing.file(conn, app.config, catalog, "+22376000002", "200002", answers(), T0)
        waited = time.monotonic() - started
    assert filing.SITE_WAIT == "2s" and 1.9 < waited < 4, waited
    with engine.connect() as conn:  # the stalled one was filed in the end; the other not
        assert conn.execute(select(Case.reference)).scalars().all() == ["200001"]


def test_a_report_about_another_site_does_not_wait(app):
    """The lock is the site's: a report about another place is filed at once meanwhile.

    Filed while the first transaction is still open, and without an error: behind the first
    one's lock it would have failed at SITE_WAIT (2 s), or never ended. Not timed (it was
    "within 1 s"): a loaded machine can take that long to file a report.
    """
    engine, catalog = app.extensions["engine"], app.extensions["catalog"]
    if engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: on SQLite every write waits for the one writer")
    filed, failed = [], []

    def other_site():
        try:
            filed.append(_file(app, "200002", answers(place="Kalana")))
        except Exception as exc:  # a lock timeout: it waited for the other site
            failed.append(exc)

    with engine.connect() as first, first.begin():
        filing.file(first, app.config, catalog, "+22376000001", "200001", answers(), T0)
        other = threading.Thread(target=other_site)
        other.start()
        other.join(30)
        assert not other.is_alive() and failed == [] and len(filed) == 1
    with engine.connect() as conn:
        rows = conn.execute(select(Case.reference, Case.status).order_by(Case.reference)).all()
    assert rows == [("200001", "new"), ("200002", "new")]


def _file(app, reference: str, sent: dict) -> tuple[int, bool]:
    """File a report in a transaction of its own; return filing.file's answer."""
    with app.extensions["engine"].begin() as conn:
        return filing.file(conn, app.config, app.extensions["catalog"], "+22376000002",
                           reference, sent, T0)  # fmt: skip
