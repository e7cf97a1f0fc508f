"""What a hop uses outside itself: settings, content, journeys and stores, given by the factory."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from redis import Redis
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.infra.metrics import Metrics
from app.infra.sessions import SessionStore
from app.messaging.notify import Workers
from flows import Catalog


@dataclass(frozen=True)
class Services:
    """The dependencies of the conversation, whatever the channel that carries it."""

    config: Mapping
    catalog: Catalog
    flow: Mapping  # the journeys' nodes by id (flows.build)
    sessions: SessionStore
    redis: Redis
    engine: Engine
    open_db: Callable[[], Session]  # a fresh ORM session, for the hops that need one
    workers: Workers
    clock: Callable[[], datetime]  # the time now, in UTC: read once a hop
    metrics: Metrics | None = None  # where each hop is counted and timed; None: nowhere
