"""The `kalan` command group, and the settings its commands read without an app."""

import os
import sys

import click
from flask.cli import FlaskGroup, load_dotenv

from app import create_app
from app.infra import dev_env

# Flask's own options: Kalan's app is fixed, and .env is read without asking.
FLASK_OPTIONS = ("env_file", "app", "debug")


class KalanGroup(FlaskGroup):
    """Flask's command group (app context, plugin commands) without Flask's own options."""

    def __init__(self, **extra):
        super().__init__(add_default_commands=False, add_version_option=False, **extra)
        self.params = [p for p in self.params if p.name not in FLASK_OPTIONS]

    def make_context(self, info_name, args, parent=None, **extra):
        """Read .env first, as Flask's --env-file option did: the shell's values win."""
        load_dotenv()
        return super().make_context(info_name, args, parent=parent, **extra)


def environment() -> dict[str, str]:
    """Return the settings' sources: the shell and .env, then what `make run` shared."""
    shell = {name: value for name, value in os.environ.items() if value}
    return {**dev_env.read(shell), **shell}


def cli_app():
    """Create the app a command works with, on the same settings as `make run`'s processes."""
    return create_app(environ=environment())


@click.group(cls=KalanGroup, create_app=cli_app)
@click.version_option(package_name="kalan", prog_name="kalan", message="%(prog)s %(version)s")
def main():
    """Kalan: USSD/SMS child-labour training and reporting."""


def settings() -> dict:
    """Return the validated settings for a tool that needs no secrets, or exit."""
    from app.infra.config import ConfigError, from_env, validate

    try:
        return validate(from_env(environment(), strict=False))
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
