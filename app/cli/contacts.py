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
    """Add or update contacts from a CSV file (phone,name,role,region,cercle,commune,language).

    The header may be French (telephone,nom,role,region,cercle,commune,langue).
    """
    from app.people.importer import Limits, cercle_names, import_csv, text_lines

    catalog = current_app.extensions["catalog"]
    languages, cercles = set(catalog.languages), cercle_names(catalog)
    with current_app.extensions["db"]() as session:
        report = import_csv(session, text_lines(file), languages, False, Limits(), cercles)
    for line in report.errors:
        click.echo(line, err=True)
    click.echo(f"{report.added} added, {report.updated} updated, {len(report.errors)} rejected")
    sys.exit(1 if report.errors else 0)
