"""GET /metrics: every family after hops and a campaign sent to the sandbox, the token that
guards it, and gunicorn's workers summed in prometheus_client's multiprocess mode."""

from collections import Counter

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue
from sqlalchemy import select

from app.infra import redis_client
from app.infra.gateway import FAILED, NOT_TRIED, RETRY, SENT, UNKNOWN, GatewayError, Result
from app.infra.models import Message
from app.infra.sessions import Busy
from app.messaging.campaigns.creation import create
from app.messaging.notify import QUEUES
from app.messaging.send_stats import SendStats, results
from app.web.hop_guard import guarded
from workers import jobs

from .conftest import Dial
from .deploy.test_image import container_env, free_port, start, stop, until
from .helpers import CALM, report, write_behind
from .test_training import choose, course, open_module, read_lessons
from .test_training_journey import agents
from .test_workers import add_contacts, sending

TOKEN = "a-metrics-token-for-prometheus-0123456789"
AWA = "+22370000411"


def scrape(client, **headers) -> dict:
    """Return every sample of a scrape: {(name, labels as sorted pairs): value}."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return samples(response.get_data(as_text=True))


def counted_again(app) -> None:
    """Drop the database's figures kept for the next scrapes, as their few seconds do."""
    app.extensions["redis"].delete(app.config["REDIS_PREFIX"] + "metrics:gauges")


def samples(text: str) -> dict:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def by(found: dict, name: str, label: str, **where) -> dict:
    """Return a sample's values by one of its labels, {label value: value}, among those whose
    other labels are as where says."""
    return {
        dict(labels)[label]: value
        for (n, labels), value in found.items()
        if n == name and where.items() <= dict(labels).items()
    }


def posts(caller: Dial) -> int:
    """Return how many hops a Dial made in its session (the first, then each input)."""
    return 1 + len(caller.inputs)


# -- every family, as what was done -------------------------------------------------------------


def test_a_scrape_counts_the_hops_by_kind_and_times_each(app, client):
    """A training (lessons, answers), a report, a repeat: each hop counted once, by what it did."""
    agents(app, AWA)
    learner = Dial(client, phone=AWA)
    learner()
    open_module(learner)
    read_lessons(learner, course(app).modules[0])
    answered = 0
    for _ in range(2):
        learner(choose(app, learner), "1")
        answered += 1
    learner.post("*".join(learner.inputs))  # the gateway's copy of the last hop
    reporter, _ = report(client, *CALM)
    found = scrape(client)
    kinds = by(found, "kalan_hops_total", "kind", channel="ussd")
    made = posts(learner) + 1 + posts(reporter)
    assert sum(kinds.values()) == made
    assert kinds["first"] == 2  # one per caller: the day's profile read from SQL
    assert kinds["report"] == 1 and kinds["repeat"] == 1
    assert kinds["answer"] == answered
    # The module's first screen, then each page turned: each keeps the learner's place.
    assert kinds["lesson"] == 1 + course(app).modules[0].lessons
    assert kinds["navigation"] == made - 4 - answered - kinds["lesson"]
    assert set(by(found, "kalan_hops_total", "kind", channel="voice").values()) == {0}
    counted = by(found, "kalan_hop_seconds_count", "kind")
    assert counted == kinds  # one time per hop, in the histogram of its kind
    assert all(by(found, "kalan_hop_seconds_sum", "kind")[k] > 0 for k, n in kinds.items() if n)
    buckets = [
        (float(dict(labels)["le"]), value)
        for (name, labels), value in found.items()
        if name == "kalan_hop_seconds_bucket" and dict(labels)["kind"] == "navigation"
    ]
    assert [le for le, _ in buckets][:3] == [0.001, 0.0025, 0.005]  # milliseconds
    assert max(buckets)[1] == kinds["navigation"]  # +Inf holds every hop
    # The report's receipt woke the workers, in the hop's own round trip: one job waits.
    queued = by(found, "kalan_queue_jobs", "queue")
    assert set(queued) == set(QUEUES)
    assert queued == {"default": 1, "urgent": 0, "bulk": 0}
    bulk = Queue(app.config["REDIS_PREFIX"] + "bulk", connection=app.extensions["redis"])
    for _ in range(3):
        bulk.enqueue("app.infra.logs.request_id")
    assert by(scrape(client), "kalan_queue_jobs", "queue") == {"default": 1, "urgent": 0, "bulk": 3}


def test_the_steps_not_yet_written_to_sql_are_shown_until_the_clock_writes_them(app, client):
    """Lesson places and answers wait in Redis for the clock: the backlog says how many."""
    agents(app, AWA)
    learner = Dial(client, phone=AWA)
    learner()
    open_module(learner)
    read_lessons(learner, course(app).modules[0])
    learner(choose(app, learner), "1")
    waiting = app.extensions["redis"].xlen(app.config["REDIS_PREFIX"] + "progress")
    assert waiting >= 2  # the lessons after the first, and the answer
    assert scrape(client)[("kalan_progress_backlog", ())] == waiting
    assert write_behind(app) == waiting
    assert scrape(client)[("kalan_progress_backlog", ())] == 0


