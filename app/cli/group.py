"""The `kalan` command group, and the settings its commands read without an app."""

import sys

import click
from flask.cli import FlaskGroup

from app import create_app


@click.group(cls=FlaskGroup, create_app=create_app, add_default_commands=False)
def main():
    """Kalan: USSD/SMS child-labour training and reporting."""


def settings() -> dict:
    """Return the validated settings for a tool that needs no secrets, or exit."""
    from app.infra.config import ConfigError, from_env, validate

    try:
        return validate(from_env(strict=False))
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
