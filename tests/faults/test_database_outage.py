"""The database away for 10 s: hops that need it say so politely, and nothing is lost."""

import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app.infra.models import Case, Message
from workers.jobs import dispatch

from ..conftest import Dial
from ..helpers import BODY, SMS
from .proxy import Proxy

OUTAGE_S = 10
UNAVAILABLE = "END Service momentanément indisponible."


@pytest.fixture
def outage(database_url):
    """A proxy in front of this run's PostgreSQL database, to cut it off."""
    if not database_url.startswith("postgresql"):
        pytest.skip("an outage of an embedded SQLite file is not a failure mode: needs PostgreSQL")
    url = make_url(database_url)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    proxy.close()


def test_a_database_outage_costs_no_report_and_no_sms(make_app, sandbox, outage):
    proxy, proxied = outage
    app = make_app(DATABASE_URL=proxied, AT_API_BASE_URL=sandbox.url, SMS_SEND_WINDOW="always")
    client = app.test_client()
    reporter, walker = Dial(client, phone="+22376000501"), Dial(client, phone="+22376000502")
    walker("5")  # a new caller browsing the menus: its profile is cached for the day
    # Everything but the last answer, Envoyer; a call back and the reference by SMS.
    before = reporter("2", *BODY, SMS)
    assert "1. Envoyer" in before

    proxy.cut()
    started, replies = time.monotonic(), []
    while time.monotonic() - started < OUTAGE_S:
        # Menus need no database: they go on as if nothing happened.
        assert walker("0").startswith("CON ") and walker("5").startswith("CON ")
        assert client.post("/ussd", data={}).status_code == 400  # bad input is still told
        replies.append(Dial(client, phone=f"+2237650{len(replies):04d}")())  # new callers
        time.sleep(0.5)
    hop_started = time.monotonic()
    sent = reporter("1")  # Envoyer: the case cannot be written now
    assert time.monotonic() - hop_started < 4  # well within the gateway's patience
    assert sent.startswith(UNAVAILABLE)
    assert all(r.startswith(UNAVAILABLE) for r in replies), set(replies)
    with app.app_context(), pytest.raises(OperationalError):
        dispatch()  # the worker's job fails, and RQ or the next tick runs it again
    proxy.restore()

    # The caller dials again: the report is where it was, and goes through once.
    again = Dial(client, phone="+22376000501")
    assert "Reprendre" in again()
    assert "1. Envoyer" in again("1")
    done = again("1")
    assert done.startswith("END Merci. Référence : ")
    reference = done.split("Référence : ")[1][:6]
    with app.extensions["db"]() as db:
        assert db.scalar(select(func.count()).select_from(Case)) == 1
        assert db.scalars(select(Case.reference)).one() == reference
    with app.app_context():  # the outbox picks up where it stopped
        dispatch()
    (receipt,) = sandbox.messages("+22376000501")
    assert reference in receipt["message"]
    with app.extensions["db"]() as db:
        statuses = set(db.scalars(select(Message.status)))
    assert statuses <= {"sent", "delivered"}, statuses
