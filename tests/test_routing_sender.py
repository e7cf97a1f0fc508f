"""The sender through the routes: failover, shut routes, unknown outcomes, tokens and leases."""

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.infra import sms_gateways
from app.infra.models import Message, utcnow
from app.infra.orange import Orange
from app.messaging import outbox
from app.messaging.circuit import CLOSED, OPEN

from .helpers import (
    ORANGE_SENDER,
    FirstAcquire,
    carriers,
    queue_text,
    routed_app,
    routed_sender,
)
from .test_orange import token_requests
from .test_routing import BOTH, MOOV, OPEN_S, ORANGE, TELECEL, orange_phones
from .test_sender import Clock, campaign_row


def test_each_operator_its_provider_and_failover_while_orange_fails(make_app, sandbox):
    """Issue 18's "Done when": one sandbox emulates the three providers."""
    app = routed_app(make_app, sandbox, SMS_CIRCUIT_FAILURES=3, SMS_CIRCUIT_OPEN_S=OPEN_S)
    clock = Clock(datetime.now(UTC) + timedelta(seconds=1))
    with app.app_context(), app.extensions["db"]() as db:
        sender = routed_sender(app, db, clock.seconds)
        queue_text(app, db, [ORANGE, MOOV, TELECEL], "Un")
        sender.run(now_fn=clock)
        assert carriers(sandbox, "Un") == {ORANGE: "orange", MOOV: "infobip",
                                           TELECEL: "africastalking"}  # fmt: skip
        # Orange answers 503 for these numbers: three failures open its circuit. (One number
        # a request here: Orange's batch stops at its first 503, the rest left unasked.)
        failing = orange_phones(3, 10)
        sandbox.faults(orange_status={phone: "ServiceUnavailable" for phone in failing})
        queue_text(app, db, failing, "Deux")
        app.config["SMS_BATCH_SIZE"] = 1
        assert sender.run(now_fn=clock).retried == 3
        app.config["SMS_BATCH_SIZE"] = 100
        assert sender.routing.circuit.state("orange") == OPEN
        # The next messages to Orange numbers go through Infobip, the three retried too.
        queue_text(app, db, orange_phones(2, 20), "Trois")
        clock.sleep(30)  # the retries' backoff; Orange's circuit stays open
        assert sender.run(now_fn=clock).sent == 5
        assert set(carriers(sandbox, "Deux").values()) == {"infobip"}
        assert set(carriers(sandbox, "Trois").values()) == {"infobip"}
        # Orange is back. Once its circuit may be probed, one message probes it; the rest
        # of the batch, sent meanwhile, goes through Infobip...
        sandbox.faults()
        clock.sleep(OPEN_S)
        queue_text(app, db, orange_phones(3, 30), "Quatre")
        sender.run(now_fn=clock)
        assert Counter(carriers(sandbox, "Quatre").values()) == {"orange": 1, "infobip": 2}
        # ...and as the probe went through, the messages after it go through Orange again.
        queue_text(app, db, orange_phones(3, 40), "Cinq")
        sender.run(now_fn=clock)
        assert set(carriers(sandbox, "Cinq").values()) == {"orange"}
        rows = {(m.phone, m.body): (m.status, m.provider) for m in db.scalars(select(Message))}
    received = [(m["to"], m["message"]) for m in sandbox.messages()]
    assert len(rows) == 14 and sorted(received) == sorted(rows)  # each once: none lost or twice
    assert rows == {(m["to"], m["message"]): ("sent", m["provider"]) for m in sandbox.messages()}