def test_a_scrape_shows_the_outbox_the_providers_circuits_and_campaigns(sms_app, sandbox):
    client = sms_app.test_client()
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        phones = add_contacts(db, 7)
        sandbox.faults(recipient_status={p: 406 for p in phones[:2]})  # blacklisted: failed
        campaign = sending(db, phones)
        campaign.recipients = len(phones)
        db.commit()
        # A campaign over: its numbers are no longer shown.
        create(db, "Passée", {"fr": "Bonjour"}, {}).status = "done"
        db.commit()
        before = scrape(client)
        jobs._sender(db).run()  # as a dispatch sends, without finishing the campaign
        sent = select(Message.provider_id, Message.phone).where(Message.status == "sent")
        provider_id, phone = db.execute(sent).first()
    delivered = {"id": provider_id, "status": "Success", "phoneNumber": phone}
    assert client.post("/sms/delivery", data=delivered).status_code == 200
    counted_again(sms_app)
    found = scrape(client)
    with sms_app.extensions["db"]() as db:
        states = Counter(db.scalars(select(Message.status)))
    assert by(before, "kalan_outbox_messages", "state")["queued"] == 7
    outbox = by(found, "kalan_outbox_messages", "state")
    assert {s: n for s, n in outbox.items() if n} == states
    assert states == {"sent": 4, "failed": 2, "delivered": 1}
    sends = by(found, "kalan_provider_sends_total", "result")
    assert sends == {"sent": 5, "failed": 2, "unknown": 0, "not_tried": 0}
    received = {m["to"] for m in sandbox.messages()}
    assert received == set(phones[2:])  # the five the provider took
    requests_made = found[("kalan_provider_send_seconds_count", (("provider", "africastalking"),))]
    assert requests_made >= 1
    assert found[("kalan_provider_send_seconds_sum", (("provider", "africastalking"),))] > 0
    assert by(found, "kalan_circuit_state", "provider") == {"africastalking": 0}
    assert by(found, "kalan_campaign_recipients", "campaign") == {str(campaign.id): 7}
    progress = by(found, "kalan_campaign_messages", "state")
    assert progress == {"sent": 4, "delivered": 1, "failed": 2}
    assert by(found, "kalan_metrics_source_up", "source") == {"redis": 1, "database": 1}


A, B, C, D = "+22370000001", "+22370000002", "+22370000003", "+22370000004"


@pytest.mark.parametrize(
    ("answer", "counted"),
    [
        (GatewayError("timeout", unknown=True), {"unknown": 4}),
        (GatewayError("HTTP 401", unknown=False), {"failed": 4}),
        ([Result(A, SENT), Result(B, FAILED), Result(C, RETRY), Result(D, UNKNOWN)],
         {"sent": 1, "failed": 2, "unknown": 1}),
        ([Result(A, SENT), Result(B, RETRY, status=NOT_TRIED)], {"sent": 1, "not_tried": 1,
                                                                  "unknown": 2}),
    ],
)  # fmt: skip
def test_a_requests_recipients_are_counted_by_result(answer, counted):
    """A retry later is a failed try now; a recipient the answer leaves out may have got it."""
    assert results([A, B, C, D], answer) == counted


def test_a_send_whose_results_cannot_be_counted_still_goes(sms_app, sandbox, caplog):
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        campaign = sending(db, add_contacts(db, 2))
        sender = jobs._sender(db)
        nowhere = redis_client.connect({"REDIS_URL": "redis://127.0.0.1:1/0"})
        sender.stats = SendStats(nowhere, "nowhere:")
        assert sender.run().sent == 2
        assert {m.status for m in db.scalars(select(Message))} == {"sent"}
    assert len(sandbox.messages()) == 2 and campaign.id
    assert "the results of a request to africastalking were not counted: Redis" in caplog.text


def test_an_open_circuit_shows(sms_app):
    circuit = sms_app.extensions["routing"].circuit
    for _ in range(sms_app.config["SMS_CIRCUIT_FAILURES"]):
        circuit.record("africastalking", ok=False)
    found = scrape(sms_app.test_client())
    assert by(found, "kalan_circuit_state", "provider") == {"africastalking": 2}


def test_a_store_that_does_not_answer_is_said_so_and_the_rest_is_shown(make_app):
    client = make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client()
    found = scrape(client)
    assert by(found, "kalan_metrics_source_up", "source") == {"redis": 0, "database": 1}
    assert by(found, "kalan_outbox_messages", "state")["queued"] == 0
    assert not by(found, "kalan_queue_jobs", "queue")


# -- failed hops, by cause ----------------------------------------------------------------------


