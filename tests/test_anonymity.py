"""Anonymous means anonymous: what is kept after a report cannot be traced back to a phone.

Each test plays what an attacker holding the database and a Redis dump would
look at, after real calls through the webhook and the gateway's
end-of-session notifications.
"""

import json
import threading

import pytest
import requests
from sqlalchemy import MetaData, create_engine, select

from app.infra.db import make_engine
from app.infra.migrate import upgrade
from app.infra.models import Case, Message

from .conftest import Dial, serve
from .helpers import ANONYMOUS, SMS, body

A, B = "+22376000601", "+22376000602"


def forms(phone: str) -> tuple[str, ...]:
    """Every way a number may be written down: E.164, without +, national."""
    return phone, phone[1:], phone[4:]


def anonymous_report(client, phone: str, site: str) -> tuple[Dial, str]:
    """Send one anonymous report (no call back) about a site; return the caller and reply."""
    caller = Dial(client, phone=phone)
    if caller().startswith("CON Bienvenue"):
        caller("1")  # a new caller's language
    caller("2", *body(site), ANONYMOUS)  # Signaler, the answers, nobody may call back
    return caller, caller("1")  # Envoyer


def session_ended(client, caller: Dial, reply: str) -> None:
    """Post the gateway's end-of-session notification, as Africa's Talking sends it."""
    form = {"sessionId": caller.session_id, "phoneNumber": caller.phone, "status": "Success",
            "serviceCode": caller.code, "networkCode": "61002", "input": "*".join(caller.inputs),
            "lastAppResponse": reply, "durationInMillis": "45000", "hopsCount": "14",
            "date": "2026-12-05 10:00:00", "cost": "XOF 0.0000", "errorMessage": ""}  # fmt: skip
    assert client.post("/ussd/events", data=form).status_code == 200


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database(request, tmp_path, database_url):
    """A migrated database of each kind: SQLite always, PostgreSQL when the run has one."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'anonymity.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        return url
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL")
    return database_url


def test_two_anonymous_reports_of_one_phone_leave_nothing_to_link(make_app, any_database):
    app = make_app(DATABASE_URL=any_database)
    client = app.test_client()
    # A's reports on either side of B's: a column the same for A's two alone is a link.
    done = [anonymous_report(client, phone, site)
            for phone, site in ((A, "Massiogo"), (B, "Tiembougou"), (A, "Fourou"))]  # fmt: skip
    references = []
    for caller, reply in done:
        assert reply.startswith("END Merci. Référence : "), reply
        references.append(reply.split("Référence : ")[1][:6])
        session_ended(client, caller, reply)
    engine = create_engine(make_engine(any_database).url)
    tables = MetaData()
    tables.reflect(engine)
    with engine.connect() as conn:
        holding = {
            table.name
            for table in tables.sorted_tables
            for row in conn.execute(select(table))
            if any(form in str(value) for value in row for form in forms(A) + forms(B))
        }
        cases = {
            row.reference: row._mapping for row in conn.execute(select(tables.tables["cases"]))
        }
        events = conn.execute(select(tables.tables["ussd_events"])).all()
    engine.dispose()
    assert holding == {"contacts"}
    assert len(events) == 3 and all(event.phone is None for event in events)
    # Nor how long, on which network, or at which minute: the caller's other calls have those.
    for event in events:
        assert (event.duration_ms, event.hops, event.network_code, event.date) == (None,) * 4
        assert event.received_at.minute == event.received_at.second == 0
    first, other, second = (cases[reference] for reference in references)
    linking = [column for column in tables.tables["cases"].columns.keys()
               if first[column] == second[column] != other[column]]  # fmt: skip
    assert linking == []
    assert all(case.created_at.minute == case.created_at.second == 0 for case in cases.values())
    # Nor does Redis keep anything in clear: no key and no value names a phone.
    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    for key in redis.scan_iter(match=prefix + "*"):
        stored = {
            b"string": lambda k: [redis.get(k)],
            b"hash": lambda k: [*redis.hgetall(k).keys(), *redis.hgetall(k).values()],
        }.get(redis.type(key), lambda k: [])(key)
        for value in [key, *stored]:
            assert not any(form.encode() in value for form in forms(A) + forms(B)), key


def test_a_sent_report_forgets_its_session_and_resume_point(app, client):
    caller, reply = anonymous_report(client, A, "Massiogo")
    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    kept = json.loads(redis.get(f"{prefix}session:{caller.session_id}"))
    assert kept["reply"] == reply and "caller" not in kept and "Massiogo" not in json.dumps(kept)
    assert 0 < redis.ttl(f"{prefix}session:{caller.session_id}") <= 60
    assert list(redis.scan_iter(match=prefix + "resume:*")) == []
    assert caller.post("*".join(caller.inputs)) == reply  # the gateway's retry: same reply


def test_a_session_that_never_reached_a_report_keeps_its_phone(app, client):
    """Minutes of training are counted by phone: only report sessions are anonymous."""
    from app.infra.models import UssdEvent

    caller = Dial(client, phone=A)
    caller("5")  # Compte / Aide
    session_ended(client, caller, "CON ...")
    with app.extensions["db"]() as db:
        assert db.scalars(select(UssdEvent.phone)).one() == A


def test_the_send_hop_fired_twice_at_once_files_one_report(app):
    """A gateway that gives up on a hop resends it while the first copy runs: both copies
    get the same reference, and one case and one receipt exist, every time."""
    with serve(app) as url:
        http = requests.Session()
        for attempt in range(6):
            phone = f"+2237600070{attempt}"
            caller = Dial(app.test_client(), phone=phone)
            caller()
            summary = caller("2", *body(f"Site{attempt}"), SMS)  # with an SMS receipt
            assert summary.startswith("CON ")
            form = {"sessionId": caller.session_id, "phoneNumber": phone, "serviceCode": "*123#",
                    "networkCode": "61002", "text": "*".join([*caller.inputs, "1"])}  # fmt: skip
            start, replies = threading.Barrier(2), []

            def send(form=form, start=start, replies=replies):
                start.wait()
                replies.append(http.post(url + "/ussd", data=form, timeout=10).text)

            threads = [threading.Thread(target=send) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert len(replies) == 2 and replies[0] == replies[1], replies
            assert replies[0].startswith("END Merci. Référence : ")
            with app.extensions["db"]() as db:
                assert db.query(Case).count() == attempt + 1
                receipts = db.scalars(select(Message).where(Message.kind == "receipt")).all()
            assert len(receipts) == attempt + 1
            assert receipts[-1].body.count(replies[0].split("Référence : ")[1][:6]) == 1
