"""Every hot path through a real PgBouncer in transaction pooling, from several threads at once:
many connections of the app share two server connections, so nothing may outlive its
transaction (a prepared statement, a session setting other than those PgBouncer keeps)."""

import contextlib
import threading
import time

import pytest
import requests
from rq import SimpleWorker
from sqlalchemy import func, insert, select, text

from app.infra.models import Case, Contact, Message, ModuleProgress, QuizAnswer, User, utcnow
from app.messaging.campaigns.creation import create
from workers import jobs, queues

from ..conftest import Dial, serve
from ..databases import SERVER_TZ, needs_pgbouncer, pgbouncer, postgres_only
from ..helpers import (
    ADMIN,
    AuthActions,
    apologies,
    body,
    errors_logged,
    password_hash,
    report,
    visible,
)
from ..test_training import answer_all, course, open_module, read_lessons

pytestmark = needs_pgbouncer

POOL = 2  # server connections: fewer than the threads, so their transactions interleave
LEARNERS = [f"+2237000060{n}" for n in range(3)]
REPORTERS = [f"+2237600060{n}" for n in range(3)]
STOPPING = [f"+2237100060{n}" for n in range(2)]  # they text Arret
AUDIENCE = [f"+22371501{n:03d}" for n in range(60)]  # the campaign's, in Bougouni
DASHBOARDS = 4


@pytest.fixture
def bouncer(database_url):
    """A PgBouncer in front of the run's PostgreSQL database, POOL server connections at most."""
    postgres_only(database_url)
    with pgbouncer(database_url, pool_size=POOL) as running:
        yield running


def people(app) -> int:
    """Store the learners, the audience, those who will text Arret and a console admin; create
    the campaign to Bougouni; return its id."""
    now = utcnow()
    rows = [{"phone": p, "role": "agent", "organisation": "CMDT", "language": "fr"}
            for p in LEARNERS]  # fmt: skip
    rows += [{"phone": p, "role": "community", "language": "fr", "cercle": "bougouni"}
             for p in AUDIENCE]  # fmt: skip
    rows += [{"phone": p, "role": "community", "language": "fr"} for p in STOPPING]
    with app.app_context(), app.extensions["db"]() as db:
        db.execute(insert(Contact), [{**row, "created_at": now} for row in rows])
        db.add(User(email=ADMIN, role="admin", password_hash=password_hash()))
        campaign = create(db, "Rappel", {"fr": "Bonjour, la formation continue."},
                          {"cercle": ["bougouni"]})  # fmt: skip
        db.commit()
        return campaign.id


def learn(app, phone: str) -> str:
    """Take module 1 over USSD, every answer right; return the score screen."""
    caller = Dial(app.test_client(), phone=phone)
    caller()
    open_module(caller)
    module = course(app).modules[0]
    read_lessons(caller, module)
    return answer_all(caller, app, module)


def file(app, phone: str) -> str:
    """File a report over USSD about a site of its own, its receipt by SMS; return the last
    screen."""
    return report(app.test_client(), "2", *body(f"Site {phone[-3:]}"), phone=phone)[1]


def look(app) -> list[str]:
    """Sign in to the console and open the dashboard a few times; return what it shows."""
    client = app.test_client()
    assert AuthActions(client).login(ADMIN).status_code == 302
    shown = []
    for _ in range(DASHBOARDS):
        response = client.get("/console/dashboard")
        assert response.status_code == 200
        shown.append(visible(response))
    return shown


def work(app) -> None:
    """Run what the worker's queues hold, in this process: RQ's SimpleWorker, in burst."""
    with app.app_context():
        SimpleWorker(queues(app), connection=app.extensions["redis"]).work(
            burst=True, with_scheduler=False
        )


def every_server_connection(engine) -> set[tuple]:
    """Return (pid, synchronous_commit, time zone) as each server connection has them: POOL
    transactions open at once hold one each."""
    query = text("SELECT pg_backend_pid(), current_setting('synchronous_commit'), "
                 "current_setting('TimeZone')")  # fmt: skip
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(engine.begin()) for _ in range(POOL)]
        return {tuple(conn.execute(query).one()) for conn in held}


