"""The Redis client of every process: one server (REDIS_URL), or the primary Sentinel names.

Redis Cluster is not offered: RQ's commands and scripts touch several keys at once
(a queue and a job, two queues), which Cluster refuses across its slots (docs/deploy.md).
"""

import re
from collections.abc import Mapping

from redis import Redis
from redis.backoff import NoBackoff
from redis.connection import SSLConnection, parse_url
from redis.retry import Retry
from redis.sentinel import Sentinel

from app.infra.config_error import ConfigError

SCHEMES = ("redis://", "rediss://", "unix://")
# A USSD hop cannot wait: a second to connect, a second for an answer, for the
# data nodes and the sentinels alike.
TIMEOUTS = {"socket_timeout": 1, "socket_connect_timeout": 1}
HOST = re.compile(r"^[A-Za-z0-9._-]+$")
MASTER_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
EXAMPLE = "10.0.0.5:26379,10.0.0.6:26379,10.0.0.7:26379"


def connect(config: Mapping) -> Redis:
    """Create the client the settings name; it connects on first use, and fails fast."""
    if not config.get("REDIS_SENTINELS"):
        return Redis.from_url(config["REDIS_URL"], retry=_one_retry(), **TIMEOUTS)
    # REDIS_URL still gives the data nodes' password, database and TLS; Sentinel the address.
    options = parse_url(config["REDIS_URL"])
    for name in ("host", "port"):
        options.pop(name, None)
    tls = options.pop("connection_class", None) is SSLConnection
    sentinel_options = {**TIMEOUTS, "ssl": tls}
    if config.get("REDIS_SENTINEL_PASSWORD"):
        sentinel_options["password"] = config["REDIS_SENTINEL_PASSWORD"]
    sentinel = Sentinel(config["REDIS_SENTINELS"], sentinel_kwargs=sentinel_options)
    # Each new connection asks the sentinels where the primary is, and one still open to
    # a demoted primary is dropped: once a replica is promoted, the next hop reaches it.
    return sentinel.master_for(
        config["REDIS_SENTINEL_MASTER"], retry=_one_retry(), ssl=tls, **TIMEOUTS, **options
    )


def _one_retry() -> Retry:
    """One quick retry: it reconnects after a restart or a failover without a user noticing."""
    return Retry(NoBackoff(), 1)


def check(config: dict) -> dict:
    """Check the Redis settings; turn REDIS_SENTINELS into (host, port) pairs."""
    if not str(config["REDIS_URL"]).startswith(SCHEMES):
        raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
    sentinels = config["REDIS_SENTINELS"] = parse_sentinels(config["REDIS_SENTINELS"])
    master = config["REDIS_SENTINEL_MASTER"] = str(config["REDIS_SENTINEL_MASTER"]).strip()
    if sentinels and not master:
        raise ConfigError(
            "REDIS_SENTINEL_MASTER must be set with REDIS_SENTINELS: the name the sentinels "
            "monitor the primary under (their `sentinel monitor NAME ...` line)"
        )
    if master and not MASTER_NAME.match(master):
        raise ConfigError(
            f"REDIS_SENTINEL_MASTER must be a name of letters, digits, '.', '_' or '-', "
            f"not {master!r}"
        )
    for name in ("REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_PASSWORD"):
        if config[name] and not sentinels:
            raise ConfigError(f"{name} is set but REDIS_SENTINELS is empty: list them, {EXAMPLE}")
    if sentinels and str(config["REDIS_URL"]).startswith("unix://"):
        raise ConfigError(
            "REDIS_URL cannot be a unix:// socket with REDIS_SENTINELS: the sentinels name "
            "the primary by host and port (REDIS_URL then gives only its password and database)"
        )
    return config


def parse_sentinels(text) -> tuple[tuple[str, int], ...]:
    """Read "host:port,host:port" (an IPv6 address in brackets) into (host, port) pairs."""
    if isinstance(text, (tuple, list)):
        return tuple((str(host), int(port)) for host, port in text)
    found: list[tuple[str, int]] = []
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        host, sep, port = part.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
            valid = ":" in host and all(c in "0123456789abcdefABCDEF:." for c in host)
        else:
            valid = bool(HOST.match(host))
        if not (sep and valid and port.isdigit() and 0 < int(port) < 65536):
            raise ConfigError(
                f"REDIS_SENTINELS must list host:port pairs, such as {EXAMPLE}, not {part!r}"
            )
        if (host, int(port)) in found:
            raise ConfigError(f"REDIS_SENTINELS names {part} twice")
        found.append((host, int(port)))
    return tuple(found)
