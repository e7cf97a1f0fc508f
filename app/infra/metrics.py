"""The web process's own metrics, for Prometheus: hops by channel and kind, their latency and
their failures; what other stores hold is read at each scrape by the collectors it watches.

Each app has a registry of its own, so that apps built side by side (the tests) never clash
on a name in prometheus_client's global one. Under gunicorn each worker is a process: with
PROMETHEUS_MULTIPROC_DIR set (before prometheus_client is imported: the Procfile sets it),
the values go to files there and a scrape adds every worker's up.
"""

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

CHANNELS = ("ussd", "voice")
# What a hop did: the day's first (its profile read from SQL), a report sent, a quiz answered,
# a lesson's place kept, a screen shown; a copy of the hop just answered is a repeat.
KINDS = ("first", "report", "answer", "lesson", "navigation", "repeat")
CAUSES = ("storage", "flow", "refused", "busy")
# A hop takes milliseconds: from 1 ms to 1 s (Prometheus counts in seconds).
HOP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class Metrics:
    """The hop families of one app, and the registry a scrape reads."""

    def __init__(self, multiprocess_dir: str | None = None):
        # Each series' creation time doubles a scrape and tells nothing a restart does not.
        disable_created_metrics()
        # Multiprocess: the families write to files, and only the scrape's registry reads them.
        own = None if multiprocess_dir else CollectorRegistry()
        self.hops = Counter(
            "kalan_hops", "Hops answered, by channel and kind", ("channel", "kind"), registry=own
        )
        self.latency = Histogram(
            "kalan_hop_seconds", "Time to answer a hop, by kind", ("kind",),
            buckets=HOP_BUCKETS, registry=own,
        )  # fmt: skip
        self.errors = Counter(
            "kalan_hop_errors", "Hops that failed, by cause", ("cause",), registry=own
        )
        self.registry = own or CollectorRegistry()
        if multiprocess_dir:
            os.makedirs(multiprocess_dir, exist_ok=True)
            MultiProcessCollector(self.registry, path=multiprocess_dir)
        # Bound once: a hop then costs two lookups in a dict, no label check.
        self._hop = {(c, k): self._bind(c, k) for c in CHANNELS for k in KINDS}
        self._error = {cause: self.errors.labels(cause) for cause in CAUSES}

    def _bind(self, channel: str, kind: str) -> tuple:
        return self.hops.labels(channel, kind), self.latency.labels(kind)

    def watch(self, collector) -> None:
        """Have each scrape also read collector (its collect() runs then, never before)."""
        self.registry.register(collector)

    def hop(self, channel: str, kind: str, seconds: float) -> None:
        """Count one hop answered, and the time it took."""
        children = self._hop.get((channel, kind))
        if children is None:
            children = self._hop[(channel, kind)] = self._bind(channel, kind)
        children[0].inc()
        children[1].observe(seconds)

    def error(self, cause: str) -> None:
        """Count one hop that failed: storage, flow, refused or busy."""
        self._error[cause].inc()

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """Return the scrape's body and its content type, in the format Accept asks for
        (Prometheus's text format unless it prefers OpenMetrics)."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type
