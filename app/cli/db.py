"""`kalan` commands: manage the database schema."""

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli.group import main


@main.group()
def db():
    """Manage the database schema."""


@db.command("upgrade")
@with_appcontext
def db_upgrade():
    """Apply every pending migration."""
    from app.infra.migrate import current, upgrade

    engine = current_app.extensions["engine"]
    upgrade(engine)
    click.echo(f"database at revision {current(engine)}")
