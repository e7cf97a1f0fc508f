"""`kalan` commands: console users."""

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli.group import main


@main.group()
def users():
    """People who sign in to the web console."""


@users.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "supervisor", "viewer"]), required=True)
@click.option("--scope", help="cercle=C or region=R: what a supervisor or viewer sees.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def users_add(email, role, scope, password_stdin):
    """Create a console user, or reset one's role, scope and password."""
    from app.people import users as accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with current_app.extensions["db"]() as session:
        created = accounts.find(session, email) is None
        try:
            user = accounts.add(session, email, role, password, scope)
        except accounts.UserError as exc:
            raise click.UsageError(str(exc)) from None
        session.commit()
        where = user.scope or "everywhere"
        click.echo(f"{'added' if created else 'updated'} {user.role} {user.email} ({where})")


@users.command("list")
@with_appcontext
def users_list():
    """List console users."""
    from sqlalchemy import select

    from app.infra.models import User

    with current_app.extensions["db"]() as session:
        rows = list(session.scalars(select(User).order_by(User.email)))
    if not rows:
        click.echo("no user")
    for user in rows:
        last = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
        off = f"  disabled since {user.disabled_at:%Y-%m-%d}" if user.disabled_at else ""
        click.echo(f"{user.email:<40}{user.role:<12}{user.scope or 'everywhere':<20}{last}{off}")


@users.command("disable")
@click.argument("email")
@with_appcontext
def users_disable(email):
    """Stop a console user signing in, and sign them out everywhere now."""
    from app.infra.models import utcnow
    from app.people import users as accounts

    with current_app.extensions["db"]() as session:
        user = accounts.disable(session, email, utcnow())
        if user is None:
            click.echo(f"error: no user {email.strip().lower()}", err=True)
            sys.exit(1)
        session.commit()
        click.echo(f"disabled {user.email}: signed out everywhere")


@users.command("enable")
@click.argument("email")
@with_appcontext
def users_enable(email):
    """Let a disabled console user sign in again."""
    from app.people import users as accounts

    with current_app.extensions["db"]() as session:
        user = accounts.enable(session, email)
        if user is None:
            click.echo(f"error: no user {email.strip().lower()}", err=True)
            sys.exit(1)
        session.commit()
        click.echo(f"enabled {user.email}")
