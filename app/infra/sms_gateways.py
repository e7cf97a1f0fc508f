"""The SMS gateways this installation can use, built from the configuration."""

from collections.abc import Mapping

from app.infra.gateway import AfricasTalking, Gateway
from app.infra.infobip import Infobip
from app.infra.orange import TIMEOUT as ORANGE_TIMEOUT
from app.infra.orange import Orange
from app.infra.providers import NEEDS
from app.infra.routes import PROVIDERS


def configured(config: Mapping) -> tuple[str, ...]:
    """Return the providers whose settings are there: AT always, the others once set up."""
    return tuple(
        name for name in PROVIDERS if all(str(config[need]).strip() for need in NEEDS.get(name, ()))
    )


def build(config: Mapping, redis) -> dict[str, Gateway]:
    """Build every configured gateway; none connects before its first send."""
    gateways: dict[str, Gateway] = {}
    for name in configured(config):
        if name == "africastalking":
            gateways[name] = AfricasTalking(
                config["AT_USERNAME"], config["AT_API_KEY"],
                sender_id=config["AT_SENDER_ID"], base_url=config["AT_API_BASE_URL"],
            )  # fmt: skip
        elif name == "orange":
            gateways[name] = Orange(
                redis, config["REDIS_PREFIX"], config["ORANGE_CLIENT_ID"],
                config["ORANGE_CLIENT_SECRET"], config["ORANGE_SENDER"],
                sender_name=config["ORANGE_SENDER_NAME"], base_url=config["ORANGE_API_BASE_URL"],
                part_cost=config["ORANGE_PART_COST"], budget_s=budget(config),
            )  # fmt: skip
        else:
            gateways[name] = Infobip(
                config["INFOBIP_API_KEY"], config["INFOBIP_BASE_URL"],
                sender=config["INFOBIP_SENDER"], notify_url=notify_url(config, "infobip"),
                batch_size=config["SMS_BATCH_SIZE"],
            )  # fmt: skip
    return gateways


def notify_url(config: Mapping, provider: str) -> str:
    """Return where a provider posts delivery reports, when Kalan's public address is known."""
    if not config["PUBLIC_URL"]:
        return ""
    token = f"?token={config['WEBHOOK_TOKEN']}" if config["WEBHOOK_TOKEN"] else ""
    return f"{config['PUBLIC_URL']}/sms/delivery/{provider}{token}"


def budget(config: Mapping) -> float:
    """Return how long an Orange batch may start requests: what leaves its last request (up to
    its whole timeout) done within half the lease; one request at least."""
    return max(0.001, config["SMS_LEASE_S"] / 2 - sum(ORANGE_TIMEOUT))
