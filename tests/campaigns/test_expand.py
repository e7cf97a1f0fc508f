"""Expanding a campaign into the outbox: idempotent, resumable, budgeted."""

import threading
import time
from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import event, insert, text, update

from app.infra.models import Campaign, Contact, Message, ModuleProgress
from app.messaging import outbox
from app.messaging.campaigns import expansion, lifecycle

from ..databases import waiting_on_a_lock
from .conftest import NOW, add_contacts, new, phone, reload, rows


def test_expand_writes_one_row_per_recipient(app, db):
    add_contacts(db, 1, 1, name="Awa", cercle="Kati", language="fr")
    add_contacts(db, 1, 2, name="Moussa", cercle="Kita", language="bm")
    add_contacts(db, 1, 3, name=None, cercle="Kati", language="en")
    add_contacts(db, 1, 4, name="Françoise", cercle=None, language=None)
    add_contacts(db, 1, 5, name="Retiré", language="fr", opted_out_at=NOW)
    add_contacts(db, 1, 6, name="Perdu", language="fr", unreachable_at=NOW)
    messages = {"fr": "Bonjour {name} de {cercle} !", "bm": "I ni ce {name} ({cercle})"}
    campaign = new(db, messages)
    result = expansion.expand(db, campaign.id, app.config)
    assert result.status == "sending"
    assert result.recipients == 4
    assert result.expanded_at is not None
    assert result.estimated_cost == Decimal(100)
    bodies = {m.key: m.body for m in rows(db, campaign.id)}
    assert bodies == {
        f"campaign:{campaign.id}:{phone(1)}": "Bonjour Awa de Kati !",
        f"campaign:{campaign.id}:{phone(2)}": "I ni ce Moussa (Kita)",
        f"campaign:{campaign.id}:{phone(3)}": "Bonjour de Kati !",
        f"campaign:{campaign.id}:{phone(4)}": "Bonjour Francoise de !",
    }
    assert {m.kind for m in rows(db, campaign.id)} == {"campaign"}
    assert {m.status for m in rows(db, campaign.id)} == {"queued"}


def test_expand_twice_adds_nothing(app, db):
    add_contacts(db, 5)
    campaign = new(db)
    expansion.expand(db, campaign.id, app.config)
    again = expansion.expand(db, campaign.id, app.config)
    assert again.recipients == 5
    assert len(rows(db, campaign.id)) == 5


def test_expand_replayed_from_the_start_adds_nothing(app, db):
    add_contacts(db, 5)
    campaign = new(db)
    expansion.expand(db, campaign.id, app.config, batch=2)
    db.execute(
        update(Campaign).values(status="expanding", cursor=0).where(Campaign.id == campaign.id)
    )
    db.commit()
    replay = expansion.expand(db, campaign.id, app.config, batch=2)
    assert replay.recipients == 5
    assert len(rows(db, campaign.id)) == 5


def test_expand_replay_keeps_the_estimated_cost(app, db):
    add_contacts(db, 5)
    campaign = new(db)
    expansion.expand(db, campaign.id, app.config)
    db.execute(
        update(Campaign).values(status="expanding", cursor=0).where(Campaign.id == campaign.id)
    )
    db.commit()
    assert expansion.expand(db, campaign.id, app.config).estimated_cost == Decimal(125)


def test_expand_resumes_from_its_cursor(app, db):
    add_contacts(db, 10)
    campaign = new(db)
    batches = []

    class Crash(Exception):
        pass

    def crash_after_first_batch():
        batches.append(len(rows(db, campaign.id)))
        raise Crash

    with pytest.raises(Crash):
        expansion.expand(db, campaign.id, app.config, batch=3, heartbeat=crash_after_first_batch)
    stopped = reload(db, campaign.id)
    assert batches == [3]
    assert stopped.status == "expanding"
    assert stopped.recipients == 3
    assert campaign.id in expansion.due(db, NOW)  # picked up again by the next tick
    resumed = expansion.expand(db, campaign.id, app.config, batch=3)
    assert resumed.status == "sending"
    assert resumed.recipients == 10
    assert resumed.estimated_cost == Decimal(250)
    assert sorted(m.phone for m in rows(db, campaign.id)) == [phone(n) for n in range(1, 11)]
    # Set back to expanding: the cursor is at the end, nothing is added twice.
    db.execute(update(Campaign).values(status="expanding").where(Campaign.id == campaign.id))
    db.commit()
    assert expansion.expand(db, campaign.id, app.config, batch=3).recipients == 10
    assert len(rows(db, campaign.id)) == 10