def test_a_batch_started_before_its_providers_circuit_opened_is_routed_again(make_app, sandbox):
    """The second batch is started while the first is out; the first's 503 opens Orange's
    circuit, so the second never leaves for Orange: back in the queue, no attempt spent, it
    goes through Infobip, as the batches routed after the failure do."""
    app = routed_app(make_app, sandbox, SMS_CIRCUIT_FAILURES=1, SMS_CIRCUIT_OPEN_S=OPEN_S)
    app.config["SMS_BATCH_SIZE"] = 1
    clock = Clock(datetime.now(UTC) + timedelta(seconds=1))
    failing = orange_phones(3, 50)
    sandbox.faults(orange_status={phone: "ServiceUnavailable" for phone in failing})
    with app.app_context(), app.extensions["db"]() as db:
        sender = routed_sender(app, db, clock.seconds)
        queue_text(app, db, failing, "Un")
        tally = sender.run(now_fn=clock)
        assert (tally.sent, tally.retried) == (2, 1)
        assert sender.routing.circuit.state("orange") == OPEN
        rows = {m.phone: (m.status, m.attempts) for m in db.scalars(select(Message))}
    assert carriers(sandbox, "Un") == {failing[1]: "infobip", failing[2]: "infobip"}
    assert rows == {failing[0]: ("queued", 1), failing[1]: ("sent", 0), failing[2]: ("sent", 0)}


def test_rows_wait_while_every_provider_of_their_route_is_shut(make_app, sandbox):
    """Back in the queue, no attempt spent, until the first circuit of their route may be
    probed; then out, each as its provider's probe."""
    app = routed_app(make_app, sandbox, SMS_CIRCUIT_FAILURES=3, SMS_CIRCUIT_OPEN_S=OPEN_S)
    clock = Clock(datetime.now(UTC) + timedelta(seconds=1))
    with app.app_context(), app.extensions["db"]() as db:
        sender = routed_sender(app, db, clock.seconds)
        opened = {}
        for provider in BOTH:  # Orange's circuit opens, then Infobip's ten seconds later
            for _ in range(3):
                sender.routing.failed(provider)
            opened[provider] = clock.now
            clock.sleep(10)
        queue_text(app, db, [ORANGE, MOOV, TELECEL], "Un")
        sender.run(now_fn=clock)
        assert carriers(sandbox, "Un") == {TELECEL: "africastalking"}
        waiting = {m.phone: m for m in db.scalars(select(Message).where(Message.phone != TELECEL))}
        # Orange's route (orange, infobip) reopens with Orange; Moov's (infobip) with Infobip.
        for phone, provider in ((ORANGE, "orange"), (MOOV, "infobip")):
            row = waiting[phone]
            assert (row.status, row.attempts, row.provider, row.lease_owner) == (
                "queued", 0, None, None)  # fmt: skip
            due = opened[provider] + timedelta(seconds=OPEN_S)
            assert abs((row.not_before - due).total_seconds()) < 1
        clock.now = opened["orange"] + timedelta(seconds=OPEN_S)
        sender.run(now_fn=clock)
        assert carriers(sandbox, "Un") == {ORANGE: "orange", TELECEL: "africastalking"}
        clock.now = opened["infobip"] + timedelta(seconds=OPEN_S)
        sender.run(now_fn=clock)
        rows = list(db.scalars(select(Message)))
    assert carriers(sandbox, "Un") == {ORANGE: "orange", MOOV: "infobip",
                                       TELECEL: "africastalking"}  # fmt: skip
    assert {(m.phone, m.status, m.provider, m.attempts) for m in rows} == {
        (ORANGE, "sent", "orange", 0), (MOOV, "sent", "infobip", 0),
        (TELECEL, "sent", "africastalking", 0)}  # fmt: skip
    # Each probe went through and closed its circuit.
    assert [sender.routing.circuit.state(p) for p in BOTH] == [CLOSED, CLOSED]


