"""What the queues, the circuits, the outbox and the campaigns hold, read when Prometheus asks:
nothing is written for it, so a worker never pays for a gauge and a gauge is never stale.

Each scrape costs one Redis round trip (and one per provider for its circuit) and three
small queries: one GROUP BY over the outbox, and two over the unfinished campaigns' rows.
"""

import logging
from collections.abc import Callable, Mapping

from prometheus_client.core import GaugeMetricFamily
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.infra.models import Campaign, Message
from app.messaging.circuit import CLOSED, OPEN, PROBING, Circuit
from app.messaging.send_stats import SendStats

STATES = ("queued", "claimed", "sending", "sent", "delivered", "failed", "unknown", "cancelled")
# A campaign under way, or stopped by its brake: its numbers are worth watching.
UNFINISHED = ("expanding", "sending", "paused")
PROGRESS = ("sent", "delivered", "failed")
CIRCUIT = {CLOSED: 0, PROBING: 1, OPEN: 2}

log = logging.getLogger(__name__)


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
    ):
        """queues: each RQ queue's short name, and its list's key in Redis; progress, the
        key of the stream of lesson places and answers that the clock writes to SQL."""
        self.open_db, self.redis, self.queues = open_db, redis, queues
        self.circuit, self.providers, self.stats = circuit, providers, stats
        self.progress = progress

    def collect(self):
        """Yield every family; a store that does not answer is said so, not a failed scrape."""
        up = GaugeMetricFamily(
            "kalan_metrics_source_up", "Whether a scrape could read a store", labels=("source",)
        )
        for source, read in (("redis", self._redis), ("database", self._database)):
            try:
                families = read()
            except (RedisError, SQLAlchemyError) as exc:
                log.warning("metrics: the %s did not answer: %s", source, type(exc).__name__)
                up.add_metric((source,), 0)
                continue
            up.add_metric((source,), 1)
            yield from families
        yield up

    def _redis(self) -> list:
        pipe = self.redis.pipeline(transaction=False)
        for key in self.queues.values():
            pipe.llen(key)
        self.stats.read(pipe)
        if self.progress:
            pipe.xlen(self.progress)
        answers = pipe.execute()
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

    def _database(self) -> list:
        with self.open_db() as db:
            # Pairs read one by one: a Result has keys(), which dict() would take for a mapping.
            grouped = select(Message.status, func.count()).group_by(Message.status)
            states = {status: count for status, count in db.execute(grouped)}
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
        outbox = GaugeMetricFamily(
            "kalan_outbox_messages", "Outbox rows by state", labels=("state",)
        )
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
        counts = {(campaign_id, status): n for campaign_id, status, n in rows}
        for campaign_id, count in sorted(campaigns.items()):
            recipients.add_metric((str(campaign_id),), count or 0)
            for state in PROGRESS:
                messages.add_metric((str(campaign_id), state), counts.get((campaign_id, state), 0))
        return [outbox, recipients, messages]
