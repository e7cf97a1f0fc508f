"""Log lines: JSON in production, a request's id from the request to the jobs it queues, and
never a phone number, whatever the journey."""

import io
import json
import logging
import os
import re
import subprocess
import sys

import pytest
from rq.job import Job

from app.infra import logs
from app.infra.config import ROOT
from workers import LoggedJob, jobs

from .conftest import Dial, Runner
from .helpers import CALM, REPORTER, SMS, SUPERVISOR, AuthActions, password_hash, report
from .test_sms import inbound
from .test_training import choose, course, open_module, read_lessons
from .test_training_journey import agents

AWA, TEXTER, LEAVER, FOCAL = "+22370000411", "+22376000011", "+22376000012", "+22370100001"
PIN = "739164"
REQUEST = "req-from-the-gateway-0001"


def forms(phone: str) -> list[str]:
    """Return the ways a Malian number may be written: +223..., 223..., 8 digits, spaced."""
    local = phone[4:]
    spaced = " ".join(local[i : i + 2] for i in range(0, 8, 2))
    return [phone, phone[1:], local, spaced]


# -- the safety net -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "args", "shown"),
    [
        ("sent to %s", ("+22370000411",), "sent to [number]"),
        ("sent to %s", ("22370000411",), "sent to [number]"),
        ("sent to %s", (22370000411,), "sent to [number]"),  # not a string
        ("sent to %d", (70000411,), "sent to [number]"),
        ("call 70 00 04 11 back", (), "call [number] back"),
        ("from tel:+22370000411, to 0022376000555", (), "from tel:[number], to [number]"),
        ("contact %(phone)s", ({"phone": "+22370000411"},), "contact [number]"),
        # What only looks like numbers is kept: dates, short references, ids, addresses.
        ("case 300001 moved on 2026-03-10 at 12:00:05", (), None),
        ("job kalan-dispatch-12345678ab from 127.0.0.1", (), None),
        ("%s rows in %.2f s", (1234567, 0.5), "1234567 rows in 0.50 s"),
    ],
)  # fmt: skip
def test_anything_like_a_phone_number_is_hidden(message, args, shown):
    """shown: the line logged; None: the message as it is."""
    line, _ = logged(logging.WARNING, message, *args)
    assert line == (message if shown is None else shown)


def test_a_traceback_and_extras_are_hidden_too():
    try:
        raise ValueError("duplicate key (phone)=(+22370000411)")
    except ValueError:
        line, record = logged(logging.ERROR, "could not store", exc_info=sys.exc_info(),
                              extra={"to": "22370000411", "count": 3})  # fmt: skip
    assert "22370000411" not in line and "(phone)=([number])" in line
    assert (record.to, record.count) == ("[number]", 3)


@pytest.mark.parametrize("written", forms(AWA))
@pytest.mark.parametrize("kind", [ValueError, lambda text: {"to": text}, lambda text: [text]])
def test_a_message_and_extras_of_any_type_are_hidden_too(kind, written):
    """An exception or a dict logged as the message itself, and extras that are no strings:
    neither the line nor its JSON shows the number, in any of its forms."""
    digits = int(written.replace(" ", "").lstrip("+"))
    extra = {"to": {"phone": written}, "phones": [written], "number": digits, "count": 12}
    line, record = logged(logging.WARNING, kind(f"refused by {written}"), extra=extra)
    shown = line + " " + logs.JsonLines().format(record)
    assert "[number]" in line and "refused by" in line
    assert [form for form in forms(AWA) if form in shown] == []
    assert json.loads(logs.JsonLines().format(record))["count"] == 12  # a count stays a number


def test_a_wrong_format_is_shown_without_its_arguments(capsys):
    """Logging's own report of a wrong format printed the arguments, a number among them."""
    line, record = logged(logging.WARNING, "%d rows for %s", "many", "+22370000411")
    shown = line + logs.JsonLines().format(record) + "".join(capsys.readouterr())
    assert line == "%d rows for %s [not shown: TypeError]"
    assert [form for form in forms("+22370000411") if form in shown] == []


class Unprintable:
    """An object whose text cannot be had, and whose repr holds a number."""

    def __str__(self):
        raise RuntimeError(f"no text for {AWA}")

    def __repr__(self):
        return f"Unprintable({AWA})"


