"""`kalan` commands: how USSD sessions went."""

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli.group import main


@main.group()
def ussd():
    """Look at how USSD sessions went."""


@ussd.command("dropoffs")
@with_appcontext
def ussd_dropoffs():
    """Show where sessions ended, from the gateway's end-of-session notifications."""
    from app.conversation.events import dropoffs

    with current_app.extensions["db"]() as session:
        rows = dropoffs(session)
    if not rows:
        click.echo("no session has ended yet")
        return
    click.echo(f"{'screen':<24}{'status':<12}{'sessions':>8}")
    for node, status, count in rows:
        click.echo(f"{node:<24}{status:<12}{count:>8}")
