"""`make run` end to end: every process starts, the simulator dials, Ctrl-C stops all."""

import logging
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from redis import Redis

from app.infra import dev_env
from app.web.gunicorn_conf import HideToken, hide_token
from sandbox.devserver import _children, private_var
from sandbox.embedded import EmbeddedRedis, free_port
from tests.conftest import serve

SECRET = "s3cr3t-webhook-token"


def wait_for_line(proc, marker: str, timeout_s: float = 90) -> list[str]:
    """Read the process's output until a line contains marker."""
    lines, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError("no line with " + marker + ":\n" + "".join(lines))


def campaign_reaches_everyone_once(sandbox: str, env: dict, redis_url: str, var) -> None:
    """The SMS Done-when: a CLI campaign lands once per demo number; STOP is honoured."""
    texted = requests.post(
        sandbox + "/simulator/sms/send", json={"from": "+22370000002", "text": "Arret"}, timeout=15
    ).json()
    assert texted["delivered"] is True
    # A second terminal sets neither REDIS_URL nor DATABASE_URL: make run's var/dev.env has them.
    shared = dev_env.read(env)
    assert shared["REDIS_URL"] == redis_url and shared["SMS_SEND_WINDOW"] == "always"
    assert shared["DATABASE_URL"] == f"sqlite:///{var / 'kalan.db'}"
    cli_env = {name: value for name, value in env.items() if name not in dev_env.SHARED}
    kalan = [sys.executable, "-m", "app.cli"]
    create = [
        *kalan,
        "campaign",
        "create",
        "--name",
        "Test",
        "--message",
        "Bonjour {name}",
        "--yes",
    ]
    made = subprocess.run(create, env=cli_env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert "recipients: 7" in made.stdout  # the 8 demo contacts, less the one who said Arret
    assert "outside the send window" not in made.stdout  # make run's SMS go at any hour
    show = [*kalan, "campaign", "show", "1", "--no-follow"]

    def done():
        out = subprocess.run(show, env=cli_env, capture_output=True, text=True, timeout=60)
        return "100%  done" in out.stdout

    deadline = time.monotonic() + 60
    while not done():
        assert time.monotonic() < deadline, "the campaign never reached 100%"
        time.sleep(0.5)
    inbox = requests.get(sandbox + "/sandbox/messages", timeout=5).json()
    campaign = [m["to"] for m in inbox if m["message"].startswith("Bonjour")]
    assert len(campaign) == len(set(campaign)) == 7  # exactly once each
    assert "+22370000002" not in campaign
    (confirmation,) = [m for m in inbox if m["to"] == "+22370000002"]
    assert confirmation["message"].startswith("Kalan : vous ne recevrez plus")


class Phone:
    """A phone in the simulator: dial, answer, and count the hops."""

    def __init__(self, sandbox: str, number: str):
        self.sandbox, self.number = sandbox, number
        self.session_id, self.hops = None, 0

    def __call__(self, *answers: str) -> str:
        """Dial if needed, send each answer; return the last screen."""
        if self.session_id is None:
            view = self._post("start", phone=self.number)
            self.session_id, self.hops = view["sessionId"], 1
        for answer in answers:
            view = self._post("reply", sessionId=self.session_id, input=answer)
            self.hops += 1
        if view.get("ended"):
            self.session_id = None
        return view["screen"]

    def _post(self, what: str, **body) -> dict:
        url = f"{self.sandbox}/simulator/ussd/{what}"
        return requests.post(url, json=body, timeout=15).json()


def inbox(sandbox: str, phone: str, marker: str, timeout_s: float = 60) -> str:
    """Wait until the phone's sandbox inbox holds an SMS containing marker; return it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = requests.get(sandbox + "/sandbox/messages", params={"to": phone}, timeout=5)
        texts = [m["message"] for m in found.json() if marker in m["message"]]
        if texts:
            return texts[0]
        time.sleep(0.3)
    raise AssertionError(f"no SMS with {marker!r} for {phone}")


def case_goes_round_in_the_simulator(sandbox: str) -> None:
    """The reports Done-when: a report, its receipt and alerts, the desk, and the lookup."""
    reporter = Phone(sandbox, "+22376000001")  # a seeded community member
    assert reporter().startswith("Kalan - Menu principal")
    # Signaler; mining; Sikasso, Kadiolo; the site; 2 to 5 children, 13-14, girls,
    # not in school; mercury; contactable with the SMS; send.
    done = reporter("2", "1", "1", "2", "Massiogo", "2", "2", "1", "2", "3", "3", "1")
    assert done.startswith("Merci. Référence : ") and reporter.hops <= 13
    reference = done.split("Référence : ")[1][:6]
    assert inbox(sandbox, "+22376000001", reference).startswith(f"Kalan : code {reference}.")
    for focal in ("+22366000001", "+22366000003"):  # the Sikasso agent, the supervisor
        assert "Kadiolo, Massiogo" in inbox(sandbox, focal, reference)
    agent = Phone(sandbox, "+22366000001")
    assert "6. Mes dossiers" in agent()
    agent("6")
    assert agent("1234").startswith("Dossiers ouverts : 1\n1. " + reference)
    agent("1", "1", "1")  # the case, start verifying, no note
    assert agent("1").startswith(f"Enregistré. {reference} : en vérification.")
    agent("1", "1", "1", "1")  # the list, the case, confirmed, no note
    assert agent("1").startswith(f"Enregistré. {reference} : confirmé.")
    public = Phone(sandbox, "+22376000002")
    assert public("4", reference).startswith(f"Signalement {reference} : en vérification.")
    agent("1", "1", "1", "1", "1")  # the list, the case, refer, social services, no note
    assert agent("1").startswith(f"Enregistré. {reference} : référé : Service")
    public = Phone(sandbox, "+22376000002")
    assert public("4", reference).startswith(f"Signalement {reference} : référé.")


def a_lesson_reaches_the_database(sandbox: str, database: Path) -> None:
    """A lesson's place, which the clock writes behind the hop: in SQL within seconds."""
    learner = Phone(sandbox, "+22370000001")  # a seeded agent
    learner()
    assert learner("1").startswith("Avant de commencer")  # Formation: the pre-test first
    assert learner("2", "1").startswith("2/")  # without it: lessons 1 and 2
    deadline = time.monotonic() + 5
    while True:
        with sqlite3.connect(database) as db:
            found = db.execute("select position from module_progress").fetchall()
        if found == [("l2",)]:
            return
        assert time.monotonic() < deadline, f"the place in SQL is still {found}"
        time.sleep(0.1)


def test_dev_server_runs_everything_and_stops_on_ctrl_c(tmp_path):
    port, sandbox_port = free_port(), free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "SANDBOX_PORT": str(sandbox_port),
        "VAR_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
        "SMS_TICK_S": "1",  # the clock's beat, to be seen within the test
    }
    for name in ("REDIS_URL", "DATABASE_URL"):
        env.pop(name, None)
    # The sandbox calls back with ?token=SECRET, as Africa's Talking would.
    env["WEBHOOK_TOKEN"] = SECRET
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "dev"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = wait_for_line(proc, "Phone simulator:")
        assert f"http://127.0.0.1:{sandbox_port}/" in lines[-1]
        sandbox = f"http://127.0.0.1:{sandbox_port}"
        assert "Composer" in requests.get(sandbox + "/", timeout=5).text
        call = requests.post(
            sandbox + "/simulator/ussd/start", json={"phone": "+22370000001"}, timeout=15
        ).json()
        assert call["screen"].startswith("Kalan - Menu principal")  # a seeded agent
        hop = requests.post(
            sandbox + "/simulator/ussd/reply",
            json={"sessionId": call["sessionId"], "input": "5"},
            timeout=15,
        ).json()
        assert hop["screen"].startswith("Mon compte / Aide")
        requests.post(
            sandbox + "/simulator/ussd/hangup", json={"sessionId": call["sessionId"]}, timeout=15
        )
        health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
        assert health["status"] == "ok"
        redis_url = next(line.split()[4] for line in lines if line.startswith("redis:"))
        campaign_reaches_everyone_once(sandbox, env, redis_url, tmp_path)
        case_goes_round_in_the_simulator(sandbox)
        a_lesson_reaches_the_database(sandbox, tmp_path / "kalan.db")
        # The clock runs beside the worker: a tick a second, not only the worker's first.
        with Redis.from_url(redis_url) as redis:
            assert len(list(redis.scan_iter(match="rq:job:*-tick-*"))) >= 3
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    logged = "".join(lines) + output
    assert "POST /ussd?token=[hidden] HTTP/1.1" in logged
    assert SECRET not in logged
    found = modes(tmp_path)
    assert found["."] == 0o700 and found["kalan.db"] == 0o600
    assert set(found.values()) <= {0o700, 0o600}, found
    with sqlite3.connect(tmp_path / "kalan.db") as db:
        assert db.execute("select count(*) from contacts where role='agent'").fetchone()[0] >= 3
        event = db.execute("select status, last_node from ussd_events order by id").fetchone()
    assert event == ("Incomplete", "account")
    for p in (port, sandbox_port):
        try:
            requests.get(f"http://127.0.0.1:{p}/healthz", timeout=1)
            raise AssertionError(f"port {p} still answers after Ctrl-C")
        except requests.ConnectionError:
            pass
    assert (tmp_path / "redis" / "appendonlydir").exists() or any((tmp_path / "redis").iterdir())