@pytest.mark.parametrize(("message", "args"), [(Unprintable(), ()), ("to %s", (Unprintable(),))])
def test_a_message_that_cannot_be_shown_never_raises_into_the_code_that_logs(message, args, capsys):
    line, record = logged(logging.WARNING, message, *args)
    shown = line + logs.JsonLines().format(record) + "".join(capsys.readouterr())
    assert "[not shown: RuntimeError]" in line
    assert [form for form in forms(AWA) if form in shown] == []


def logged(level: int, message: str, *args, exc_info=None, extra=None):
    """Hand a record to a handler prepared as production's; return its line and the record.

    Straight to the handler: pytest puts handlers of its own on every logger, which fail
    the test at a bad format rather than let logging report it."""
    stream = io.StringIO()
    handler = logs.prepare(logging.StreamHandler(stream), "text")
    handler.setFormatter(logging.Formatter("%(message)s"))
    record = logging.getLogger("tests.logs").makeRecord(
        "tests.logs", level, __file__, 1, message, args, exc_info, extra=extra
    )
    handler.handle(record)
    return stream.getvalue().strip(), record


# -- JSON lines ---------------------------------------------------------------------------------


def test_an_extra_never_hides_the_lines_own_fields():
    record = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed", None, None)
    record.level, record.message_id = "INFO", "m-1"
    line = json.loads(logs.JsonLines().format(record))
    assert (line["level"], line["message"], line["message_id"]) == ("ERROR", "failed", "m-1")


@pytest.mark.parametrize(
    ("log_format", "app_env", "chosen"),
    [("", "production", "json"), ("", "development", "text"), ("json", "development", "json"),
     ("text", "production", "text")],
)  # fmt: skip
def test_production_logs_json_unless_told_otherwise(log_format, app_env, chosen):
    assert logs.choose(log_format, app_env) == chosen


def test_a_process_logs_one_json_object_a_line_with_the_requests_id(app):
    """As a production process logs: the factory sets the root logger up, before any line."""
    script = f"""
import logging
from app import create_app
app = create_app({{"REDIS_URL": {app.config["REDIS_URL"]!r},
                  "DATABASE_URL": {app.config["DATABASE_URL"]!r},
                  "REDIS_PREFIX": {app.config["REDIS_PREFIX"]!r}}})
form = {{"id": "ATXid_nobody", "status": "Success", "phoneNumber": "{TEXTER}"}}
answer = app.test_client().post("/sms/delivery", data=form, headers={{"X-Request-Id": "{REQUEST}"}})
assert answer.headers["X-Request-Id"] == "{REQUEST}"
logging.getLogger("app.campaigns").warning("texted %s", "{TEXTER}", extra={{"campaign": 7}})
"""
    env = {**os.environ, "LOG_FORMAT": "json", "APP_ENV": "development"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    unknown, texted = lines[-2:]
    assert unknown["message"] == "delivery report for an unknown message id ATXid_nobody"
    assert (unknown["level"], unknown["logger"], unknown["request_id"]) == ("INFO", "app", REQUEST)
    assert set(unknown) == {"time", "level", "logger", "message", "request_id"}
    assert unknown["time"].endswith("+00:00")
    assert texted == {**texted, "message": "texted [number]", "level": "WARNING",
                      "logger": "app.campaigns", "request_id": None, "campaign": 7}  # fmt: skip


# -- the request's id ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (REQUEST, True),
        ("7f3e2a9c-1b4d-4e8f-9a2b-3c4d5e6f7a8b", True),
        ("1-5e8f:trace.42", True),
        ("short", False),
        ("x" * 65, False),
        ("two words here", False),
        ('quote"inside-it', False),
        ("22376000011", False),  # looks like a phone: never written to a log
        ("", False),
    ],
)
def test_each_request_gets_an_id_the_gateways_own_if_sane(client, given, kept):
    headers = {"X-Request-Id": given} if given else {}
    answer = client.get("/healthz", headers=headers).headers["X-Request-Id"]
    if kept:
        assert answer == given
    else:
        assert len(answer) == 32 and int(answer, 16) >= 0
    assert logs.request_id() is None  # nothing is left behind once it is answered


