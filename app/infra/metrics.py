"""The web process's own metrics, for Prometheus: hops by channel and kind, their latency and
their failures; what other stores hold is read at each scrape by the collectors it watches.

Each app has a registry of its own, so that apps built side by side (the tests) never clash
on a name in prometheus_client's global one. Under gunicorn each worker is a process: with
PROMETHEUS_MULTIPROC_DIR set (before prometheus_client is imported: the Procfile sets it),
the values go to files there and a scrape adds every worker's up: a folder of Kalan's own.
"""

import re
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from app.infra.config_error import ConfigError

CHANNELS = ("ussd", "voice")
# What a hop did: the day's first (its profile read from SQL), a report sent, a quiz answered,
# a lesson's place kept, a screen shown; a copy of the hop just answered is a repeat.
KINDS = ("first", "report", "answer", "lesson", "navigation", "repeat")
CAUSES = ("storage", "flow", "refused", "busy")
# A hop takes milliseconds: from 1 ms to 1 s (Prometheus counts in seconds).
HOP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
# The file that makes a multiprocess folder Kalan's: only then may a start empty it.
MARKER = ".kalan-metrics"
# The files prometheus_client writes there, <type>_<pid>.db (a gauge's type names its mode):
# the only ones a start deletes, and the only ones a folder of ours may hold beside MARKER.
WRITTEN = re.compile(
    r"(?:counter|histogram|summary|gauge_(?:live)?(?:all|min|max|sum|mostrecent))_\d+\.db"
)


def claim(folder: str) -> Path:
    """Return the multiprocess folder, made and marked as Kalan's; raise ConfigError if it holds
    anything else: a scrape reads every *.db there, and a start deletes prometheus_client's."""
    path = Path(folder)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        names = sorted(entry.name for entry in path.iterdir())
    except OSError as exc:
        raise ConfigError(f"PROMETHEUS_MULTIPROC_DIR={folder}: {exc.strerror}") from None
    # prometheus_client's files alone, unmarked, are what a Kalan before the mark left: taken
    # over, so an upgrade starts. Anything else may be another program's, and is refused.
    foreign = [n for n in names if n != MARKER and not WRITTEN.fullmatch(n)]
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise ConfigError(
            f"PROMETHEUS_MULTIPROC_DIR={folder} holds files Kalan did not write "
            f"({', '.join(foreign[:3])}{more}): give the web metrics a new or empty folder "
            "of their own"
        )
    if MARKER not in names:
        (path / MARKER).write_text("Kalan's web metrics: each start empties this folder.\n")
    return path


def empty(folder: Path) -> None:
    """Delete the files prometheus_client wrote in a folder claim() returned, and no other."""
    for entry in folder.iterdir():
        if WRITTEN.fullmatch(entry.name):
            entry.unlink(missing_ok=True)


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
        self.read_fallbacks = Counter(
            "kalan_read_fallbacks",
            "Sessions opened on the primary because the read replica did not answer",
            registry=own,
        )
        self.registry = own or CollectorRegistry()
        if multiprocess_dir:  # made by claim(), as the app's settings were checked
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

    def read_fallback(self) -> None:
        """Count one session opened on the primary because the read replica did not answer."""
        self.read_fallbacks.inc()

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """Return the scrape's body and its content type, in the format Accept asks for
        (Prometheus's text format unless it prefers OpenMetrics)."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type
