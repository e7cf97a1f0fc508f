"""Migrations run on databases that hold data: 0012 forgets what linked reports to phones."""

import importlib
import os
import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from app.cases import filing
from app.infra.db import make_engine
from app.infra.migrate import current, downgrade, upgrade
from app.infra.models import UNKEYED

T = "2026-11-29 10:17:43.123456"  # a case opened, its entries, a call: to the second
HEAD = "0025"  # the newest revision: each test upgrades to it after seeding older data


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """A database with no schema: a SQLite file, or one of our own on the test PostgreSQL."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'migrate.db'}")
        yield engine
        engine.dispose()
        return
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL")
    name = f"kalan_migrate_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_engine(base).url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_engine(base).url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fill_as_of_0011(engine) -> None:
    """Write what the release before 0012 kept of a report, a training call and a receipt."""
    rows = [
        "INSERT INTO contacts (id, phone, role, failed_streak, first_seen, last_seen, created_at)"
        f" VALUES (1, '+22376000555', 'community', 0, '{T}', '{T}', '{T}')",
        "INSERT INTO cases (id, reference, status, urgent, contactable, reporter_hash,"
        " reporter_phone, created_at, reports, follow_ups)"
        f" VALUES (1, 'KWTKNH', 'new', false, true, 'abc123', 'gAAA', '{T}', 1, 0)",
        "INSERT INTO case_events (id, case_id, actor, to_status, at)"
        f" VALUES (1, 1, 'report', 'new', '{T}'), (2, 1, 'routing', 'new', '{T}'),"
        " (3, 1, 'console:a@b.org', 'verifying', '2026-11-30 08:01:02')",
        "INSERT INTO ussd_events (id, session_id, phone, status, last_node, input,"
        " last_response, duration_ms, hops, network_code, date, received_at) VALUES"
        f" (1, 's-report', '+22376000555', 'Success', 'r.done', '2*1', 'END KWTKNH', 45000, 14,"
        f" '61002', '{T}', '{T}'),"
        f" (2, 's-lost', '+22376000555', 'Success', NULL, '2*1', 'END KWTKNH', 1, 1, '61002',"
        f" '{T}', '{T}'),"
        f" (3, 's-train', '+22376000555', 'Success', 'account', '5', 'CON', 9000, 3, '61002',"
        f" '{T}', '{T}')",
        "INSERT INTO outbox (id, key, kind, urgent, phone, body, encoding, parts,"
        " estimated_cost, status, not_before, attempts, created_at) VALUES"
        " (1, 'receipt:KWTKNH:+22376000555', 'receipt', false, '+22376000555', 'KWTKNH',"
        f" 'GSM-7', 1, 25, 'queued', '{T}', 0, '{T}')",
    ]
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("PRAGMA foreign_keys=ON"))  # as the app runs it
        for row in rows:
            conn.execute(text(row))


def test_0012_forgets_what_linked_a_report_to_its_phone(empty_database):
    engine = empty_database
    upgrade(engine, "0011")
    fill_as_of_0011(engine)
    upgrade(engine)
    assert current(engine) == HEAD
    columns = inspect(engine)
    assert "reporter_hash" not in {c["name"] for c in columns.get_columns("cases")}
    assert {"input", "last_response"}.isdisjoint(
        c["name"] for c in columns.get_columns("ussd_events")
    )
    with engine.connect() as conn:
        events = {r.session_id: r for r in conn.execute(text("SELECT * FROM ussd_events"))}
        case = conn.execute(text("SELECT created_at FROM cases")).scalar_one()
        opened = dict(conn.execute(text("SELECT id, at FROM case_events")).all())
        contact = conn.execute(text("SELECT first_seen, last_seen, created_at FROM contacts")).one()
        key = conn.execute(text("SELECT key FROM outbox")).scalar_one()
    for session in ("s-report", "s-lost"):  # in a report, or no one knows where it ended
        event = events[session]
        assert event.phone is None and event.duration_ms is None and event.network_code is None
        assert str(event.received_at).startswith("2026-11-29 10:00:00")
    assert events["s-train"].phone == "+22376000555" and events["s-train"].duration_ms == 9000
    assert str(case).startswith("2026-11-29 10:00:00")
    assert [str(opened[i])[:19] for i in (1, 2, 3)] == [
        "2026-11-29 10:00:00", "2026-11-29 10:00:00", "2026-11-30 08:01:02"]  # fmt: skip
    assert all(str(moment).startswith("2026-11-29 00:00:00") for moment in contact)
    assert key == "receipt:KWTKNH"
    upgrade_down_and_up(engine)


def upgrade_down_and_up(engine) -> None:
    """The downgrade works on the data the upgrade left, and the upgrade again after it."""
    downgrade(engine, "0010")
    assert current(engine) == "0010"
    upgrade(engine)
    assert current(engine) == HEAD


def test_0015_keeps_earlier_recall_answers_out_of_the_inbox(empty_database):
    """Digits texted back by a phone that was sent recall questions were answers: marked so.
    Other texts, and digits from anyone else, wait in the inbox."""
    engine = empty_database
    upgrade(engine, "0014")
    rows = [
        "INSERT INTO contacts (id, phone, role, failed_streak, created_at) VALUES"
        f" (1, '+22370000001', 'agent', 0, '{T}'), (2, '+22370000002', 'agent', 0, '{T}')",
        "INSERT INTO recalls (id, contact_id, module, due_at, postponed, sms_at)"
        f" VALUES (1, 1, 'm1', '{T}', 0, '{T}'), (2, 2, 'm1', '{T}', 0, NULL)",
        "INSERT INTO inbound_messages (id, provider_id, phone, text, keyword, received_at) VALUES"
        f" (1, 'a', '+22370000001', ' 2 ', NULL, '{T}'),"
        f" (2, 'b', '+22370000001', 'Bonjour, une question', NULL, '{T}'),"
        f" (3, 'c', '+22370000002', '2', NULL, '{T}'),"
        f" (4, 'd', '+22376000009', '1', NULL, '{T}')",
    ]
    with engine.begin() as conn:
        for row in rows:
            conn.execute(text(row))
    upgrade(engine)
    with engine.connect() as conn:
        marked = dict(conn.execute(text("SELECT id, recall FROM inbound_messages")).all())
        waiting = conn.scalar(
            text("SELECT count(*) FROM inbound_messages WHERE handled_at IS NULL")
        )
    assert {k: bool(v) for k, v in marked.items()} == {1: True, 2: False, 3: False, 4: False}
    assert waiting == 4
    upgrade_down_and_up(engine)


def test_0019_keeps_each_providers_report_of_one_id(empty_database):
    """Ids are each provider's own: another provider's report of the same id and status is
    kept too. Going back, the first of such reports is the one kept."""
    engine = empty_database
    upgrade(engine, "0018")
    report = text(
        "INSERT INTO delivery_reports (provider_id, provider, status, applied, received_at)"
        f" VALUES ('X1', :provider, 'Success', false, '{T}')"
    )
    with engine.begin() as conn:
        conn.execute(report, {"provider": "africastalking"})
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(report, {"provider": "orange"})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(report, {"provider": "orange"})  # a repeat is still refused
    upgrade_down_and_up(engine)
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT provider FROM delivery_reports")).scalars().all()
    assert kept == ["africastalking"]


# PostgreSQL hides an index built over updated rows (pg_index.indcheckxmin) from any
# transaction whose snapshot is older than the build: under xdist, another worker's open
# transaction. Until then the planner cannot use it, whatever the migration did.
_HIDDEN = text(
    "SELECT indcheckxmin AND xmin::text::bigint"
    " >= txid_snapshot_xmin(txid_current_snapshot()) % 4294967296"
    " FROM pg_index WHERE indexrelid = to_regclass(:index)"
)


def wait_until_plannable(engine, index: str, timeout_s: float = 60) -> None:
    """Return once a fresh transaction's planner may use index (at once but on PostgreSQL)."""
    if engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + timeout_s
    while True:
        with engine.begin() as conn:
            if not conn.scalar(_HIDDEN, {"index": index}):
                return
        assert time.monotonic() < deadline, f"{index} still hidden after {timeout_s} s"
        time.sleep(0.05)