def test_failed_hops_are_counted_by_cause(make_app, app, client):
    first = Dial(client)
    first()
    # Another phone naming the same session.
    response = client.post("/ussd", data={"phoneNumber": "+22370000098", "serviceCode": "*123#",
                                          "text": "1", "sessionId": first.session_id})  # fmt: skip
    assert response.status_code == 403
    down = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    assert "END" in Dial(down.test_client())()
    with app.test_request_context():

        def busy():
            raise Busy("still answering")

        def broken():
            raise KeyError("state")

        assert guarded(busy, "USSD")[2] == "error.unavailable"
        assert guarded(broken, "USSD")[2] == "error.unexpected"
    assert by(scrape(client), "kalan_hop_errors_total", "cause") == {
        "refused": 1, "busy": 1, "flow": 1, "storage": 0,
    }  # fmt: skip
    assert by(scrape(down.test_client()), "kalan_hop_errors_total", "cause")["storage"] == 1


# -- who may read them --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status", "line"),
    [
        ({}, 401, "/metrics needs the header Authorization: Bearer METRICS_TOKEN"),
        ({"Authorization": "Basic " + TOKEN}, 401, "/metrics needs the header"),
        ({"Authorization": "Bearer"}, 401, "/metrics needs the header"),
        ({"Authorization": "Bearer " + TOKEN[:-1]}, 403, "wrong metrics token"),
        ({"Authorization": "Bearer " + TOKEN + "x"}, 403, "wrong metrics token"),
        ({"Authorization": "Bearer " + TOKEN}, 200, "# HELP kalan_hops_total"),
        ({"Authorization": "bearer " + TOKEN}, 200, "# HELP kalan_hops_total"),
    ],
)
def test_the_token_is_asked_for_and_checked(make_app, headers, status, line):
    client = make_app(METRICS_TOKEN=TOKEN).test_client()
    response = client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert response.status_code == status
    assert line in response.get_data(as_text=True)
    if status == 401:
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'


@pytest.mark.parametrize(
    ("settings", "address", "status"),
    [
        ({}, "127.0.0.1", 200),
        ({}, "::1", 200),
        ({}, "10.0.0.5", 403),
        ({}, "192.168.1.20", 403),
        # Production refuses to start without a token; an app made anyway shows nothing.
        ({"APP_ENV": "production", "SECRET_KEY": "x" * 32, "WEBHOOK_TOKEN": "t"}, "127.0.0.1", 403),
    ],
)
def test_without_a_token_only_this_machine_may_read_them_in_development(
    make_app, settings, address, status
):
    client = make_app(**settings).test_client()
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == status
    if status == 403:
        assert response.get_data(as_text=True) == (
            "METRICS_TOKEN is not set: /metrics answers this machine only\n"
        )


def test_apps_side_by_side_keep_counts_of_their_own(make_app):
    """Each app has its registry: the global one of prometheus_client would refuse a second."""
    first, second = make_app().test_client(), make_app().test_client()
    Dial(first)()
    assert by(scrape(first), "kalan_hops_total", "kind", channel="ussd")["first"] == 1
    assert by(scrape(second), "kalan_hops_total", "kind", channel="ussd")["first"] == 0


# -- gunicorn's workers, summed -----------------------------------------------------------------


def test_gunicorns_workers_are_summed_and_a_restart_counts_afresh(app, tmp_path):
    """The Procfile's web, two workers: hops spread over both are all counted, from the files
    in PROMETHEUS_MULTIPROC_DIR; a new server empties the folder first."""
    folder = tmp_path / "metrics"

    def serve_and_dial(hops: int) -> dict:
        port = free_port()
        env = container_env(app, tmp_path, PORT=str(port), WEB_CONCURRENCY="2",
                            PROMETHEUS_MULTIPROC_DIR=str(folder))  # fmt: skip
        web = start("web", env)
        url = f"http://127.0.0.1:{port}"
        try:
            until(lambda: _answers(url + "/healthz", web))
            for n in range(hops):
                form = {"phoneNumber": f"+2237000{n:04d}", "serviceCode": "*123#", "text": "",
                        "sessionId": f"ATUid_gunicorn_{port}_{n}"}  # fmt: skip
                assert requests.post(url + "/ussd", data=form, timeout=10).status_code == 200
            # Whichever worker answers the scrape, it reads every worker's file.
            scrapes = [requests.get(url + "/metrics", timeout=10) for _ in range(4)]
        finally:
            stop(web)
        return [by(samples(s.text), "kalan_hops_total", "kind", channel="ussd") for s in scrapes]

    assert all(sum(kinds.values()) == 6 for kinds in serve_and_dial(6))
    assert list(folder.glob("*.db"))
    assert all(sum(kinds.values()) == 1 for kinds in serve_and_dial(1))


def _answers(url: str, web) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.ConnectionError:
        return web.poll() is not None and pytest.fail(web.stdout.read())


def test_campaign_gauges_name_no_campaign(sms_app):
    """By id only: a campaign's name may say whom it is for."""
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        campaign = sending(db, add_contacts(db, 1))
        campaign.name = "Parents de Sikasso"
        db.commit()
    text = sms_app.test_client().get("/metrics").get_data(as_text=True)
    assert f'kalan_campaign_recipients{{campaign="{campaign.id}"}}' in text
    assert "Sikasso" not in text and "+223" not in text