def test_the_jobs_a_request_queues_carry_its_id(app, client):
    client.environ_base["HTTP_X_REQUEST_ID"] = REQUEST
    report(client, *CALM)  # the receipt wakes the workers, in the hop's own round trip
    assert inbound(client, "AIDE").status_code == 200  # the answer wakes them too
    queue = app.extensions["queue"]
    queued = [queue.fetch_job(job_id) for job_id in queue.job_ids]
    assert len(queued) == 2
    assert [job.meta.get(logs.META) for job in queued] == [REQUEST, REQUEST]
    del client.environ_base["HTTP_X_REQUEST_ID"]
    assert inbound(client, "AIDE", msg_id="2").status_code == 200
    assert all(queue.fetch_job(i).meta.get(logs.META) != REQUEST for i in queue.job_ids[2:])


def test_a_job_runs_with_the_id_of_the_request_that_queued_it(app):
    workers, redis = app.extensions["workers"], app.extensions["redis"]
    token = logs.REQUEST_ID.set(REQUEST)
    try:
        asked = workers.enqueue("app.infra.logs.request_id")
    finally:
        logs.REQUEST_ID.reset(token)
    alone = workers.enqueue("app.infra.logs.request_id")  # by a tick: no request
    assert LoggedJob.fetch(asked.id, connection=redis).perform() == REQUEST
    assert logs.request_id() is None
    assert LoggedJob.fetch(alone.id, connection=redis).perform() is None
    assert Job.fetch(asked.id, connection=redis).perform() is None  # RQ's own job knows nothing


# -- no number in any line ----------------------------------------------------------------------


def test_a_whole_journey_logs_no_phone_number(sms_app, sandbox, caplog, capsys):
    """Training to a module's end, a report with an SMS receipt, a focal point's desk behind
    its PIN, SMS keywords, a delivery report, a console sign-in and the case page, and the
    workers sending it all: every line logged at any level, and everything printed, is free
    of the numbers and the PIN used."""
    caplog.set_level(logging.DEBUG)
    client = sms_app.test_client()
    add = ["focal-points", "add", FOCAL, "--cercle", "kadiolo", "--role", "agent", "--pin-stdin"]
    added = Runner(sms_app).invoke(add, input=PIN + "\n")
    assert added.exit_code == 0, added.output
    agents(sms_app, AWA)
    learner = Dial(client, phone=AWA)
    learner()
    open_module(learner)
    read_lessons(learner, course(sms_app).modules[0])
    for _ in course(sms_app).modules[0].quiz:
        learner(choose(sms_app, learner), "1")
    _, sent = report(client, *CALM, contact=SMS)
    reference = sent.split("Référence : ")[1][:6]
    focal = Dial(client, phone=FOCAL)
    assert "6. Mes dossiers" in focal()
    assert reference in focal("6", PIN)  # the desk lists the case
    assert inbound(client, "AIDE", phone=TEXTER).status_code == 200
    assert inbound(client, "STOP", msg_id="2", phone=LEAVER).status_code == 200
    unknown = {"id": "ATXid_nobody", "status": "Failed", "phoneNumber": TEXTER}
    assert client.post("/sms/delivery", data=unknown).status_code == 200
    with sms_app.app_context():
        jobs.dispatch()
    with sms_app.extensions["db"]() as db:
        from app.infra.models import User

        db.add(User(email=SUPERVISOR, role="supervisor", scope=None, password_hash=password_hash()))
        db.commit()
    assert AuthActions(client).login().status_code == 302
    assert client.get(f"/console/cases/{reference}").status_code == 200
    assert len(sandbox.messages()) >= 4  # the module's, the receipt, AIDE's and STOP's answers
    lines = [r.getMessage() + " " + (logging.Formatter().formatException(r.exc_info)
             if r.exc_info else "") for r in caplog.records]  # fmt: skip
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # every level was kept
    printed = capsys.readouterr()
    for phone in (AWA, REPORTER, TEXTER, LEAVER, FOCAL):
        for written in forms(phone):
            assert [line for line in lines if written in line] == []
            assert written not in printed.out and written not in printed.err
    pin = re.compile(rf"(?<![0-9A-Za-z]){PIN}(?![0-9A-Za-z])")
    assert [line for line in lines if pin.search(line)] == []
