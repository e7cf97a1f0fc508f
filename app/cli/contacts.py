"""`kalan` commands: import contacts."""

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli.group import main


@main.group()
def contacts():
    """Manage contacts."""


@contacts.command("import")
@click.argument("file", type=click.File("rb"))
@with_appcontext
def contacts_import(file):
    """Add or update contacts from a CSV file (phone,name,role,region,cercle,commune,language)."""
    from app.people.importer import import_csv, text_lines

    languages = set(current_app.extensions["catalog"].languages)
    with current_app.extensions["db"]() as session:
        report = import_csv(session, text_lines(file), languages)
    for line in report.errors:
        click.echo(line, err=True)
    click.echo(f"{report.added} added, {report.updated} updated, {len(report.errors)} rejected")
    sys.exit(1 if report.errors else 0)
