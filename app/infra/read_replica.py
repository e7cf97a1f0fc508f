"""Sessions on the read replica (DATABASE_READ_URL), and on the primary while it does not
answer: a replica down slows the dashboard's figures' source, never the dashboard."""

import logging
import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
# A replica that failed is tried again this often, not at every page: reaching a host that is
# gone may take the connect timeout (3 s) each time.
RETRY_S = 30.0


class ReadSessions:
    """A session factory: on the replica when it answers, else on the primary (said once)."""

    def __init__(
        self,
        replica: sessionmaker,
        primary: sessionmaker,
        fell_back: Callable[[], None] = lambda: None,
        retry_s: float = RETRY_S,
    ):
        """fell_back: called at each session opened on the primary instead (a metric)."""
        self.replica, self.primary, self.fell_back, self.retry_s = (
            replica, primary, fell_back, retry_s,
        )  # fmt: skip
        self.down = False
        self._retry_at = 0.0

    def __call__(self) -> Session:
        """Return a session on the replica, checked, or on the primary if it does not answer."""
        if time.monotonic() >= self._retry_at:
            session = self.replica()
            try:
                # A round trip now: a pooled connection to a replica restarted or dropped
                # fails here, not in the middle of a page.
                session.execute(text("SELECT 1"))
            except SQLAlchemyError as exc:
                session.close()
                self._failed(exc)
            else:
                if self.down:
                    log.warning("the read replica answers again: reads go back to it")
                    self.down = False
                return session
        self.fell_back()
        return self.primary()

    def _failed(self, exc: SQLAlchemyError) -> None:
        if not self.down:
            # The kind of error only: its text may hold the replica's URL.
            log.warning("the read replica did not answer (%s): reading the primary instead, "
                        "trying it again every %g s", type(exc).__name__, self.retry_s)  # fmt: skip
            self.down = True
        self._retry_at = time.monotonic() + self.retry_s