def plan(conn, statement: str, parameters=None) -> list[str]:
    """Return the lines of statement's plan, as the database would run it with parameters.

    On PostgreSQL with sequential scans off for the transaction: a test's few rows are read
    whole else, whatever index there is.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        return list(conn.exec_driver_sql("EXPLAIN " + statement, parameters).scalars())
    rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
    return [str(row[-1]) for row in rows]


def provider_id_lookup(engine) -> tuple[bool, bool, list]:
    """Return whether ix_outbox_provider_id is partial, whether a report's lookup by provider
    id reads it, and the ids that lookup finds."""
    lookup = "SELECT id FROM outbox WHERE provider_id = 'ATX-1'"
    wait_until_plannable(engine, "ix_outbox_provider_id")
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            index = "indexrelid = 'ix_outbox_provider_id'::regclass"
            partial = conn.scalar(text(f"SELECT indpred IS NOT NULL FROM pg_index WHERE {index}"))
        else:
            index = "name = 'ix_outbox_provider_id'"
            partial = conn.scalar(
                text(f"SELECT partial FROM pragma_index_list('outbox') WHERE {index}")
            )
        lines = plan(conn, lookup)
        found = conn.execute(text(lookup)).scalars().all()
    return bool(partial), any("ix_outbox_provider_id" in line for line in lines), found


def test_0022_indexes_a_provider_id_only_once_given(empty_database):
    """A row's claim and start write no entry in the provider ids' index: a report's lookup
    still reads it, and finds its row."""
    engine = empty_database
    upgrade(engine, "0021")
    row = (
        "INSERT INTO outbox (id, key, kind, urgent, phone, body, encoding, parts, estimated_cost,"
        " status, not_before, attempts, created_at, provider_id) VALUES (:id, :key, 'receipt',"
        f" false, '+22376000555', 'Recu', 'GSM-7', 1, 25, :status, '{T}', 0, '{T}', :given)"
    )
    with engine.begin() as conn:
        conn.execute(text(row), {"id": 1, "key": "r:1", "status": "sent", "given": "ATX-1"})
        conn.execute(text(row), {"id": 2, "key": "r:2", "status": "claimed", "given": None})
    assert provider_id_lookup(engine) == (False, True, [1])
    upgrade(engine)
    assert provider_id_lookup(engine) == (True, True, [1])
    upgrade_down_and_up(engine)
    assert provider_id_lookup(engine) == (True, True, [1])


def report_lookup(engine) -> list[str]:
    """Return the plan of a delivery report's lookup by the provider's id alone."""
    lookup = "SELECT id FROM delivery_reports WHERE provider_id = 'ATX-1' AND applied = false"
    wait_until_plannable(engine, "ix_delivery_reports_provider_id")
    with engine.begin() as conn:
        return plan(conn, lookup)


def test_0023_looks_a_report_up_by_its_provider_id(empty_database):
    """Before 0023 a lookup by the provider's id read the whole table (or the whole of the
    index that leads with the provider); after it, only its own entries."""
    engine = empty_database
    upgrade(engine, "0022")
    report = (
        "INSERT INTO delivery_reports (provider_id, provider, status, applied, received_at)"
        f" VALUES (:id, 'africastalking', 'Success', false, '{T}')"
    )
    with engine.begin() as conn:
        for n in range(20):
            conn.execute(text(report), {"id": f"ATX-{n}"})
    before = "\n".join(report_lookup(engine))
    assert "ix_delivery_reports_provider_id" not in before
    upgrade(engine)
    after = "\n".join(report_lookup(engine))
    assert "ix_delivery_reports_provider_id" in after, after
    if engine.dialect.name == "postgresql":
        assert "Index Cond: ((provider_id)::text = 'ATX-1'::text)" in after, after
    upgrade_down_and_up(engine)
    assert "ix_delivery_reports_provider_id" in "\n".join(report_lookup(engine))


def tick_plans(engine) -> list[str]:
    """Run the tick's sweep and forgetting of receipts; return the plan of each SELECT sent."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from app.messaging import delivery, outbox

    sent = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        with Session(engine) as db:
            delivery.sweep(db, datetime(2026, 11, 29, 11, tzinfo=UTC), 3)
            outbox.forget_receipts(db, datetime(2026, 11, 29, 11, tzinfo=UTC))
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert len(sent) >= 2, sent
    wait_until_plannable(engine, "ix_delivery_reports_waiting")
    wait_until_plannable(engine, "ix_outbox_receipts_kept")
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
        return ["\n".join(plan(conn, statement, parameters)) for statement, parameters in sent]