@pytest.mark.parametrize("provider", ["orange", "infobip"])
def test_make_run_sends_through_the_provider_it_is_told_with_no_other_setting(tmp_path, provider):
    """SMS_PROVIDER=orange (or infobip) make run: a campaign goes through that emulation,
    its receipts come back, and a second terminal's command follows the same route."""
    port, sandbox_port = free_port(), free_port()
    env = {**os.environ, "PORT": str(port), "SANDBOX_PORT": str(sandbox_port),
           "VAR_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1", "SMS_TICK_S": "1",
           "SMS_PROVIDER": provider}  # fmt: skip
    for name in ("REDIS_URL", "DATABASE_URL", "SMS_ROUTES"):
        env.pop(name, None)
    command = [sys.executable, "-m", "app.cli", "dev"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)  # fmt: skip
    try:
        wait_for_line(proc, "Phone simulator:")
        cli_env = {name: value for name, value in env.items() if name not in dev_env.SHARED}
        route = subprocess.run([sys.executable, "-m", "app.cli", "sms", "route", "+22370000001"],
                               env=cli_env, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert route.stdout.splitlines()[0] == f"+22370000001: orange-ml -> {provider} (closed)"
        create = [sys.executable, "-m", "app.cli", "campaign", "create", "--name", "Par",
                  "--message", "Bonjour {name}", "--yes"]  # fmt: skip
        made = subprocess.run(create, env=cli_env, capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        sandbox = f"http://127.0.0.1:{sandbox_port}"

        def delivered() -> list[tuple]:
            with sqlite3.connect(tmp_path / "kalan.db") as db:
                return db.execute("select provider, delivery_status from outbox "
                                  "where kind = 'campaign'").fetchall()  # fmt: skip

        deadline = time.monotonic() + 60
        while len(delivered()) < 8 or {row[1] for row in delivered()} != {"Success"}:
            assert time.monotonic() < deadline, delivered()
            time.sleep(0.5)
        assert {row[0] for row in delivered()} == {provider}
        inbox = requests.get(sandbox + "/sandbox/messages", timeout=5).json()
        carried = [m for m in inbox if m["message"].startswith("Bonjour")]
        assert len(carried) == 8 and {m["provider"] for m in carried} == {provider}
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output


def modes(top) -> dict[str, int]:
    """Return the permission bits of top and of everything under it, by relative path."""
    found = {".": stat.S_IMODE(top.stat().st_mode)}
    for path in top.rglob("*"):
        if not path.is_symlink():
            found[str(path.relative_to(top))] = stat.S_IMODE(path.stat().st_mode)
    return found


@pytest.fixture
def loose_umask():
    """Run with the usual 022 umask, and put the test process's own back after."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_var_is_private_before_and_after_setup(tmp_path, loose_umask):
    var = tmp_path / "var"
    (var / "redis").mkdir(parents=True)
    var.chmod(0o755)
    (var / "kalan.db").write_text("left by an earlier run")
    (var / "redis" / "redis.log").write_text("")
    outside = tmp_path / "outside.txt"
    outside.write_text("")
    (var / "link").symlink_to(outside)
    assert modes(var)["kalan.db"] == 0o644
    private_var(var)
    # What the dev server's children write after setup: SQLite, Redis, a log.
    sqlite3.connect(var / "new.db").execute("create table t (x)").connection.close()
    (var / "logs").mkdir()
    (var / "logs" / "web.log").write_text("")
    server = EmbeddedRedis(var / "redis", persist=True).start()
    Redis.from_url(server.url).set("k", "v")
    server.stop()
    found = modes(var)
    assert {path: mode for path, mode in found.items() if mode not in (0o700, 0o600)} == {}
    dirs = {".", "redis", "logs", "redis/appendonlydir"}
    assert {path for path, mode in found.items() if mode == 0o700} == dirs
    assert {"kalan.db", "new.db", "logs/web.log", "redis/redis.log"} <= set(found)
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644  # not followed through the link


def test_a_new_var_dir_is_created_private(tmp_path, loose_umask):
    var = private_var(tmp_path / "a" / "var")
    (var / "kalan.db").write_text("")
    assert modes(var) == {".": 0o700, "kalan.db": 0o600}


def test_the_web_access_log_hides_the_webhook_token(redis_url, database_url):
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "SANDBOX_PORT": str(free_port()),
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "WEBHOOK_TOKEN": SECRET,
    }
    web = _children(env)["web"]
    proc = subprocess.Popen(web, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                url = f"http://127.0.0.1:{port}/healthz?token={SECRET}&x=1"
                assert requests.get(url, timeout=2).status_code == 200
                break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0].decode()
    assert "GET /healthz?token=[hidden]&x=1 HTTP/1.1" in output
    assert SECRET not in output


def test_the_filter_hides_the_token_in_werkzeug_request_logs(app, caplog):
    # Werkzeug's server, as `flask run` and the tests use it, logs the request line.
    werkzeug = logging.getLogger("werkzeug")
    hide = HideToken()
    werkzeug.addFilter(hide)
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"), serve(app) as url:
            requests.get(f"{url}/healthz?token={SECRET}", timeout=5)
    finally:
        werkzeug.removeFilter(hide)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "GET /healthz?token=[hidden] HTTP/1.1" in logged
    assert SECRET not in logged


def test_the_filter_hides_console_searches_which_may_be_numbers():
    # A contact deleted must not stay in the access log as the search that found them.
    assert hide_token("GET /console/contacts?q=76100001&page=2 HTTP/1.1") == (
        "GET /console/contacts?q=[hidden]&page=2 HTTP/1.1"
    )
    assert hide_token("GET /console/cases?state=new&q=482913 HTTP/1.1") == (
        "GET /console/cases?state=new&q=[hidden] HTTP/1.1"
    )