def test_expand_streams_in_batches(app, db):
    add_contacts(db, 50)
    campaign = new(db)
    beats = []
    result = expansion.expand(
        db, campaign.id, app.config, batch=7, heartbeat=lambda: beats.append(1)
    )
    assert result.recipients == 50
    assert len(rows(db, campaign.id)) == 50
    assert len(beats) == 8  # ceil(50 / 7) committed batches


@pytest.mark.parametrize("batch", [1000, 3])
def test_budget_cap_stops_adding(app, db, batch):
    add_contacts(db, 10)
    campaign = new(db, budget=Decimal("110"))  # room for four 25-XOF messages
    result = expansion.expand(db, campaign.id, app.config, batch=batch)
    assert len(rows(db, campaign.id)) == 4
    assert result.recipients == 4
    assert result.estimated_cost == Decimal(100)
    assert result.status == "sending"
    assert result.reason.startswith("budget reached")


def test_budget_reason_counts_the_recipients_added(app, db):
    add_contacts(db, 10)
    campaign = new(db, budget=Decimal("110"))
    result = expansion.expand(db, campaign.id, app.config)
    assert result.reason == "budget reached after 4 recipients"


@pytest.mark.parametrize("status", ["sending", "paused", "cancelled", "done"])
def test_expand_only_runs_for_scheduled_or_expanding(app, db, status):
    add_contacts(db, 3)
    campaign = new(db)
    db.execute(update(Campaign).values(status=status).where(Campaign.id == campaign.id))
    db.commit()
    assert expansion.expand(db, campaign.id, app.config).status == status
    assert rows(db, campaign.id) == []


def test_expand_unknown_campaign_returns_none(app, db):
    assert expansion.expand(db, 999, app.config) is None


class Crash(Exception):
    """A worker lost at a chosen moment."""


@contextmanager
def on_outbox_insert(app, action):
    """Run action(n) before the n-th INSERT into the outbox that any connection sends."""
    seen = []

    def before(_conn, _cursor, statement, *_):
        if statement.startswith(f"INSERT INTO {Message.__tablename__}"):
            seen.append(statement)
            action(len(seen))

    engine = app.extensions["engine"]
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_a_crash_inside_a_batch_is_redone_whole(app, db):
    """Rows and cursor commit together: a batch cut short leaves neither, and is redone."""
    people = add_contacts(db, 10)
    campaign = new(db)

    def crash_in_the_second_batch(n):
        if n == 2:
            raise Crash

    with on_outbox_insert(app, crash_in_the_second_batch), pytest.raises(Crash):
        expansion.expand(db, campaign.id, app.config, batch=3)
    db.rollback()
    stopped = reload(db, campaign.id)
    assert (stopped.status, stopped.cursor, stopped.recipients) == ("expanding", people[2].id, 3)
    assert len(rows(db, campaign.id)) == 3
    resumed = expansion.expand(db, campaign.id, app.config, batch=3)
    assert (resumed.recipients, resumed.estimated_cost) == (10, Decimal(250))
    assert sorted(m.phone for m in rows(db, campaign.id)) == [phone(n) for n in range(1, 11)]


def test_a_replay_over_queued_rows_spends_no_budget_on_them(app, db):
    """Rows already queued are left out before the budget is counted, not only at insert."""
    add_contacts(db, 10)
    campaign = new(db, budget=Decimal(250))  # room for all ten, once each

    def crash_after_first_batch():
        raise Crash

    with pytest.raises(Crash):
        expansion.expand(db, campaign.id, app.config, batch=3, heartbeat=crash_after_first_batch)
    db.execute(update(Campaign).values(cursor=0).where(Campaign.id == campaign.id))
    db.commit()
    replay = expansion.expand(db, campaign.id, app.config, batch=10)
    assert (replay.recipients, replay.estimated_cost, replay.reason) == (10, Decimal(250), None)
    assert len(rows(db, campaign.id)) == 10


