"""`kalan` commands: check the copy in content/."""

import sys
from pathlib import Path

import click

from app.cli.group import main, settings


@main.group()
def content():
    """Check the course and screen copy."""


@content.command("check", with_appcontext=False)
def content_check():
    """Validate content/ and render every screen; exit 1 on any problem."""
    from app.content import ContentError, load, oversized

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
    click.echo(
        f"content ok: {len(catalog.texts)} language(s), {keys} texts, "
        f"{len(catalog.keywords)} SMS keywords, screens fit {limit}"
    )
