"""Kalan on two machines' worth of processes sharing one Redis and one PostgreSQL: two web nodes
(gunicorn, as the Procfile runs it) behind a load balancer that sends each hop of a session to
the other node, two RQ workers and the clock. One node's whole process group is killed with -9
mid-session, then one worker mid-campaign: every session goes on at the other node with no
answer lost, and no campaign message is lost or doubled beyond the worker-kill test's rule."""

import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import psutil
import requests
from sqlalchemy import func, insert, select

from app.infra.config import ROOT
from app.infra.models import Campaign, Contact, Message, ModuleProgress, QuizAnswer, utcnow
from app.messaging.campaigns.creation import create
from sandbox.embedded import EmbeddedRedis, free_port

from ..conftest import Dial, HttpAnswer
from ..databases import postgres_only
from ..test_training import PRETEST_OFFER, choose, course
from .test_worker_kill import in_flight, kill_hard, wait_for

LEARNERS = [f"+2237000070{n}" for n in range(6)]
AUDIENCE = [f"+22371502{n:03d}" for n in range(300)]
MAX_HOPS = 60  # a learner's module takes about 20; a lost session would loop
KILL_AFTER_HOPS = 40  # of about 20 a learner: every session is under way, none is over
SETTINGS = {"SMS_RATE": 5000, "SMS_BATCH_SIZE": 20, "SMS_LEASE_S": 2, "SMS_RECONCILE_S": 2,
            "SMS_TICK_S": 1, "SMS_SEND_WINDOW": "always"}  # fmt: skip
QUESTION = re.compile(r"^CON Q\d+/\d+ ")


def start(env: dict, command: list[str], log: Path) -> subprocess.Popen:
    """Start a process of the Procfile's in a process group of its own, its output to log."""
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip


def web(env: dict, port: int, log: Path) -> subprocess.Popen:
    """Start a web node as the Procfile's `web` line does, with two worker processes."""
    return start(env, [sys.executable, "-m", "gunicorn", "-c", "python:app.web.gunicorn_conf",
                       "--bind", f"127.0.0.1:{port}", "--workers", "2", "--timeout", "9",
                       "app:create_app()"], log)  # fmt: skip


def errors_in(log: Path) -> list[str]:
    """Return the lines of a process's log that tell of an error."""
    lines = log.read_text(errors="replace").splitlines()
    return [line for line in lines if " ERROR " in line or "Traceback" in line]


class Balancer:
    """A load balancer as the gateway reaches it: each hop goes to the next live node; a node
    that drops a request (or its answer, half sent) is taken out, and the hop goes to the
    other, as sent."""

    def __init__(self, nodes: list[str], alive: set, served: Counter, phone: str):
        self.nodes, self.alive, self.served, self.phone, self.turn = nodes, alive, served, phone, 0

    def post(self, path: str, data: dict) -> HttpAnswer:
        while True:
            live = [node for node in self.nodes if node in self.alive]
            node = live[self.turn % len(live)]
            self.turn += 1
            try:
                answer = HttpAnswer(requests.post(node + path, data=data, timeout=15))
            # A node killed between its answer's headers and its body drops the hop as well.
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                self.alive.discard(node)
                continue
            self.served[(self.phone, node)] += 1
            return answer


def learn(app, client, phone: str) -> tuple[str, int]:
    """Take module 1 from whatever screen comes, every answer right, dialling again after an
    apology (the hop in flight when its node died); return the last screen and the dials."""
    caller = Dial(client, phone=phone)
    screen, dials = caller(), 1
    for _ in range(MAX_HOPS):
        if "Module réussi" in screen:
            return screen, dials
        if screen.startswith("END"):
            caller.drop()
            screen, dials = caller(), dials + 1
        elif QUESTION.match(screen):
            screen = caller(choose(app, caller))
        elif screen.startswith(PRETEST_OFFER):
            screen = caller("2")  # Continuer sans le test
        else:  # the main menu (Formation), Reprendre, a lesson, an answer's feedback
            screen = caller("1")
    raise AssertionError(f"module 1 not done after {MAX_HOPS} hops; last screen {screen!r}")


