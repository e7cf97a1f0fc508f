"""`kalan` commands: rotate the key that encrypts reporters' numbers and recordings."""

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
    """Re-encrypt reporters' numbers and the recordings with the first key of REPORTER_KEY."""
    from app.cases import recordings
    from app.cases.reporter_key import UnreadableNumber, rotate

    keys, folder = current_app.config["REPORTER_KEY"], current_app.config["RECORDINGS_DIR"]
    with current_app.extensions["db"]() as session:
        try:
            count = rotate(session, keys)
            files = recordings.rotate(session, folder, keys)
        except (UnreadableNumber, recordings.Unreadable) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
    click.echo(
        f"{count} reporter number(s) re-encrypted with the first key of REPORTER_KEY, and "
        f"{files} recording(s); once every process runs with it, the other keys can be removed"
    )
