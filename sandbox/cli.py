"""Development commands of `kalan`: the demo data, terminal phones, and `make run`.

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


@click.command("call")
@click.argument("phone")
@click.option("--to", "number", help="Kalan's number to call [default: the sandbox's]")
@click.option(
    "--url",
    envvar="KALAN_URL",
    help="Kalan's base URL [default: make run's, else http://127.0.0.1:$PORT]",
)
@click.option("--token", envvar="WEBHOOK_TOKEN", default="")
@click.option(
    "--input", "inputs", multiple=True, help="Keys to press at a prompt, '' for none; repeat."
)
@click.option(
    "--record",
    "records",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="WAV file to send at a Record prompt; repeat for each.",
)
@click.option("--missed", is_flag=True, help="Call the call-back number: Kalan rejects the call.")
@click.option("--wait", is_flag=True, help="Then wait for Kalan's call back, and answer it.")
@click.option(
    "--sandbox",
    "sandbox_url",
    envvar="SANDBOX_URL",
    help="The sandbox's URL, for recordings and calls back [default: make run's]",
)
@click.option(
    "--minute-cost",
    envvar="SANDBOX_VOICE_MINUTE_COST",
    default="XOF 50.0000",
    show_default=True,
    help="What a minute of call costs, as the last request reports it.",
)
def call(phone, number, url, token, inputs, records, missed, wait, sandbox_url, minute_cost):
    """Call Kalan from a terminal, as a phone on the Africa's Talking voice gateway would."""
    from sandbox import CALLBACK_NUMBER, VOICE_NUMBER, first
    from sandbox.caller import Line, converse
    from sandbox.tariff import Tariff

    try:
        tariff = Tariff.parse(minute_cost)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--minute-cost") from None
    config, env = settings(), environment()
    url = url or env.get("KALAN_URL") or f"http://127.0.0.1:{env.get('PORT') or '5000'}"
    sandbox_url = sandbox_url or f"http://127.0.0.1:{env.get('SANDBOX_PORT') or '5001'}"
    if number is None and missed:
        number = env.get("SANDBOX_VOICE_CALLBACK_NUMBER") or first(
            env.get("VOICE_CALLBACK_NUMBERS") or CALLBACK_NUMBER
        )
    number = number or env.get("SANDBOX_VOICE_NUMBER") or VOICE_NUMBER
    line = Line(url, token, sandbox_url, tariff, list(inputs), list(records), bool(inputs))
    sys.exit(converse(line, phone, number, wait, Path(config["CONTENT_DIR"])))


@click.command("dev")
def dev():
    """Run Redis, the web app, a worker and the sandbox until Ctrl-C (`make run`)."""
    from sandbox.devserver import serve

    sys.exit(serve())
