"""`kalan` commands: check the copy in content/, and measure a translation."""

import sys
from pathlib import Path

import click

from app.cli.group import main, settings


@main.group()
def content():
    """Check the course and screen copy."""


def _load(config: dict):
    """Load content/ as the settings say, or print every problem and exit 1."""
    from app.content import ContentError, load

    try:
        return load(Path(config["CONTENT_DIR"]))
    except ContentError as exc:
        for line in str(exc).splitlines():
            click.echo(f"error: {line}", err=True)
        sys.exit(1)


@content.command("check", with_appcontext=False)
def content_check():
    """Validate content/ and render every screen; exit 1 on any problem."""
    from app.content import oversized

    config = settings()
    catalog, warnings = _load(config)
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


@content.command("coverage", with_appcontext=False)
@click.argument("lang")
@click.option("--keys", is_flag=True, help="List the missing keys under each part.")
def content_coverage(lang: str, keys: bool):
    """Show how much of the French copy LANG translates, per file and per course module."""
    from app.coverage import coverage
    from flows.gsm import SPELLING

    config = settings()
    catalog, _ = _load(config)
    known = sorted({*catalog.languages, *SPELLING})  # a spelling rule readies a language
    if lang not in known:
        raise click.UsageError(f"unknown language {lang!r}; known: {', '.join(known)}")
    parts = coverage(Path(config["CONTENT_DIR"]), catalog, lang)
    width = max(len(part.name) for part in parts)
    click.echo(f"{lang}: texts translated / total")
    for part in parts:
        click.echo(f"  {part.name:<{width}}  {part.done:>4} / {part.total}")
        for key in part.missing if keys else ():
            click.echo(f"    {key}")
    done, total = sum(p.done for p in parts), sum(p.total for p in parts)
    click.echo(f"  {'total':<{width}}  {done:>4} / {total} ({done * 100 // total} %)")
