"""What the providers answered to each request of a send, and how long they took, counted
in Redis: the workers send (in containers and forked jobs of their own), the web process
shows the sums to Prometheus.
"""

import logging
from collections import Counter
from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from redis import Redis
from redis.exceptions import RedisError

from app.infra.gateway import NOT_TRIED, SENT, UNKNOWN, GatewayError

RESULTS = ("sent", "failed", "unknown", "not_tried")
# A provider's request takes from tens of milliseconds to its SDK's timeout (9 s and more).
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
INF = "+Inf"

log = logging.getLogger(__name__)


def results(phones: Iterable[str], answer) -> Counter:
    """Count a request's recipients by result, from the provider's answer or its error."""
    phones = list(phones)
    if isinstance(answer, GatewayError):
        return Counter({"unknown" if answer.unknown else "failed": len(phones)})
    by_phone = {result.phone: result for result in answer}
    counts = Counter()
    for phone in phones:
        result = by_phone.get(phone)
        if result is not None and result.status == NOT_TRIED:
            counts["not_tried"] += 1
        elif result is None or result.outcome == UNKNOWN:
            counts["unknown"] += 1
        elif result.outcome == SENT:
            counts["sent"] += 1
        else:  # refused, or worth another try later: this try failed all the same
            counts["failed"] += 1
    return counts


class SendStats:
    """The counts of every provider's results, and a histogram of its requests' durations."""

    def __init__(self, redis: Redis, prefix: str):
        self.redis = redis
        self.results_key = prefix + "metrics:sends"
        self.seconds_key = prefix + "metrics:send_seconds"

    def count(self, provider: str, phones: list[str], answer, seconds: float) -> None:
        """Count one request's results and duration; never fail the send that made them."""
        try:
            self.record(provider, results(phones, answer), seconds)
        except RedisError:
            log.warning("the results of a request to %s were not counted: Redis", provider)

    def record(self, provider: str, counts: Counter, seconds: float) -> None:
        """Add one request's results and duration, in one round trip; may raise RedisError."""
        pipe = self.redis.pipeline(transaction=False)
        for result, count in counts.items():
            if count:
                pipe.hincrby(self.results_key, f"{provider}|{result}", count)
        bucket = next((str(b) for b in BUCKETS if seconds <= b), INF)
        pipe.hincrby(self.seconds_key, f"{provider}|{bucket}", 1)
        pipe.hincrbyfloat(self.seconds_key, f"{provider}|sum", seconds)
        pipe.execute()

    def read(self, pipe) -> None:
        """Queue on pipe the two reads that families() turns into metrics."""
        pipe.hgetall(self.results_key)
        pipe.hgetall(self.seconds_key)

    def families(self, read: list[dict], providers: Iterable[str]):
        """Return the results' counter and the durations' histogram from read()'s answers."""
        counted, timed = ({_text(k): _text(v) for k, v in d.items()} for d in read)
        sends = CounterMetricFamily(
            "kalan_provider_sends", "Recipients of SMS requests, by provider and result",
            labels=("provider", "result"),
        )  # fmt: skip
        seconds = HistogramMetricFamily(
            "kalan_provider_send_seconds", "Duration of SMS requests, by provider",
            labels=("provider",),
        )  # fmt: skip
        names = sorted(set(providers) | {k.split("|")[0] for k in (*counted, *timed)})
        for provider in names:
            for result in RESULTS:
                sends.add_metric((provider, result), int(counted.get(f"{provider}|{result}", 0)))
            total, buckets = 0, []
            for bound in (*map(str, BUCKETS), INF):
                total += int(timed.get(f"{provider}|{bound}", 0))
                buckets.append((bound, total))  # Prometheus's buckets count all below them
            seconds.add_metric((provider,), buckets, float(timed.get(f"{provider}|sum", 0)))
        return sends, seconds


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value
