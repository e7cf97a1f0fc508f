"""`kalan` commands: rotate the key that encrypts reporters' numbers."""

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli.group import main


@main.group("keys")
def keys_group():
    """Rotate encryption keys."""


@keys_group.command("rotate-reporter")
@with_appcontext
def keys_rotate_reporter():
    """Re-encrypt contactable reporters' numbers with the first key of REPORTER_KEY."""
    from app.cases.reporter_key import UnreadableNumber, rotate

    with current_app.extensions["db"]() as session:
        try:
            count = rotate(session, current_app.config["REPORTER_KEY"])
        except UnreadableNumber as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
    click.echo(
        f"{count} reporter number(s) re-encrypted with the first key of REPORTER_KEY; "
        "once every process runs with it, the other keys can be removed"
    )