def test_0024_the_tick_reads_only_what_waits(empty_database):
    """The sweep reads the reports still waiting, and the forgetting the receipts whose number
    is kept, each through its own partial index: not every report and SMS ever kept."""
    engine = empty_database
    upgrade(engine, "0023")
    sms = (
        "INSERT INTO outbox (id, key, kind, urgent, phone, body, encoding, parts, estimated_cost,"
        " status, not_before, attempts, created_at, sent_at, provider, provider_id) VALUES"
        " (:id, :key, :kind, false, :phone, 'x', 'GSM-7', 1, 25, :status,"
        f" '{T}', 1, '{T}', '{T}', 'africastalking', :given)"
    )
    report = (
        "INSERT INTO delivery_reports (provider_id, provider, status, applied, received_at)"
        f" VALUES (:given, 'africastalking', 'Success', :applied, '{T}')"
    )
    with engine.begin() as conn:
        for n in range(200):  # a campaign's, long done
            row = {"id": n + 1, "key": f"c:{n}", "kind": "campaign", "phone": "+22376000555"}
            conn.execute(text(sms), {**row, "status": "delivered", "given": f"ATX-{n}"})
            conn.execute(text(report), {"given": f"ATX-{n}", "applied": True})
        receipt = {"key": "r:1", "kind": "receipt", "phone": "+22376000555", "status": "sent"}
        conn.execute(text(sms), {**receipt, "id": 500, "given": "ATX-500"})
        conn.execute(text(report), {"given": "ATX-999", "applied": False})  # its SMS unknown
    before = tick_plans(engine)
    assert not any("_waiting" in plan or "_receipts_kept" in plan for plan in before), before
    upgrade(engine)
    for _ in range(2):
        sweep, forget = tick_plans(engine)[:2]
        assert "ix_delivery_reports_waiting" in sweep, sweep
        assert "ix_outbox_receipts_kept" in forget, forget
        upgrade_down_and_up(engine)


