"""A form confirmed once: the same submission again within minutes is recognised, not redone."""

import hashlib
import json

from redis import Redis

TTL_S = 600  # long enough for an impatient double click or a resent form, no longer


class Once:
    """A claim on one submission, kept in Redis under a hash of who sent what."""

    def __init__(self, redis: Redis, key: str, first: bool, campaign_id: int | None):
        self.redis, self.key, self.first, self.campaign_id = redis, key, first, campaign_id

    @classmethod
    def claim(cls, redis: Redis, prefix: str, who: str, form: list) -> "Once":
        """Claim a submission; first is False when the same one was claimed lately."""
        digest = hashlib.sha256(json.dumps([who, form], ensure_ascii=False).encode()).hexdigest()
        key = f"{prefix}once:{digest}"
        if redis.set(key, "", nx=True, ex=TTL_S):
            return cls(redis, key, True, None)
        made = redis.get(key)
        return cls(redis, key, False, int(made) if made and made.isdigit() else None)

    def made(self, campaign_id: int) -> None:
        """Remember what the first submission made, for the ones after it."""
        self.redis.set(self.key, str(campaign_id), ex=TTL_S)

    def release(self) -> None:
        """Forget a claim whose submission made nothing, so that it may be sent again."""
        self.redis.delete(self.key)
