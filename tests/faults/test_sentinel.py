"""Redis's primary killed with -9 under Sentinel mid-traffic: the hops apologise, then go on
against the promoted replica; the worker comes back to it and the campaign ends, every
recipient texted exactly once."""

import os
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import insert, select

from app.infra.models import Campaign, Contact, Message, utcnow
from app.messaging.campaigns.creation import create
from sandbox.embedded import free_port, redis_binary

from ..conftest import Dial
from .test_worker_kill import in_flight, kill_hard, start, wait_for

MASTER = "kalan"
AUDIENCE = 300
TEXT = "Les enfants a l'ecole."  # the campaign's; the callers' own SMS go out meanwhile
MENU = "CON Kalan - Menu principal"


def answers(predicate):
    """Wrap predicate so that a server not answering yet counts as not ready."""

    def quiet():
        try:
            return predicate()
        except (RedisError, KeyError):
            return False

    return quiet


class Sentinels:
    """A primary, its replica and three sentinels watching them, on free ports of 127.0.0.1."""

    def __init__(self, directory: Path, binary: str):
        self.directory, self.binary = directory, binary
        self.primary, self.replica = free_port(), free_port()
        self.sentinels = [free_port() for _ in range(3)]
        self.processes: dict[int, subprocess.Popen] = {}

    def start(self) -> "Sentinels":
        """Start the servers, then the sentinels once the replica has its copy."""
        self._spawn(self.primary, self._server_options(self.primary))
        self._spawn(self.replica, [*self._server_options(self.replica),
                                   "--replicaof", "127.0.0.1", str(self.primary)])  # fmt: skip
        wait_for(answers(lambda: self.info(self.replica)["master_link_status"] == "up"), 20)
        for port in self.sentinels:  # after the sync: their first look finds the replica
            folder = self._folder(port)
            config = folder / "sentinel.conf"  # a sentinel rewrites its file: one each
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {folder}\nlogfile {folder / 'log'}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {self.primary} 2\n"
                # Quick to judge the primary dead and to retry a failover, for a short test.
                f"sentinel down-after-milliseconds {MASTER} 1000\n"
                f"sentinel failover-timeout {MASTER} 3000\n"
            )
            self._spawn(port, [str(config), "--sentinel"])
        wait_for(answers(self.watching), 30)
        return self

    def _folder(self, port: int) -> Path:
        folder = self.directory / str(port)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return folder

    def _server_options(self, port: int) -> list[str]:
        folder = self._folder(port)
        return ["--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder),
                "--logfile", str(folder / "log"), "--save", "", "--appendonly", "no",
                # The replica's first copy at once, not after the default 5 s.
                "--repl-diskless-sync-delay", "0"]  # fmt: skip

    def _spawn(self, port: int, options: list[str]) -> None:
        self.processes[port] = subprocess.Popen(
            [self.binary, *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def info(self, port: int) -> dict:
        """Return a server's replication section."""
        with Redis(port=port, socket_timeout=1) as redis:
            return redis.info("replication")

    def watching(self) -> bool:
        """Tell whether every sentinel knows the replica and the two other sentinels."""
        for port in self.sentinels:
            with Redis(port=port, socket_timeout=1) as sentinel:
                state = sentinel.sentinel_master(MASTER)
            if state["num-slaves"] < 1 or state["num-other-sentinels"] < 2:
                return False
        return True

    def promoted(self) -> bool:
        """Tell whether every sentinel names the replica as the primary now."""
        for port in self.sentinels:
            with Redis(port=port, socket_timeout=1) as sentinel:
                if sentinel.sentinel_get_master_addr_by_name(MASTER)[1] != self.replica:
                    return False
        return True

    def replicated(self) -> None:
        """Wait until the replica holds every write the primary acknowledged so far."""
        with Redis(port=self.primary, socket_timeout=5) as redis:
            assert redis.wait(1, 3000) >= 1

    def kill_primary(self) -> None:
        """kill -9 the primary: no goodbye to its clients, no last sync."""
        process = self.processes.pop(self.primary)
        process.kill()
        process.wait()

    def stop(self) -> None:
        """Stop every process still running."""
        for process in self.processes.values():
            process.kill()
            process.wait()
        self.processes.clear()


class Traffic(threading.Thread):
    """Callers dialling without pause, each session four hops into the training, then dropped."""

    def __init__(self, app):
        super().__init__(daemon=True)
        self.client = app.test_client()
        self.replies: list[tuple[float, int, str]] = []  # (when it was sent, status, body)
        self.stopping = threading.Event()

    def run(self) -> None:
        callers = 0
        while not self.stopping.is_set():
            callers += 1
            session, phone = "ATUid_" + uuid.uuid4().hex, f"+2237650{callers % 10_000:04d}"
            for text in ("", "1", "1*1", "1*1*1"):
                began = time.monotonic()
                try:
                    response = self.client.post("/ussd", data={
                        "phoneNumber": phone, "serviceCode": "*123#", "text": text,
                        "sessionId": session, "networkCode": "99999"})  # fmt: skip
                    reply = (response.status_code, response.get_data(as_text=True))
                except Exception as exc:  # a test app raises what would be a 500
                    reply = (500, repr(exc))
                self.replies.append((began, *reply))

    def since(self, moment: float) -> list[str]:
        """Return the replies to the hops sent after moment."""
        return [body for t, _, body in self.replies if t > moment]

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)


@pytest.fixture
def sentinels(tmp_path):
    """A Sentinel-watched primary and replica of this test's own."""
    try:
        binary = redis_binary()
    except RuntimeError as exc:
        pytest.skip(f"needs redis-server or valkey-server 7+, which also runs sentinels: {exc}")
    group = Sentinels(tmp_path / "redis", binary)
    try:
        yield group.start()
    finally:
        group.stop()


def test_a_failover_mid_traffic_keeps_hops_polite_and_texts_everyone_once(
    make_app, sandbox, database_url, sentinels
):
    settings = {
        # As an operator may leave it: only its database number counts beside the sentinels.
        "REDIS_URL": f"redis://127.0.0.1:{sentinels.primary}/0",
        "REDIS_SENTINELS": ",".join(f"127.0.0.1:{port}" for port in sentinels.sentinels),
        "REDIS_SENTINEL_MASTER": MASTER,
        "AT_API_BASE_URL": sandbox.url,
        "SMS_RATE": 100,
        "SMS_BATCH_SIZE": 20,
        "SMS_LEASE_S": 2,
        "SMS_RECONCILE_S": 2,
        "SMS_TICK_S": 1,
        "SMS_SEND_WINDOW": "always",
    }
    app = make_app(**settings)
    catalog = app.extensions["catalog"]
    apology, broken = (f"END {catalog.get(k)}" for k in ("error.unavailable", "error.unexpected"))
    env = {
        **os.environ,
        **{k: str(v) for k, v in settings.items()},
        "DATABASE_URL": database_url,
        "REDIS_PREFIX": app.config["REDIS_PREFIX"],
        "WEBHOOK_TOKEN": "",
    }
    sandbox.faults(latency_ms=200)  # slow enough for the primary to die under a request
    phones = [f"+22372{i:06d}" for i in range(AUDIENCE)]
    with app.app_context(), app.extensions["db"]() as db:
        db.execute(
            insert(Contact),
            [{"phone": p, "role": "community", "language": "fr", "created_at": utcnow()}
             for p in phones],
        )  # fmt: skip
        campaign_id = create(db, "Failover", {"fr": TEXT}, {}).id
        db.commit()
    # A learner two lessons in; what the replica has acknowledged survives the failover.
    learner = Dial(app.test_client(), phone="+22376000701")
    lesson = learner("1", "1", "1")
    assert lesson.startswith("CON ") and "Suite" in lesson
    sentinels.replicated()

    app.extensions["workers"].enqueue("workers.jobs.expand_campaign", campaign_id)
    traffic = Traffic(app)
    traffic.start()
    clock, worker = start(env, "workers.clock"), start(env)
    restarts = 0
    try:
        wait_for(lambda: len(sandbox.messages()) >= AUDIENCE // 4, 60)
        sending = wait_for(lambda: in_flight(app), 30, 0.005)
        sentinels.kill_primary()
        killed = time.monotonic()
        wait_for(answers(sentinels.promoted), 30)
        promoted = time.monotonic()
        # The web app finds the new primary by itself: callers get screens again.
        wait_for(lambda: set(traffic.since(promoted)) - {apology}, 10, 0.05)
        # The learner's session lives on the new primary: the gateway's retry of the last
        # hop gets the same lesson, and the next answer the one after it.
        assert learner.post("*".join(learner.inputs)) == lesson
        following = learner("1")
        assert following.startswith("CON ") and following not in (lesson, apology)

        def done():
            nonlocal worker, restarts
            if worker.poll() is not None:  # as compose's `restart: unless-stopped` would
                restarts += 1
                worker = start(env)
            with app.extensions["db"]() as db:
                return db.get(Campaign, campaign_id).status == "done"

        wait_for(done, 60, step=0.5)
        assert clock.poll() is None  # the clock rode the failover out by itself
    finally:
        traffic.stop()
        # Nothing to learn from their shutdown here, and RQ's may wait on its command channel.
        kill_hard(worker)
        kill_hard(clock)

    # Every hop was answered 200: a screen of the flow, or the polite apology; never a 500.
    statuses = Counter(status for _, status, _ in traffic.replies)
    assert set(statuses) == {200}, statuses
    screens = [body for _, _, body in traffic.replies]
    odd = [b for b in screens if not b.startswith(("CON ", "END ")) or b == broken]
    assert not odd, odd[:3]
    assert apology in traffic.since(killed)  # the failover was felt
    # Once a hop got through to the new primary, every later one did.
    first = min(t for t, _, body in traffic.replies if t > killed and body != apology)
    assert apology not in traffic.since(first)
    assert any(body.startswith(MENU) for body in traffic.since(first))

    # The outbox is in SQL: none lost, none doubled, whatever Redis lost with its primary.
    # (The campaign's audience is every contact: the callers dialling before it began too.)
    with app.extensions["db"]() as db:
        rows = {m.phone: m for m in db.scalars(select(Message).filter_by(campaign_id=campaign_id))}
    assert set(phones) <= set(rows)
    received = Counter(m["to"] for m in sandbox.messages() if m["message"] == TEXT)
    assert set(received) == set(rows) and max(received.values()) == 1
    # Even the batch on the wire as the primary died: its outcome went to SQL first.
    states = Counter(m.status for m in rows.values())
    assert set(states) <= {"sent", "delivered"}, states
    assert sending > 0  # the primary died as a request was on the wire
    print(
        f"\nworker restarts {restarts}; in flight {sending}; outbox {dict(states)}; hops "
        f"{len(screens)}, apologies {screens.count(apology)}; failover {promoted - killed:.1f} s"
    )
