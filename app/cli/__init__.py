"""The `kalan` command line: one module per group of commands.

Development commands (`kalan dev`, `kalan dial`, `kalan seed`) live in
sandbox/cli.py and join through the `flask.commands` entry point, so that
the production package never imports the sandbox.
"""

from app.cli import (  # noqa: F401 (each module adds its commands to main)
    audio,
    campaigns,
    cases,
    contacts,
    content,
    db,
    focal_points,
    keys,
    sms,
    training,
    users,
    ussd,
)
from app.cli.group import main

__all__ = ["main"]
