"""What the queues, the circuits, the outbox and the campaigns hold, read when Prometheus asks:
nothing is written for it, so a worker never pays for a gauge.

Each scrape costs one Redis round trip (and one per provider for its circuit). The database's
figures are counted on the read replica (DATABASE_READ_URL) when there is one, by one process
of all those that share the Redis every FRESH_S seconds, whoever scrapes: the outbox's rows in
a state not yet final (an index range, not the whole outbox), and the unfinished campaigns'
rows. The final states (delivered, failed, cancelled), which only grow, are counted over the
whole outbox every FINAL_S seconds. The figures wait in Redis for the next scrapes, of this
node or another: every node shows the same global figures.
"""

import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping

from prometheus_client.core import GaugeMetricFamily
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.infra.models import Campaign, Message
from app.messaging.circuit import CLOSED, OPEN, PROBING, Circuit
from app.messaging.outbox import FINAL
from app.messaging.send_stats import SendStats

STATES = ("queued", "claimed", "sending", "sent", "delivered", "failed", "unknown", "cancelled")
MOVING = tuple(state for state in STATES if state not in FINAL)
# A campaign under way, or stopped by its brake: its numbers are worth watching.
UNFINISHED = ("expanding", "sending", "paused")
PROGRESS = ("sent", "delivered", "failed")
CIRCUIT = {CLOSED: 0, PROBING: 1, OPEN: 2}
FRESH_S = 5.0  # how old the database's figures may be: under any scrape interval
FINAL_S = 300.0  # how old the final states' counts may be: a count over the whole outbox
# Longer than a count may take: while one process counts, the others show the last figures.
COUNTING_S = 10

log = logging.getLogger(__name__)


class Stale(Exception):
    """The database's figures are old, the last count failed and another process is counting."""


