"""The database's gauges: counted on the read replica, by one process every few seconds
whatever the scrapes, the final states less often, and kept in Redis for every node."""

import contextlib
import itertools
import json
import time

import pytest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import create_engine, event, func, select, update
from sqlalchemy.orm import sessionmaker

from app.infra import redis_client
from app.infra.models import Message
from app.messaging import outbox
from app.messaging.gauges import Gauges

from .databases import another_database
from .test_metrics import by, counted_again, scrape

SERIAL = itertools.count(1)


def queue(app, count: int, status: str = "queued") -> None:
    """Put count SMS in the outbox of app's primary database, in that state."""
    with app.extensions["db"]() as db:
        before = db.scalar(select(func.max(Message.id))) or 0
        for _ in range(count):
            n = next(SERIAL)
            outbox.add(db, app.config, "reminder", n, f"+2237100{n:04d}", "Bonjour")
        db.execute(update(Message).where(Message.id > before).values(status=status))
        db.commit()


def engines(*apps) -> set:
    """Return the apps' engines: the primary's, and the replica's if any."""
    return {e for app in apps for e in (app.extensions["engine"], app.extensions["read_engine"])}


@contextlib.contextmanager
def statements(*watched):
    """Yield the list of SQL statements the engines run meanwhile."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_):
        seen.append(statement)

    for engine in watched:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in watched:
            event.remove(engine, "before_cursor_execute", record)


def outbox_of(gauges: Gauges) -> dict:
    """Return kalan_outbox_messages by state from one collect()."""
    return {
        sample.labels["state"]: sample.value
        for family in gauges.collect()
        if isinstance(family, GaugeMetricFamily) and family.name == "kalan_outbox_messages"
        for sample in family.samples
    }


def own_gauges(app, **timing) -> Gauges:
    """Gauges of app's database with timings of the test's, on a key of their own."""
    key = app.config["REDIS_PREFIX"] + "test:gauges"
    return Gauges(app.extensions["read_db"], app.extensions["redis"], {}, None, (),
                  app.extensions["send_stats"], cache=key, **timing)  # fmt: skip


def test_scrapes_within_seconds_share_one_count_whichever_node_answers(make_app):
    first = make_app()
    second = make_app(REDIS_PREFIX=first.config["REDIS_PREFIX"])  # another node, same Redis
    queue(first, 2)
    with statements(*engines(first)) as counted:
        assert by(scrape(first.test_client()), "kalan_outbox_messages", "state")["queued"] == 2
    assert counted  # the first scrape counts
    queue(first, 3)
    with statements(*engines(first, second)) as again:
        for client in (first.test_client(), second.test_client(), second.test_client()):
            assert by(scrape(client), "kalan_outbox_messages", "state")["queued"] == 2
    assert again == []  # the figures kept in Redis, whoever asks
    counted_again(first)  # a few seconds later
    assert by(scrape(second.test_client()), "kalan_outbox_messages", "state")["queued"] == 5


def test_the_figures_come_from_the_read_replica(make_app, database_url, tmp_path):
    with another_database(database_url, tmp_path) as replica:
        queue(make_app(DATABASE_URL=replica), 4)  # what only the replica holds
        app = make_app(DATABASE_READ_URL=replica)
        queue(app, 1, "failed")
        with (
            statements(app.extensions["engine"]) as on_primary,
            statements(app.extensions["read_engine"]) as on_replica,
        ):
            found = scrape(app.test_client())
    outbox_states = by(found, "kalan_outbox_messages", "state")
    assert (outbox_states["queued"], outbox_states["failed"]) == (4, 0)
    assert on_primary == [] and on_replica


def test_the_final_states_are_counted_less_often_than_the_others(app):
    gauges = own_gauges(app, fresh_s=0, final_s=3600)  # a count at every scrape
    queue(app, 1, "delivered")
    queue(app, 1)
    assert (outbox_of(gauges)["delivered"], outbox_of(gauges)["queued"]) == (1, 1)
    queue(app, 2, "delivered")
    queue(app, 2)
    found = outbox_of(gauges)
    assert (found["delivered"], found["queued"]) == (1, 3)  # the final ones from an hour's count
    assert outbox_of(own_gauges(app, fresh_s=0, final_s=0))["delivered"] == 3


def test_while_one_process_counts_the_others_show_the_last_figures(app):
    gauges = own_gauges(app, fresh_s=0)
    queue(app, 1)
    assert outbox_of(gauges)["queued"] == 1
    queue(app, 1)
    redis = app.extensions["redis"]
    redis.set(gauges.cache + ":counting", 1, ex=10)  # another process is counting
    with statements(*engines(app)) as counted:
        assert outbox_of(gauges)["queued"] == 1
    assert counted == []
    redis.delete(gauges.cache + ":counting")  # it has kept its figures, and now they are old
    assert outbox_of(gauges)["queued"] == 2
    assert not redis.exists(gauges.cache + ":counting")  # left to the next one


def test_with_redis_down_a_process_keeps_its_own_figures_a_few_seconds(make_app):
    app = make_app()
    queue(app, 2)
    gauges = own_gauges(app)
    gauges.redis = redis_client.connect({"REDIS_URL": "redis://127.0.0.1:1/0"})
    with statements(*engines(app)) as counted:
        assert outbox_of(gauges)["queued"] == 2
        first = len(counted)
        assert outbox_of(gauges)["queued"] == 2
    assert first and len(counted) == first  # the second scrape counted nothing


def sources(gauges: Gauges) -> dict:
    """Return kalan_metrics_source_up by source from one collect()."""
    return {
        sample.labels["source"]: sample.value
        for family in gauges.collect()
        if family.name == "kalan_metrics_source_up"
        for sample in family.samples
    }


def test_while_the_database_is_down_every_process_says_so_not_only_the_counting_one(app, tmp_path):
    counter, other = own_gauges(app, fresh_s=0), own_gauges(app, fresh_s=0)  # one shared key
    assert sources(counter)["database"] == 1  # figures kept
    down = sessionmaker(create_engine(f"sqlite:///{tmp_path}/no/such/dir.db"))
    counter.open_db = other.open_db = down
    assert sources(counter)["database"] == 0  # it holds the right to count, and its count fails
    assert sources(other)["database"] == 0  # while it holds it, the last figures are no answer
    counter.open_db = other.open_db = app.extensions["read_db"]
    app.extensions["redis"].delete(counter.cache + ":counting")  # its right has run out
    assert sources(counter)["database"] == 1
    app.extensions["redis"].set(counter.cache + ":counting", 1, ex=10)  # another counts again
    assert sources(other)["database"] == 1  # shown the last figures, which a count kept


def fresh_with_a_count_no_number() -> str:
    """Figures fresh when the test runs (not when it was collected: minutes before, under
    xdist, they were stale by then, and counted again whatever their shape)."""
    return json.dumps({"at": time.time() + 60, "final_at": time.time() + 60,
                       "states": {"queued": "many"}, "final": {}, "campaigns": []})  # fmt: skip


@pytest.mark.parametrize(
    "kept",
    [b"not json", b"\xff", b"[1, 2]", b'{"at": 1}',
     json.dumps({"at": "now", "final_at": 1, "states": {}, "final": {}, "campaigns": []}),
     pytest.param(fresh_with_a_count_no_number, id="fresh-with-a-count-no-number")],
)  # fmt: skip
def test_figures_kept_in_a_shape_this_version_cannot_read_are_counted_again(app, kept):
    """As during a rolling upgrade, when another version's figures are kept in Redis."""
    kept = kept() if callable(kept) else kept
    queue(app, 2)
    app.extensions["redis"].set(app.config["REDIS_PREFIX"] + "metrics:gauges", kept)
    found = scrape(app.test_client())
    assert by(found, "kalan_metrics_source_up", "source") == {"redis": 1, "database": 1}
    assert by(found, "kalan_outbox_messages", "state")["queued"] == 2