def test_a_row_queued_meanwhile_elsewhere_is_neither_doubled_nor_counted(app, db):
    """Between the look-up and the insert another worker queues one of the numbers."""
    add_contacts(db, 5)
    campaign = new(db)

    def another_worker_queues_phone_2(n):
        if n == 1:
            with app.extensions["db"]() as other:
                outbox.add(other, app.config, "campaign", campaign.id, phone(2), "Bonjour",
                           campaign_id=campaign.id)  # fmt: skip
                other.commit()

    with on_outbox_insert(app, another_worker_queues_phone_2):
        result = expansion.expand(db, campaign.id, app.config)
    assert (result.recipients, result.estimated_cost) == (4, Decimal(100))
    assert sorted(m.phone for m in rows(db, campaign.id)) == [phone(n) for n in range(1, 6)]


def test_each_row_is_priced_from_its_own_text(app, db):
    tail = "x" * 140
    add_contacts(db, 1, 1, name="Awa")  # 153 characters: one part
    add_contacts(db, 1, 2, name="Aminata Coulibaly Diarra")  # 174: two parts
    add_contacts(db, 1, 3, name="Awa")
    campaign = new(db, {"fr": "Bonjour {name}, " + tail})
    result = expansion.expand(db, campaign.id, app.config)
    priced = [(m.phone, m.parts, m.estimated_cost) for m in rows(db, campaign.id)]
    assert priced == [(phone(1), 1, Decimal(25)), (phone(2), 2, Decimal(50)),
                      (phone(3), 1, Decimal(25))]  # fmt: skip
    assert result.estimated_cost == Decimal(100)
    assert rows(db, campaign.id)[1].body == "Bonjour Aminata Coulibaly Diarra, " + tail


@pytest.mark.parametrize(("action", "added", "status"), [("cancel", 3, "cancelled"),
                                                         ("pause", 10, "paused")])  # fmt: skip
def test_a_campaign_stopped_while_expanding(app, db, action, added, status):
    """Cancelled: no batch after the one under way. Paused: expanded whole, left paused."""
    add_contacts(db, 10)
    campaign = new(db)
    beats = []

    def supervisor_acts():
        beats.append(1)
        if len(beats) == 1:
            with app.extensions["db"]() as console:
                lifecycle.set_status(console, campaign.id, action)

    result = expansion.expand(db, campaign.id, app.config, batch=3, heartbeat=supervisor_acts)
    assert (result.status, len(rows(db, campaign.id))) == (status, added)
    assert result.expanded_at is not None


def test_batches_with_no_one_of_the_audience_do_not_end_it(app, db):
    """A batch is the next contacts by id: bounded however few of them the audience takes."""
    add_contacts(db, 7, 1, role="community")
    add_contacts(db, 2, 8)
    campaign = new(db, audience={"role": ["agent"]})
    beats = []
    result = expansion.expand(
        db, campaign.id, app.config, batch=3, heartbeat=lambda: beats.append(1)
    )
    assert [m.phone for m in rows(db, campaign.id)] == [phone(8), phone(9)]
    assert (result.recipients, len(beats)) == (2, 3)


def test_texts_are_remembered_for_a_bounded_number_of_contacts(app):
    texts = expansion.Texts(app.config, {"fr": "Bonjour {name}", "bm": "I ni ce"}, kept=2)
    people = [("Awa", "fr"), ("Moussa", "fr"), ("Seydou", "bm"), ("Oumar", "fr"), ("Awa", "fr")]
    bodies = [texts.of(Contact(name=name, language=lang))[0] for name, lang in people]
    assert bodies == ["Bonjour Awa", "Bonjour Moussa", "I ni ce", "Bonjour Oumar", "Bonjour Awa"]
    assert len(texts.known) <= 2