def wait_for(predicate, timeout_s: float):
    """Poll predicate until it is true; fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting after {timeout_s} s"
        time.sleep(0.1)


def test_every_hot_path_shares_two_server_connections_through_pgbouncer(
    make_app, sandbox, bouncer, caplog
):
    app = make_app(DATABASE_URL=bouncer.url, AT_API_BASE_URL=sandbox.url, SMS_RATE=1000,
                   SMS_SEND_WINDOW="always")  # fmt: skip
    campaign_id = people(app)
    app.extensions["workers"].enqueue("workers.jobs.expand_campaign", campaign_id)
    results, failures = {}, []

    def run(name, target, *args):
        try:
            results[name] = target(*args)
        except BaseException as exc:  # noqa: BLE001  (reported below, with its thread)
            failures.append(f"{name}: {exc!r}")

    def texted(phone: str) -> dict:
        form = {"from": phone, "text": "Arret"}
        return requests.post(sandbox.url + "/simulator/sms/send", json=form, timeout=15).json()

    with serve(app) as url:
        sandbox.app.config["KALAN_URL"] = url  # inbound SMS and delivery reports
        threads = [threading.Thread(target=run, args=(p, learn, app, p)) for p in LEARNERS]
        threads += [threading.Thread(target=run, args=(p, file, app, p)) for p in REPORTERS]
        threads += [threading.Thread(target=run, args=(p, texted, p)) for p in STOPPING]
        threads.append(threading.Thread(target=run, args=("console", look, app)))
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):  # the worker, meanwhile
            work(app)
            time.sleep(0.05)
        for thread in threads:
            thread.join()
        with app.app_context():
            jobs.tick()  # the clock's periodic work, through the pooler too
        work(app)

        def campaign_delivered():
            with app.extensions["db"]() as db:
                statuses = db.scalars(select(Message.status).where(
                    Message.campaign_id == campaign_id)).all()  # fmt: skip
            return len(statuses) == len(AUDIENCE) and set(statuses) == {"delivered"}

        wait_for(campaign_delivered, 30)  # each delivery report went through the pooler
    assert failures == []
    quiz = len(course(app).modules[0].quiz)
    assert all(f"Score : {quiz}/{quiz}." in results[p] for p in LEARNERS)
    references = {p: results[p].split("Référence : ")[1][:6] for p in REPORTERS}
    assert all(results[p]["delivered"] for p in STOPPING)
    with app.extensions["db"]() as db:
        passed = db.scalars(select(Contact.phone).join(
            ModuleProgress, ModuleProgress.contact_id == Contact.id).where(
            ModuleProgress.status == "passed")).all()  # fmt: skip
        answers = db.scalar(select(func.count()).select_from(QuizAnswer))
        filed = set(db.scalars(select(Case.reference)))
        stopped = set(db.scalars(select(Contact.phone).where(Contact.opted_out_at.is_not(None))))
    assert sorted(passed) == sorted(LEARNERS)
    assert answers == len(LEARNERS) * quiz
    assert filed == set(references.values())
    assert stopped == set(STOPPING)
    received = [m["to"] for m in sandbox.messages()]
    assert sorted(p for p in received if p in AUDIENCE) == sorted(AUDIENCE)  # each once
    for phone in LEARNERS + REPORTERS + STOPPING:  # a module's score, a receipt, a goodbye
        assert received.count(phone) == 1, phone
    assert len(results["console"]) == DASHBOARDS  # shown while the rest ran
    assert f"{len(REPORTERS)} dossiers" in look(app)[-1]  # and with all of it at the end
    assert not any(screen in str(results) for screen in apologies(app))
    assert errors_logged(caplog) == []
    # The pooler did pool: more of the app's connections than server connections.
    clients = [c for c in bouncer.show("CLIENTS") if c["database"] != "pgbouncer"]
    assert len(bouncer.show("SERVERS")) <= POOL < len(clients)
    # No setting outlived its transaction on a server connection, and the app's time zone
    # (which PgBouncer keeps for each client) is UTC, though the servers' is SERVER_TZ.
    seen = every_server_connection(app.extensions["engine"])
    assert len(seen) == POOL and {s[1:] for s in seen} == {("on", "UTC")} and SERVER_TZ != "UTC"
