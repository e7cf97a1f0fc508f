"""`kalan sms route`: which providers an SMS to a number would go through, and their circuits."""

import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from redis.exceptions import RedisError

from app.cli.group import main
from app.infra.routes import operator
from app.messaging import balance
from app.people import contacts


@main.group("sms")
def sms_group():
    """Look at how SMS are routed."""


@sms_group.command("route")
@click.argument("phones", nargs=-1, required=True)
@with_appcontext
def sms_route(phones):
    """Show each number's operator, its route, and each provider's circuit now."""
    routing = current_app.extensions["routing"]
    config = current_app.config
    failed = False
    for raw in phones:
        phone = contacts.normalize(raw)
        if phone is None:
            click.echo(f"{raw}: not a phone number", err=True)
            failed = True
            continue
        code = operator(phone, config["SMS_PORTED"]) or "unknown operator"
        try:
            states = [f"{p} ({routing.circuit.state(p)})" for p in routing.route(phone)]
        except RedisError:
            states = [f"{p} (circuit unknown: Redis did not answer)" for p in routing.route(phone)]
        click.echo(f"{phone}: {code} -> {', '.join(states) or 'no provider'}")
    reading = balance.last(current_app.extensions["redis"], config["REDIS_PREFIX"], "orange")
    for contract in (reading or {}).get("contracts") or []:
        click.echo(f"orange: {contract['units']} SMS left ({contract['country']}), "
                   f"read {reading.get('read_at', '?')}")  # fmt: skip
    sys.exit(1 if failed else 0)