def until(predicate, timeout_s: float = 10):
    """Wait for predicate() to be true, or fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


@pytest.mark.parametrize(("kind", "carried"), [("campaign", ["orange"]),
                                               ("alert", ["orange", "infobip"])])  # fmt: skip
def test_an_unknown_outcome_fails_over_only_when_at_least_once(make_app, sandbox, kind, carried):
    """Orange took the message but its answer came too late; its circuit opens. A campaign's
    is never sent again, through Infobip or any (at most once); an alert's is (at least once)."""
    app = routed_app(make_app, sandbox, SMS_CIRCUIT_FAILURES=1, SMS_CIRCUIT_OPEN_S=600)
    clock = Clock(datetime.now(UTC) + timedelta(seconds=1))
    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    # The adapter waits 0.2 s for an answer; the sandbox answers after a second.
    slow = Orange(redis, prefix, "sandbox-client", "sandbox-secret", ORANGE_SENDER,
                  base_url=sandbox.url, timeout=(2, 0.2))  # fmt: skip
    slow.token()  # at hand before Orange slows down: the send is what times out
    with app.app_context(), app.extensions["db"]() as db:
        sender = routed_sender(
            app, db, clock.seconds, {**app.extensions["gateways"], "orange": slow}
        )
        campaign = campaign_row(db) if kind == "campaign" else None
        queue_text(app, db, [ORANGE], "Alerte", kind=kind, campaign_id=campaign)
        sandbox.faults(latency_ms=1000)
        assert sender.run(now_fn=clock).unknown == 1
        assert sender.routing.circuit.state("orange") == OPEN
        until(lambda: sandbox.messages())  # it did reach Orange, after the adapter gave up
        sandbox.faults()
        clock.sleep(app.config["SMS_RECONCILE_S"] + 1)  # no delivery report came meanwhile
        counts = outbox.reap(db, app.config, clock())
        sender.run(now_fn=clock)
        row = db.scalars(select(Message)).one()
    assert [m["provider"] for m in sandbox.messages()] == carried
    if kind == "campaign":
        assert counts["closed"] == 1 and row.finished_at is not None
        assert (row.status, row.provider, row.attempts) == ("unknown", "orange", 0)
    else:
        assert counts["resent"] == 1
        assert (row.status, row.provider, row.attempts) == ("sent", "infobip", 1)