def test_0024_builds_its_indexes_while_writes_go_on(empty_database):
    """On PostgreSQL the indexes are built CONCURRENTLY: while the build waits for a
    transaction that wrote to the outbox, another receipt is still written at once (a plain
    build, queued for its lock, would hold it until the lock timeout)."""
    import threading

    engine = empty_database
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite builds an index under its one write lock, as it writes anything")
    upgrade(engine, "0023")
    sms = (
        "INSERT INTO outbox (id, key, kind, urgent, phone, body, encoding, parts, estimated_cost,"
        " status, not_before, attempts, created_at) VALUES (:id, :key, 'receipt', false,"
        f" '+22376000555', 'Recu', 'GSM-7', 1, 25, 'queued', '{T}', 0, '{T}')"
    )
    failed = []

    def migrate():
        try:
            upgrade(engine)
        except Exception as exc:  # surfaced by the assertion below
            failed.append(exc)

    with engine.connect() as writer:
        writer.execute(text(sms), {"id": 1, "key": "r:1"})  # open: the build waits for it
        build = threading.Thread(target=migrate)
        build.start()
        deadline = time.monotonic() + 10
        with engine.connect() as watch:
            while not watch.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND query LIKE 'CREATE INDEX%' AND wait_event_type = 'Lock'"
                )
            ):
                watch.rollback()
                assert time.monotonic() < deadline, "the build never started"
                time.sleep(0.02)
        with engine.begin() as other:
            other.execute(text("SET LOCAL lock_timeout = '2s'"))
            other.execute(text(sms), {"id": 2, "key": "r:2"})  # not held by the build
        writer.commit()
    build.join(timeout=30)
    assert failed == [] and current(engine) == HEAD