def test_two_expansions_at_once_count_and_spend_once(app, db):
    """A worker whose Redis lock was lost expands the campaign while another does. The
    second starts while the first's batch is added but not committed: it waits for that
    batch, then goes on from where it left, not from a stale cursor and total."""
    engine = app.extensions["engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite locks the whole file, so no two batches overlap")
    add_contacts(db, 10)
    campaign = new(db, budget=Decimal(125))  # room for five 25-XOF messages
    second_may_start, inserts, errors = threading.Event(), [], []

    def hold(_conn, _cursor, statement, *_):
        if threading.current_thread().name == "first" and "INSERT INTO outbox" in statement:
            inserts.append(statement)
            if len(inserts) == 2:  # the second batch, not committed yet
                second_may_start.set()
                deadline = time.monotonic() + 10
                while not waiting_on_a_lock(engine) and time.monotonic() < deadline:
                    time.sleep(0.05)

    def expand(wait_for=None):
        try:
            with app.app_context(), app.extensions["db"]() as session:
                assert wait_for is None or wait_for.wait(30)
                expansion.expand(session, campaign.id, app.config, batch=2)
        except Exception as exc:  # seen by the test's own thread
            errors.append(exc)

    event.listen(engine, "after_cursor_execute", hold)
    threads = [
        threading.Thread(target=expand, name="first"),
        threading.Thread(target=expand, name="second", args=(second_may_start,)),
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        event.remove(engine, "after_cursor_execute", hold)
    assert errors == [] and len(inserts) >= 2
    queued = rows(db, campaign.id)
    result = reload(db, campaign.id)
    assert [m.phone for m in queued] == [phone(n) for n in range(1, 6)]
    assert result.recipients == 5 and result.estimated_cost == Decimal(125)
    assert result.reason == "budget reached after 5 recipients"


def test_an_outbox_locked_by_a_vacuum_leaves_the_expansion_unanalyzed_not_stuck(app, db):
    """The ANALYZE after an expansion is a hint: behind another's lock it gives up in 2 s."""
    engine = app.extensions["engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite's planner needs no ANALYZE here")
    add_contacts(db, 3)
    campaign = new(db)
    with engine.connect() as other:
        other.exec_driver_sql("ANALYZE outbox")  # its lock held until this transaction ends
        done = []
        worker = threading.Thread(
            target=lambda: done.append(_expanded(app, campaign.id)), daemon=True
        )
        worker.start()
        worker.join(timeout=20)
        other.rollback()
    assert done == ["sending"]
    assert len(rows(db, campaign.id)) == 3


def _expanded(app, campaign_id) -> str:
    with app.app_context(), app.extensions["db"]() as session:
        return expansion.expand(session, campaign_id, app.config).status


@pytest.mark.parametrize("audience", [{}, {"training": ["started"]}])
def test_a_page_looks_its_contacts_up_one_by_one_rather_than_reading_tables_whole(
    app, db, audience
):
    """Whatever the outbox and the progress rows hold, a page probes their indexes once per
    contact: as joins, PostgreSQL read the whole outbox, or every progress row below the
    page's last id, for every page of a campaign."""
    add_contacts(db, 2000)
    campaign = new(db, audience=audience)
    old = [outbox.row(app.config, "receipt", n, f"+2237600{n:04d}", "Vu.") for n in range(3000)]
    outbox.insert_new(db, old)
    modules = ("m1", "m2", "m3")
    db.execute(insert(ModuleProgress), [{"contact_id": n, "module": m, "status": "started"}
                                        for n in range(1, 2001) for m in modules])  # fmt: skip
    db.commit()
    engine, plans = db.get_bind(), []
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        db.execute(text("ANALYZE outbox, module_progress, certificates, contacts"))

    def explain(_conn, cursor, statement, parameters, _context, _executemany):
        if statement.startswith("SELECT contacts.id"):
            cursor.execute(("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ") + statement,
                           parameters)  # fmt: skip
            plans.append("\n".join(str(row[-1]) for row in cursor.fetchall()))

    event.listen(engine, "before_cursor_execute", explain)
    try:
        page = expansion.pending(audience, f"campaign:{campaign.id}:", 1500, 2000)
        assert len(db.execute(page).all()) == 500
    finally:
        event.remove(engine, "before_cursor_execute", explain)
    [plan] = plans
    if postgres:  # subplans run per contact, on their indexes; no join of the tables
        assert "SubPlan" in plan and "outbox_key_key" in plan, plan
        assert "Join" not in plan and "Seq Scan on outbox" not in plan, plan
    else:
        assert "INDEX sqlite_autoindex_outbox_1 (key=?)" in plan, plan
        assert "SCAN outbox" not in plan and "SCAN module_progress" not in plan, plan