def test_two_workers_renew_an_expired_token_once_mid_campaign(make_app, sandbox):
    """Two workers (their own sessions and adapters; one app, one Redis) share Orange's token,
    and renew it once when it expires halfway through a campaign."""
    app = routed_app(make_app, sandbox, SMS_BATCH_SIZE=5)
    redis, sessions = app.extensions["redis"], app.extensions["db"]
    phones = orange_phones(20, 100)
    with sessions() as db:
        campaign = campaign_row(db)

    def worker(db):
        # A worker of its own builds its own gateways; the token is shared through Redis.
        return routed_sender(app, db, gateways=sms_gateways.build(app.config, redis))

    chosen, sent, failures = threading.Barrier(2), [], []

    def send(sender) -> None:
        with app.app_context():
            # Each has its batch chosen before either starts: on PostgreSQL, five rows each.
            throttle = FirstAcquire(sender.throttle("orange"), lambda: chosen.wait(timeout=10))
            sender.throttle = lambda provider: throttle
            try:
                sent.append(sender.send().sent)
            except Exception as exc:  # shown by the assertion below, not lost in the thread
                failures.append(exc)

    with sessions() as first, sessions() as second:
        workers = [worker(first), worker(second)]
        for n, sender in enumerate(workers):
            queue_text(app, first, phones[n * 5 : n * 5 + 5], "Campagne", kind="campaign",
                       campaign_id=campaign)  # fmt: skip
            assert sender.send().sent == 5
        assert token_requests(sandbox.url) == 1  # one token for both
        # The token expires; Orange answers slowly (its requests go one phone each), so
        # both workers' batches are out together, and both meet the refusal.
        queue_text(app, first, phones[10:], "Campagne", kind="campaign", campaign_id=campaign)
        sandbox.faults(orange_token_expired=True, latency_ms=300)
        threads = [threading.Thread(target=send, args=(sender,)) for sender in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert failures == [] and sent == [5, 5]
    assert token_requests(sandbox.url) == 2  # exactly one renewal for the expiry
    with sessions() as db:
        rows = list(db.scalars(select(Message)))
    assert {(m.status, m.provider) for m in rows} == {("sent", "orange")}
    assert sorted(m["to"] for m in sandbox.messages()) == phones  # each exactly once
    assert {m["provider"] for m in sandbox.messages()} == {"orange"}


def test_a_slow_orange_batch_leaves_the_rest_unasked_and_spends_no_attempt(make_app, sandbox):
    """One request per phone: past its budget (what leaves the last request done within half
    the lease) the batch stops, and the rows it did not ask go straight back to the queue."""
    app = routed_app(make_app, sandbox, SMS_LEASE_S=1)  # a budget of one request
    sandbox.faults(latency_ms=300)
    phones = orange_phones(3, 70)
    with app.extensions["db"]() as db:
        queue_text(app, db, phones, "Lent")
        tally = routed_sender(app, db).run(budget_s=0.1)
        rows = {m.phone: m for m in db.scalars(select(Message))}
    assert tally.sent == 1 and list(carriers(sandbox, "Lent")) == phones[:1]
    waiting = [rows[p] for p in phones[1:]]
    assert [(m.status, m.attempts, m.lease_owner) for m in waiting] == [("queued", 0, None)] * 2


def test_what_a_request_learns_after_its_lease_ran_out_overwrites_nothing(make_app, sandbox):
    """The request outlived its lease and reap settled the row meanwhile: reap's word stands."""
    app = routed_app(make_app, sandbox, SMS_LEASE_S=1, SMS_RECONCILE_S=60)
    sandbox.faults(latency_ms=2000)
    with app.extensions["db"]() as db:
        queue_text(app, db, ["+22350000001"], "Tard")  # Telecel: through AT, one request

        def reap_meanwhile():
            with app.extensions["db"]() as other:

                def sending() -> bool:
                    status = other.scalars(select(Message.status)).one()
                    other.commit()  # the next look sees what was committed since
                    return status == "sending"

                until(sending)
                # As reap would once the lease ran out, the request still on its way.
                outbox.reap(other, app.config, utcnow() + timedelta(seconds=2))

        thread = threading.Thread(target=reap_meanwhile)
        thread.start()
        routed_sender(app, db).run(budget_s=0.1)
        thread.join()
        db.expire_all()
        row = db.scalars(select(Message)).one()
    assert (row.status, row.reason) == ("unknown", "worker lost during the request")
    assert row.provider_id is None and list(carriers(sandbox, "Tard")) == ["+22350000001"]


def test_what_orange_did_not_ask_after_a_503_waits_without_spending_an_attempt(make_app, sandbox):
    """Orange stops a batch at its first 503: the next numbers would fare no better."""
    app = routed_app(make_app, sandbox, SMS_CIRCUIT_FAILURES=50)
    clock = Clock(datetime.now(UTC) + timedelta(seconds=1))
    phones = orange_phones(3, 90)
    sandbox.faults(orange_status={phones[0]: "ServiceUnavailable"})
    with app.extensions["db"]() as db:
        queue_text(app, db, phones, "Attente")
        tally = routed_sender(app, db, clock.seconds).run(now_fn=clock)
        rows = {m.phone: m for m in db.scalars(select(Message))}
    assert (tally.retried, tally.sent, carriers(sandbox, "Attente")) == (1, 0, {})
    assert rows[phones[0]].attempts == 1
    waiting = [rows[p] for p in phones[1:]]
    assert [(m.status, m.attempts, m.provider) for m in waiting] == [("queued", 0, None)] * 2
    assert {m.not_before for m in waiting} == {clock() + timedelta(seconds=30)}


def test_a_probe_routed_with_a_failing_request_before_it_still_goes(make_app, sandbox):
    """Orange may be probed; in the same chunk, a request to Africa's Talking before the
    probe answers badly. The probe goes all the same: a circuit being probed is not shut."""
    app = routed_app(make_app, sandbox, SMS_CIRCUIT_FAILURES=3, SMS_CIRCUIT_OPEN_S=OPEN_S)
    clock = Clock(datetime.now(UTC) + timedelta(seconds=1))
    with app.app_context(), app.extensions["db"]() as db:
        sender = routed_sender(app, db, clock.seconds)
        for _ in range(3):
            sender.routing.failed("orange")
        clock.sleep(OPEN_S)  # its probe is due
        sandbox.faults(recipient_status={TELECEL: 405})  # Africa's Talking: try again later
        queue_text(app, db, [TELECEL, ORANGE], "Un")
        tally = sender.run(now_fn=clock)
        assert (tally.sent, tally.retried) == (1, 1)
        assert sender.routing.circuit.state("orange") == CLOSED
    assert carriers(sandbox, "Un") == {ORANGE: "orange"}


def test_a_later_request_of_a_choice_is_not_sent_to_a_circuit_that_opened(make_app, sandbox):
    """One choice, three requests: Orange's (its 503 opens its circuit), AT's, Orange's
    again. The last goes by Orange's next provider, Infobip, not to the open circuit."""
    app = routed_app(make_app, sandbox, SMS_CIRCUIT_FAILURES=1, SMS_CIRCUIT_OPEN_S=OPEN_S)
    clock = Clock(datetime.now(UTC) + timedelta(seconds=1))
    failing, later = orange_phones(1, 50), orange_phones(1, 60)
    sandbox.faults(orange_status={failing[0]: "ServiceUnavailable"})
    with app.app_context(), app.extensions["db"]() as db:
        queue_text(app, db, failing, "Un")
        queue_text(app, db, [TELECEL], "Deux")
        queue_text(app, db, later, "Trois")
        sender = routed_sender(app, db, clock.seconds)
        sender.send(clock)
        assert sender.routing.circuit.state("orange") == OPEN
    assert carriers(sandbox, "Trois") == {later[0]: "infobip"}
    assert carriers(sandbox, "Deux") == {TELECEL: "africastalking"}


class OpensMeanwhile:
    """A gateway whose first request, as it goes, has another worker's failure open the
    provider's circuit (through the shared Redis)."""

    def __init__(self, gateway, routing, provider):
        self.gateway, self.routing, self.provider, self.first = gateway, routing, provider, True

    def send(self, phones, text, sender=None):
        if self.first:
            self.first = False
            self.routing.failed(self.provider)
        return self.gateway.send(phones, text, sender=sender)

    def __getattr__(self, name):
        return getattr(self.gateway, name)


def test_a_later_request_of_a_choice_keeps_off_a_circuit_another_worker_opened(make_app, sandbox):
    """One choice, two requests to Orange: while the first is out, another worker's failure
    opens Orange's circuit. The second goes by Infobip, chosen and routed again."""
    app = routed_app(make_app, sandbox, SMS_CIRCUIT_FAILURES=1, SMS_CIRCUIT_OPEN_S=OPEN_S)
    clock = Clock(datetime.now(UTC) + timedelta(seconds=1))
    first, second = orange_phones(1, 50), orange_phones(1, 60)
    with app.app_context(), app.extensions["db"]() as db:
        queue_text(app, db, first, "Un")
        queue_text(app, db, second, "Deux")
        sender = routed_sender(app, db, clock.seconds)
        gateways = sender.routing.gateways
        gateways["orange"] = OpensMeanwhile(gateways["orange"], sender.routing, "orange")
        assert sender.send(clock).sent == 2
    assert carriers(sandbox, "Un") == {first[0]: "orange"}
    assert carriers(sandbox, "Deux") == {second[0]: "infobip"}
