"""The supervisor console under /console/: server-rendered pages in French."""

from app.web.console import (  # noqa: F401 (each module registers its views on bp)
    agents,
    auth,
    campaigns,
    cases,
    contacts,
    dashboard,
    directory,
    inbox,
    preview,
    training,
)
from app.web.console.blueprint import bp

__all__ = ["bp"]