def test_two_nodes_lose_a_web_node_and_a_worker_and_nothing_else(
    make_app, sandbox, database_url, tmp_path
):
    postgres_only(database_url)
    # A Redis of its own: killed workers leave RQ's bookkeeping behind (test_worker_kill).
    redis = EmbeddedRedis(tmp_path / "redis").start()
    processes: list[subprocess.Popen] = []
    try:
        app = make_app(REDIS_URL=redis.url, AT_API_BASE_URL=sandbox.url, **SETTINGS)
        env = {**os.environ, **{k: str(v) for k, v in SETTINGS.items()},
               "REDIS_URL": redis.url, "DATABASE_URL": database_url,
               "REDIS_PREFIX": app.config["REDIS_PREFIX"], "WEBHOOK_TOKEN": "",
               "AT_API_BASE_URL": sandbox.url, "AUDIO_DIR": app.config["AUDIO_DIR"],
               "USSD_CODE": app.config["USSD_CODE"]}  # fmt: skip
        ports = [free_port(), free_port()]
        nodes = [web(env, port, tmp_path / f"web{n}.log") for n, port in enumerate(ports)]
        workers = [start(env, [sys.executable, "-m", "workers"], tmp_path / f"worker{n}.log")
                   for n in range(2)]  # fmt: skip
        clock = start(env, [sys.executable, "-m", "workers.clock"], tmp_path / "clock.log")
        processes += [*nodes, *workers, clock]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        with app.extensions["db"]() as db:
            db.execute(insert(Contact), [
                {"phone": p, "role": "agent", "organisation": "CMDT", "language": "fr",
                 "created_at": utcnow()} for p in LEARNERS])  # fmt: skip
            db.commit()

        def up(url: str) -> bool:
            try:
                return requests.get(url + "/healthz", timeout=2).status_code == 200
            except (requests.ConnectionError, requests.Timeout):
                return False  # not up yet, or a loaded machine still importing the app

        for url in urls:
            wait_for(lambda url=url: up(url), 60, 0.2)
        sessions_go_on_when_a_node_dies(app, nodes[0], urls)
        survivor = campaign_goes_on_when_a_worker_dies(app, sandbox, workers)
        # What the survivors logged: no error, though their peers died beside them.
        for log in (tmp_path / "web1.log", tmp_path / f"worker{survivor}.log",
                    tmp_path / "clock.log"):  # fmt: skip
            assert errors_in(log) == [], log.name
    finally:
        for proc in processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        redis.stop()


def sessions_go_on_when_a_node_dies(app, doomed, urls: list[str]) -> None:
    """Learners' hops go to both nodes in turn; the first dies mid-session (kill -9 of its
    process group): each session ends its module on the second, every answer kept once."""
    alive, served, results, failures = set(urls), Counter(), {}, []

    def run(phone: str) -> None:
        try:
            results[phone] = learn(app, Balancer(urls, alive, served, phone), phone)
        except BaseException as exc:  # noqa: BLE001  (reported below, with its phone)
            failures.append(f"{phone}: {exc!r}")

    threads = [threading.Thread(target=run, args=(phone,)) for phone in LEARNERS]
    for thread in threads:
        thread.start()
    wait_for(lambda: sum(served.values()) >= KILL_AFTER_HOPS or failures, 60, 0.005)
    os.killpg(doomed.pid, signal.SIGKILL)  # the master and its workers, mid-hop or not
    doomed.wait()
    before = Counter(served)
    for thread in threads:
        thread.join(timeout=60)
    assert failures == [] and sorted(results) == sorted(LEARNERS)
    quiz = len(course(app).modules[0].quiz)
    assert all(f"Score : {quiz}/{quiz}. Module réussi" in results[p][0] for p in LEARNERS)
    # Every session had hops on both nodes before the kill, and went on at the second after.
    after = served - before
    assert all(before[(p, urls[0])] and before[(p, urls[1])] for p in LEARNERS)
    assert all(after[(p, urls[1])] for p in LEARNERS)
    with app.extensions["db"]() as db:
        answers = Counter(db.scalars(select(Contact.phone).join(
            QuizAnswer, QuizAnswer.contact_id == Contact.id)))  # fmt: skip
        scores = dict(db.execute(select(Contact.phone, ModuleProgress.best_score).join(
            ModuleProgress, ModuleProgress.contact_id == Contact.id).where(
            ModuleProgress.status == "passed")).all())  # fmt: skip
    assert answers == {p: quiz for p in LEARNERS}  # each answer kept, and once
    assert scores == {p: quiz for p in LEARNERS}
    dials = sum(d for _, d in results.values())
    print(
        f"\n{sum(served.values())} hops, {sum(before.values())} before the kill; "
        f"{dials} dials for {len(LEARNERS)} learners"
    )


