"""Development commands of `kalan`: the demo data, a terminal phone, and `make run`.

They join the `kalan` group through the `flask.commands` entry point, so the
production package never imports the sandbox.
"""

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli.group import environment, settings


@click.command("seed")
@with_appcontext
def seed_command():
    """Add the demo contacts and focal points that are missing."""
    from sandbox.seed import seed

    if current_app.config["APP_ENV"] == "production":
        # Demo focal points with a known PIN would receive real case alerts.
        click.echo("error: the demo data is for development only", err=True)
        sys.exit(2)
    with current_app.extensions["db"]() as session:
        added, points = seed(session)
    click.echo(f"demo data: {added} contact(s) and {points} focal point(s) added")


@click.command("dial")
@click.argument("phone")
@click.option(
    "--url",
    envvar="KALAN_URL",
    help="Kalan's base URL [default: make run's, else http://127.0.0.1:$PORT]",
)
@click.option("--code", envvar="USSD_CODE", default="*123#", show_default=True)
@click.option("--token", envvar="WEBHOOK_TOKEN", default="")
@click.option("--input", "inputs", multiple=True, help="Answer to send; repeat for each screen.")
def dial(phone, url, code, token, inputs):
    """Dial Kalan from a terminal, as a phone on the Africa's Talking gateway would."""
    from sandbox.dialer import converse

    config, env = settings(), environment()  # make run's address too, if it shared one
    url = url or env.get("KALAN_URL") or f"http://127.0.0.1:{env.get('PORT') or '5000'}"
    sys.exit(converse(url, phone, code, token, inputs, Path(config["CONTENT_DIR"])))


@click.command("dev")
def dev():
    """Run Redis, the web app, a worker and the sandbox until Ctrl-C (`make run`)."""
    from sandbox.devserver import serve

    sys.exit(serve())
