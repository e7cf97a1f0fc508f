"""`kalan dial`: a USSD conversation in the terminal, through the sandbox's driver."""

from pathlib import Path
from urllib.parse import urlencode

import click
import requests

from app.content import load
from app.people.contacts import normalize
from sandbox.ussd import UssdCall

HANGUP = ("q", "quit", "exit")


def converse(
    url: str, phone: str, code: str, token: str, inputs: tuple[str, ...], content: Path
) -> int:
    """Dial url as phone; answer from inputs, else from the keyboard. Return an exit status."""
    catalog, _ = load(content)
    number = normalize(phone)
    if number is None:
        click.echo(catalog.get("dial.bad_phone", phone=phone), err=True)
        return 2
    if not reachable(url):
        click.echo(catalog.get("dial.no_server", url=url), err=True)
        return 1
    query = "?" + urlencode({"token": token}) if token else ""
    call = UssdCall(f"{url}/ussd{query}", f"{url}/ussd/events{query}", number, code)
    click.echo(catalog.get("dial.calling", code=code, phone=number))
    hop = call.start()
    answers = list(inputs)
    while True:
        click.echo("\n" + hop.screen)
        for warning in hop.warnings:
            click.echo(catalog.get("dial.warning", warning=warning), err=True)
        if hop.ended:
            if hop.status == "Success":
                click.echo(catalog.get("dial.ended"))
                return 0
            click.echo(catalog.get("dial.failed", error=hop.error or hop.status), err=True)
            return 1
        if answers:
            answer = answers.pop(0)
            click.echo(f"> {answer}")
        elif inputs:  # scripted run out of answers: leave like a user who walks away
            answer = "q"
        else:
            try:
                answer = click.prompt("", prompt_suffix="> ", default="", show_default=False)
            except (EOFError, click.Abort):
                answer = "q"
        if answer.strip().lower() in HANGUP:  # typed or scripted (--input q) alike
            call.hangup()
            click.echo(catalog.get("dial.hangup"))
            return 0
        hop = call.reply(answer)


def reachable(url: str) -> bool:
    """Tell whether anything answers at url; a refused connection means Kalan is not running."""
    try:
        requests.get(url.rstrip("/") + "/healthz", timeout=5)
    except requests.ConnectionError:
        return False
    except requests.RequestException:
        return True  # something is there, if slow: the call will say what goes wrong
    return True