def campaign_goes_on_when_a_worker_dies(app, sandbox, workers: list) -> int:
    """A campaign sent by two workers, one killed -9 mid-send: each recipient gets it at most
    once, and only a row caught mid-request may go unsent (test_worker_kill's rule). Return
    the index of the worker left."""
    sandbox.faults(latency_ms=20)  # slow enough to be killed in the middle
    with app.app_context(), app.extensions["db"]() as db:
        db.execute(insert(Contact), [
            {"phone": p, "role": "community", "language": "fr", "cercle": "bougouni",
             "created_at": utcnow()} for p in AUDIENCE])  # fmt: skip
        campaign = create(db, "Deux noeuds", {"fr": "Les enfants a l'ecole."},
                          {"cercle": ["bougouni"]})  # fmt: skip
        db.commit()
        campaign_id = campaign.id
        app.extensions["workers"].enqueue("workers.jobs.expand_campaign", campaign_id)

    def sent() -> int:
        return sum(m["to"] in AUDIENCE for m in sandbox.messages())

    def busy() -> subprocess.Popen | None:
        """Return a worker running a job (RQ forks a child for it) while a request is on the
        wire, or None."""
        if not in_flight(app):
            return None
        return next((w for w in workers if psutil.Process(w.pid).children()), None)

    wait_for(lambda: sent() >= len(AUDIENCE) // 4, 60)
    doomed = workers.index(wait_for(busy, 30, 0.001))
    kill_hard(workers[doomed])
    caught = in_flight(app)  # rows whose request may have been cut short

    def done():
        with app.extensions["db"]() as db:
            return db.get(Campaign, campaign_id).status == "done"

    wait_for(done, 60, 0.5)
    received = Counter(m["to"] for m in sandbox.messages() if m["to"] in AUDIENCE)
    with app.extensions["db"]() as db:
        rows = {m.phone: m for m in db.scalars(select(Message).where(
            Message.campaign_id == campaign_id))}  # fmt: skip
    assert sorted(rows) == sorted(AUDIENCE)  # one outbox row per recipient
    assert max(received.values()) == 1  # none doubled
    finished = {p for p, m in rows.items() if m.status in ("sent", "delivered")}
    unknown = {p for p, m in rows.items() if m.status == "unknown"}
    assert finished | unknown == set(AUDIENCE)  # every row reached an end
    assert finished <= set(received)  # what we call sent did arrive
    assert len(unknown - set(received)) <= caught  # lost: only what was on the wire
    assert all(rows[p].finished_at is not None for p in unknown)
    texted = Counter(m["to"] for m in sandbox.messages() if m["to"] in LEARNERS)
    assert texted == {p: 1 for p in LEARNERS}  # each learner's score, texted once
    with app.extensions["db"]() as db:
        assert db.scalar(select(func.count()).select_from(Message).where(
            Message.status.in_(("queued", "sending")))) == 0  # fmt: skip
    print(f"worker {doomed} killed with {caught} in flight; unknown {len(unknown)}")
    return 1 - doomed
