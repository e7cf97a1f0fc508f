"""What a flow may read: the caller's profile and the facts of the hop, some fetched late."""

from datetime import datetime

from app.conversation.services import Services
from flows.engine import Route


class Context(dict):
    """The read-only facts a flow may use; some are fetched only if the flow reads them."""

    def __init__(self, facts: dict):
        super().__init__(facts)
        self._later: dict = {}

    def later(self, key: str, fetch) -> None:
        """Fetch key with fetch() when the flow first reads it."""
        self._later[key] = fetch

    def __missing__(self, key):
        if key in self._later:
            value = self[key] = self._later.pop(key)()
            return value
        raise KeyError(key)

    def get(self, key, default=None):
        return self[key] if key in self or key in self._later else default


def context(
    services: Services,
    phone: str,
    profile: dict,
    resume: dict | None,
    now: datetime,
    channel: str = "ussd",
    entry: str | None = None,
) -> Context:
    """Gather the read-only facts a flow may use."""
    config, catalog = services.config, services.catalog
    if resume and not known(services.flow, resume):
        resume = None  # a journey renamed since: start afresh rather than fail
    return Context(
        {
            "phone": phone,
            "channel": channel,  # "ussd" or "voice": a call cannot type a name
            "entry": entry,  # why Kalan placed this call ("lesson"), on its first screen
            "code": config["USSD_CODE"],
            "lang": profile.get("lang"),
            "profile": profile,
            "resume": resume,
            "languages": tuple(catalog.names.items()),
            "complete": catalog.complete,  # the languages a new caller may be asked to choose
            "training": profile.get("training") or {},
            "tests": profile.get("tests") or {},
            "recalls": profile.get("recalls") or {},
            "now": now.isoformat(),
            "pass_mark": config["TRAINING_PASS_MARK"],
            "report_limit": config["REPORT_DAILY_LIMIT"],
        }
    )


def known(flow, state: dict) -> bool:
    """Tell whether a stored state only names screens this release still has (in flow)."""
    try:
        nodes = [state["node"], *(node for node, _ in state["back"])]
        # A node that became a route since cannot be shown: it has no screen.
        return all(node in flow and not isinstance(flow[node], Route) for node in nodes)
    except (KeyError, TypeError, ValueError):
        return False
