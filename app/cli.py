"""The `kalan` command line: database, content, demo data, dialling and `make run`."""

import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from . import create_app


@click.group(cls=FlaskGroup, create_app=create_app, add_default_commands=False)
def main():
    """Kalan: USSD/SMS child-labour training and reporting."""


@main.group()
def db():
    """Manage the database schema."""


@db.command("upgrade")
@with_appcontext
def db_upgrade():
    """Apply every pending migration."""
    from .migrate import current, upgrade

    engine = current_app.extensions["engine"]
    upgrade(engine)
    click.echo(f"database at revision {current(engine)}")


@main.group()
def content():
    """Check the course and screen copy."""


@content.command("check", with_appcontext=False)
def content_check():
    """Validate content/ and render every screen; exit 1 on any problem."""
    from .content import ContentError, load, oversized

    config = settings()
    try:
        catalog, warnings = load(Path(config["CONTENT_DIR"]))
    except ContentError as exc:
        for line in str(exc).splitlines():
            click.echo(f"error: {line}", err=True)
        sys.exit(1)
    for line in warnings:
        click.echo(f"warning: {line}")
    limit = config["USSD_MAX_CHARS"]
    problems = oversized(catalog, limit, config["USSD_CODE"])
    for line in problems:
        click.echo(f"error: {line}", err=True)
    if problems:
        sys.exit(1)
    keys = sum(len(t) for t in catalog.texts.values())
    click.echo(f"content ok: {len(catalog.texts)} language(s), {keys} texts, screens fit {limit}")


def settings() -> dict:
    """Return the validated settings for a tool that needs no secrets, or exit."""
    from .config import ConfigError, from_env, validate

    try:
        return validate(from_env(strict=False))
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@main.command("seed")
@with_appcontext
def seed_command():
    """Add the demo contacts that are missing."""
    from .seed import seed

    with current_app.extensions["db"]() as session:
        added = seed(session)
    click.echo(f"demo data: {added} contact(s) added")


@main.group()
def ussd():
    """Look at how USSD sessions went."""


@ussd.command("dropoffs")
@with_appcontext
def ussd_dropoffs():
    """Show where sessions ended, from the gateway's end-of-session notifications."""
    from .events import dropoffs

    with current_app.extensions["db"]() as session:
        rows = dropoffs(session)
    if not rows:
        click.echo("no session has ended yet")
        return
    click.echo(f"{'screen':<24}{'status':<12}{'sessions':>8}")
    for node, status, count in rows:
        click.echo(f"{node:<24}{status:<12}{count:>8}")


@main.command("dial", with_appcontext=False)
@click.argument("phone")
@click.option(
    "--url", envvar="KALAN_URL", help="Kalan's base URL [default: http://127.0.0.1:$PORT]"
)
@click.option("--code", envvar="USSD_CODE", default="*123#", show_default=True)
@click.option("--token", envvar="WEBHOOK_TOKEN", default="")
@click.option("--input", "inputs", multiple=True, help="Answer to send; repeat for each screen.")
def dial(phone, url, code, token, inputs):
    """Dial Kalan from a terminal, as a phone on the Africa's Talking gateway would."""
    from .dialer import converse

    config = settings()
    url = url or f"http://127.0.0.1:{os.environ.get('PORT') or '5000'}"
    sys.exit(converse(url, phone, code, token, inputs, Path(config["CONTENT_DIR"])))


@main.command("dev", with_appcontext=False)
def dev():
    """Run Redis, the web app, a worker and the sandbox until Ctrl-C (`make run`)."""
    from .devserver import serve

    sys.exit(serve())


if __name__ == "__main__":
    main()
