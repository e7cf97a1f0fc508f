"""What is left of the SMS bundles a provider sells (Orange's contracts), read by the worker.

The worker reads it every few minutes and keeps it in Redis; the console shows what
was read last, so no page waits on a provider's API.
"""

import json
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError

from app.infra.gateway import GatewayError

EVERY_S = 300  # how often the worker asks
KEEP_S = 24 * 3600  # a reading older than this says too little to show


def _key(prefix: str, provider: str) -> str:
    return f"{prefix}balance:{provider}"


def refresh(redis: Redis, prefix: str, gateways: dict, now: datetime) -> list[str]:
    """Read the balance of each gateway that has one, unless another worker just did.

    Returns the providers read; a provider that fails is kept with its error.
    """
    read = []
    for name, gateway in gateways.items():
        if not hasattr(gateway, "balance"):
            continue
        if not redis.set(_key(prefix, name) + ":lock", 1, nx=True, ex=EVERY_S):
            continue  # read within the last EVERY_S seconds, here or by another worker
        reading: dict = {"at": now.isoformat()}
        try:
            reading["contracts"] = [
                {"country": c.country, "units": c.units, "status": c.status, "expires": c.expires}
                for c in gateway.balance()
            ]
        except GatewayError as exc:
            reading["error"] = exc.reason[:200]
        previous = last(redis, prefix, name)
        if "error" in reading and previous and previous.get("contracts") is not None:
            # Keep the last good figures beside the error: they still say roughly what is left.
            reading["contracts"], reading["read_at"] = previous["contracts"], previous["read_at"]
        elif "contracts" in reading:
            reading["read_at"] = reading["at"]
        redis.set(_key(prefix, name), json.dumps(reading), ex=KEEP_S)
        read.append(name)
    return read


def last(redis: Redis, prefix: str, provider: str) -> dict | None:
    """Return the last reading of a provider's balance, or None; never raises for Redis."""
    try:
        raw = redis.get(_key(prefix, provider))
    except RedisError:
        return None
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