def test_0024_run_again_after_a_build_cut_short_builds_its_indexes_whole(empty_database):
    """A CONCURRENTLY build that failed leaves its index behind (invalid, on PostgreSQL),
    the revision not stamped: the next run drops it and builds the index it means."""
    engine = empty_database
    upgrade(engine, "0023")
    with engine.begin() as conn:  # what a cut-short build left: the names, not the shape
        conn.execute(text("CREATE INDEX ix_outbox_receipts_kept ON outbox (phone)"))
        conn.execute(text("CREATE INDEX ix_delivery_reports_waiting ON delivery_reports (id)"))
    upgrade(engine)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            shapes = conn.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname LIKE 'ix_%_kept'"
                     " OR indexname LIKE 'ix_%_waiting' ORDER BY indexname")
            ).scalars().all()  # fmt: skip
        else:
            shapes = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name LIKE 'ix_%_kept'"
                     " OR name LIKE 'ix_%_waiting' ORDER BY name")
            ).scalars().all()  # fmt: skip
    assert len(shapes) == 2, shapes
    assert "(provider_id, provider)" in shapes[0] and "applied IS" in shapes[0], shapes
    assert "(id)" in shapes[1] and "receipt" in shapes[1], shapes


def test_0025_keys_the_sites_of_cases_filed_before(empty_database, make_app):
    """Cases filed before 0025 get their site's key, so that a report about the same site,
    spelled another way, still joins the case opened before the upgrade."""
    engine = empty_database
    upgrade(engine, "0024")
    case = (
        "INSERT INTO cases (reference, status, urgent, sector, region, cercle, place,"
        " contactable, created_at, reports, follow_ups) VALUES (:reference, 'new', false,"
        " 'mining', 'sikasso', 'kadiolo', :place, false, :at, 1, 0)"
    )
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    # More than a batch of the backfill's: every one is keyed.
    places = {"OLD1": "SÉGOU", "OLD2": "Niéna  Centre", "OLD3": None}
    places.update({f"B{n}": f"Site {n}" for n in range(1_201)})
    with engine.begin() as conn:
        conn.execute(text(case), [{"reference": reference, "place": place, "at": now}
                                  for reference, place in places.items()])  # fmt: skip
    upgrade(engine)
    with engine.connect() as conn:
        keys = dict(conn.execute(text("SELECT reference, place_key FROM cases")).all())
        first = conn.execute(text("SELECT id FROM cases WHERE reference = 'OLD1'")).scalar_one()
    assert [keys[r] for r in ("OLD1", "OLD2", "OLD3")] == ["segou", "niena centre", None]
    with engine.connect() as conn:  # nothing left for the tick's partial index
        assert conn.execute(text(f"SELECT count(*) FROM cases WHERE {UNKEYED}")).scalar() == 0
    assert all(keys[f"B{n}"] == f"site {n}" for n in range(1_201))
    app = make_app(DATABASE_URL=engine.url.render_as_string(hide_password=False))
    report = {"sector": "mining", "region": "sikasso", "cercle": "kadiolo", "place": "Segou"}
    with engine.begin() as conn:
        joined = filing.file(conn, app.config, app.extensions["catalog"], "+22376000555",
                             "NEW1", report, now)  # fmt: skip
    app.extensions["engine"].dispose()
    assert joined == (first, True)
    upgrade_down_and_up(engine)


def test_0025s_key_is_the_one_filing_makes():
    """The migration keeps its own copy of site_key (a migration does not change with the
    code): any name, GSM-7's letters and beyond, keys the same in both."""
    migration = importlib.import_module("app.infra.migrations.versions.0025_case_place_key")
    gsm = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTU"
    gsm += "VWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    names = [*gsm, gsm, "ΟΔΟΣ ΣΑΝΟ", "Œuvre", "œuvre", "  Niéna   Centre ", " ", "x" * 200]
    names += ["".join(chr(c) for c in range(start, start + 64)) for start in range(0, 12_000, 64)]
    assert [migration._key(name) for name in names] == [filing.site_key(n) or "" for n in names]