class Gauges:
    """A Prometheus collector of the stores' state; collect() reads them at each scrape."""

    def __init__(
        self,
        open_db: Callable[[], Session],
        redis: Redis,
        queues: Mapping[str, str],
        circuit: Circuit | None,
        providers: tuple[str, ...],
        stats: SendStats,
        progress: str | None = None,
        cache: str | None = None,
        fresh_s: float = FRESH_S,
        final_s: float = FINAL_S,
    ):
        """queues: each RQ queue's short name, and its list's key in Redis; progress, the
        key of the stream of lesson places and answers that the clock writes to SQL; cache,
        the key the database's figures wait under (None: counted at each scrape)."""
        self.open_db, self.redis, self.queues = open_db, redis, queues
        self.circuit, self.providers, self.stats = circuit, providers, stats
        self.progress, self.cache, self.fresh_s, self.final_s = progress, cache, fresh_s, final_s
        self._last: dict | None = None  # this process's last figures, for a Redis down

    def collect(self):
        """Yield every family; a store that does not answer is said so, not a failed scrape."""
        up = GaugeMetricFamily(
            "kalan_metrics_source_up", "Whether a scrape could read a store", labels=("source",)
        )
        kept: dict = {}  # the figures kept in Redis, read in the same round trip, if it answered
        for source, read in (
            ("redis", lambda: self._redis(kept)),
            ("database", lambda: _families(self._figures(kept))),
        ):
            try:
                families = read()
            except (RedisError, SQLAlchemyError, Stale) as exc:
                log.warning("metrics: the %s did not answer: %s", source, type(exc).__name__)
                up.add_metric((source,), 0)
                continue
            up.add_metric((source,), 1)
            yield from families
        yield up

    def _redis(self, kept: dict) -> list:
        pipe = self.redis.pipeline(transaction=False)
        for key in self.queues.values():
            pipe.llen(key)
        self.stats.read(pipe)
        if self.progress:
            pipe.xlen(self.progress)
        if self.cache:
            pipe.get(self.cache)
            pipe.exists(self.cache + ":failed")
        answers = pipe.execute()
        if self.cache:
            kept["failed"] = bool(answers.pop())
            kept["figures"] = _loaded(answers.pop())
        backlog = answers.pop() if self.progress else None
        depth = GaugeMetricFamily(
            "kalan_queue_jobs", "Jobs waiting in each RQ queue", labels=("queue",)
        )
        for name, count in zip(self.queues, answers, strict=False):
            depth.add_metric((name,), count)
        circuits = GaugeMetricFamily(
            "kalan_circuit_state",
            "Each SMS provider's circuit: 0 closed, 1 due a probe, 2 open",
            labels=("provider",),
        )
        for provider in self.providers:
            state = self.circuit.state(provider) if self.circuit else CLOSED
            circuits.add_metric((provider,), CIRCUIT[state])
        read = answers[len(self.queues) :]
        families = [depth, circuits, *self.stats.families(read, self.providers)]
        if backlog is not None:
            # Steps a hop kept that SQL does not have yet: it grows when the clock stops
            # or the database slows down, and a Redis lost meanwhile would lose them.
            families.append(GaugeMetricFamily(
                "kalan_progress_backlog", "Lesson places and answers not yet written to SQL",
                value=backlog,
            ))  # fmt: skip
        return families

    def _figures(self, kept: dict) -> dict:
        """Return the database's figures: those kept if fresh, else counted (by one process
        at a time: while another counts, the last ones are shown, unless the last count failed)."""
        now = time.time()
        if self.cache is None:
            return self._count(None, now)
        shared = "figures" in kept  # else Redis is down: this process's own last figures
        cached = kept["figures"] if shared else self._last
        if cached and now - cached["at"] < self.fresh_s:
            return cached
        counting = shared and self._counting()
        if cached and shared and not counting:
            if kept["failed"]:
                # No count has succeeded since one failed: every scrape says the database is
                # down while it is, not only the counting process's (the alert would flap).
                raise Stale
            return cached
        try:
            figures = self._last = self._count(cached, now)
        except SQLAlchemyError:
            if shared:
                with contextlib.suppress(RedisError):
                    self.redis.set(self.cache + ":failed", 1, ex=int(self.final_s))
            raise
        if shared:
            try:
                pipe = self.redis.pipeline(transaction=False)
                # Kept after they are stale: the figures shown while one process counts.
                pipe.set(self.cache, json.dumps(figures), ex=int(self.final_s))
                pipe.delete(self.cache + ":failed")
                if counting:
                    pipe.delete(self.cache + ":counting")
                pipe.execute()
            except RedisError:
                pass  # the next scrape counts again; this one has its figures
        return figures

    def _counting(self) -> bool:
        """Return whether this process may count now (no other is): it then holds the right
        until it has kept its figures, or COUNTING_S."""
        try:
            return bool(self.redis.set(self.cache + ":counting", 1, nx=True, ex=COUNTING_S))
        except RedisError:
            return False

    def _count(self, cached: dict | None, now: float) -> dict:
        """Count the outbox's rows by state and the unfinished campaigns' (the final states
        only when cached has none younger than final_s)."""
        final = None
        if cached and now - cached["final_at"] < self.final_s:
            final, final_at = cached["final"], cached["final_at"]
        with self.open_db() as db:
            # Pairs read one by one: a Result has keys(), which dict() would take for a mapping.
            moving = select(Message.status, func.count()).where(Message.status.in_(MOVING))
            states = {s: n for s, n in db.execute(moving.group_by(Message.status))}
            if final is None:
                done = select(Message.status, func.count()).where(Message.status.in_(FINAL))
                final = {s: n for s, n in db.execute(done.group_by(Message.status))}
                final_at = now
            unfinished = select(Campaign.id, Campaign.recipients)
            unfinished = unfinished.where(Campaign.status.in_(UNFINISHED))
            campaigns = {campaign_id: count for campaign_id, count in db.execute(unfinished)}
            rows = []
            if campaigns:
                rows = db.execute(
                    select(Message.campaign_id, Message.status, func.count())
                    .where(Message.campaign_id.in_(campaigns), Message.status.in_(PROGRESS))
                    .group_by(Message.campaign_id, Message.status)
                ).all()
        counts: dict[int, dict[str, int]] = {campaign_id: {} for campaign_id in campaigns}
        for campaign_id, status, n in rows:
            counts[campaign_id][status] = n
        return {
            "at": now, "final_at": final_at, "states": states, "final": final,
            "campaigns": [[c, campaigns[c] or 0, counts[c]] for c in sorted(campaigns)],
        }  # fmt: skip


def _loaded(kept: bytes | None) -> dict | None:
    """Return the figures kept in Redis, or None if they cannot be read as this version writes
    them (damaged, or another version's during a rolling upgrade): they are counted again."""
    if not kept:
        return None
    try:
        figures = json.loads(kept)
        numbers = [figures["at"], figures["final_at"]]
        numbers += [sample.value for family in _families(figures) for sample in family.samples]
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return figures if all(isinstance(n, int | float) for n in numbers) else None


def _families(figures: dict) -> list:
    """Return the outbox's and the campaigns' families from the database's figures."""
    states = {**figures["final"], **figures["states"]}
    outbox = GaugeMetricFamily("kalan_outbox_messages", "Outbox rows by state", labels=("state",))
    for state in sorted({*STATES, *states}):
        outbox.add_metric((state,), states.get(state, 0))
    # By id only: a campaign's name may say whom it is for.
    recipients = GaugeMetricFamily(
        "kalan_campaign_recipients",
        "Recipients of each unfinished campaign",
        labels=("campaign",),
    )
    messages = GaugeMetricFamily(
        "kalan_campaign_messages",
        "Messages of each unfinished campaign sent, delivered or failed",
        labels=("campaign", "state"),
    )
    for campaign_id, count, counts in figures["campaigns"]:
        recipients.add_metric((str(campaign_id),), count)
        for state in PROGRESS:
            messages.add_metric((str(campaign_id), state), counts.get(state, 0))
    return [outbox, recipients, messages]
