"""`kalan` commands: focal points: who receives which area's cases."""

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli.group import main


@main.group("focal-points")
def focal_points_group():
    """The supervisors and agents who receive each area's cases."""


@focal_points_group.command("add")
@click.argument("phone")
@click.option("--cercle", help="A cercle, or 'all' for every case.")
@click.option("--region", help="A whole region (instead of --cercle).")
@click.option(
    "--role",
    type=click.Choice(["supervisor", "agent"]),
    help="Default: agent for a new focal point; unchanged for an existing one.",
)
@click.option("--pin-stdin", is_flag=True, help="Read the PIN from standard input.")
@with_appcontext
def focal_points_add(phone, cercle, region, role, pin_stdin):
    """Make a phone a focal point of an area; a new one gets a PIN."""
    import secrets

    from app.cases import focal_points
    from app.people.contacts import normalize

    number = normalize(phone)
    if number is None:
        raise click.UsageError(f"not a phone number: {phone!r}")
    if bool(cercle) == bool(region):
        raise click.UsageError("give either --cercle or --region")
    area = cercle or focal_points.REGION + region.strip().lower()
    pin = sys.stdin.readline().strip() if pin_stdin else None
    if pin_stdin and not focal_points.valid_pin(pin):
        raise click.UsageError("the PIN read from standard input must be 4 to 6 digits")
    with current_app.extensions["db"]() as session:
        drawn = None
        if pin is None and focal_points.find(session, number) is None:
            pin = drawn = f"{secrets.randbelow(10**4):04d}"
        try:
            point, created = focal_points.add(session, number, area, role, pin)
        except focal_points.FocalPointError as exc:
            raise click.UsageError(str(exc)) from None
        session.commit()
        areas = ", ".join(focal_points.covered(session, point))
    _forget_profile(number)  # the main menu shows the desk from the next call
    click.echo(f"{'added' if created else 'updated'} {point.role} {number}: {areas}")
    if drawn:
        click.echo(f"PIN {drawn}: give it to them in person; it is not shown again")


@focal_points_group.command("list")
@with_appcontext
def focal_points_list():
    """List focal points and their areas."""
    from sqlalchemy import select

    from app.cases import focal_points
    from app.infra.models import FocalPoint

    with current_app.extensions["db"]() as session:
        points = list(session.scalars(select(FocalPoint).order_by(FocalPoint.phone)))
        if not points:
            click.echo("no focal point")
        for point in points:
            areas = ", ".join(focal_points.covered(session, point))
            click.echo(f"{point.phone:<16}{point.role:<12}{areas}")


@focal_points_group.command("remove")
@click.argument("phone")
@with_appcontext
def focal_points_remove(phone):
    """Stop routing cases to a phone; its open cases go back to the area's desks."""
    from app.cases import focal_points
    from app.infra.models import utcnow
    from app.people.contacts import normalize

    number = normalize(phone) or phone
    with current_app.extensions["db"]() as session:
        point = focal_points.find(session, number)
        if point is None:
            click.echo(f"no focal point {number}", err=True)
            sys.exit(1)
        released = focal_points.remove(session, point, utcnow())
        session.commit()
    if released:
        click.echo(
            f"{released} open case(s) no longer assigned: they are on the supervisors' desks"
        )
    _forget_profile(number)
    click.echo(f"removed {number}")


def _forget_profile(phone: str) -> None:
    from redis.exceptions import RedisError

    try:
        current_app.extensions["sessions"].forget_profile(phone)
    except RedisError:
        click.echo("warning: Redis unreachable; the USSD menu changes within a day", err=True)
