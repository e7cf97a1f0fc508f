"""`kalan` commands: cases: list, export, show, update, assign."""

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli.group import main


@main.group("cases")
def cases_group():
    """List and export cases."""


@cases_group.command("list")
@click.option("--status", help="Only cases in this status.")
@click.option("--cercle", help="Only cases in this cercle.")
@with_appcontext
def cases_list(status, cercle):
    """List cases, urgent and oldest first."""
    from sqlalchemy import select

    from app.infra.models import Case

    query = select(Case).order_by(Case.urgent.desc(), Case.created_at)
    if status:
        query = query.where(Case.status == status)
    else:  # a linked report is a line of its case, not a case to work on
        query = query.where(Case.linked_to.is_(None))
    if cercle:
        query = query.where(Case.cercle == cercle.lower())
    with current_app.extensions["db"]() as session:
        rows = list(session.scalars(query))
    if not rows:
        click.echo("no case")
        return
    click.echo(
        f"{'ref':<8}{'status':<11}{'urgent':<8}{'sector':<10}{'cercle':<16}{'reports':<9}"
        f"{'opened':<17}assignee"
    )
    for c in rows:
        click.echo(
            f"{c.reference:<8}{c.status:<11}{'yes' if c.urgent else 'no':<8}{c.sector or '-':<10}"
            f"{c.cercle or '-':<16}{c.reports:<9}{c.created_at:%Y-%m-%d %H:%M} {c.assignee or '-'}"
        )


@cases_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def cases_export(file: Path):
    """Write every case to CSV, without the reporter's phone."""
    from sqlalchemy import select

    from app.cases import EXPORT_FIELDS as fields
    from app.infra.models import Case
    from app.training.report import write_csv

    with current_app.extensions["db"]() as session:
        all_cases = list(session.scalars(select(Case).order_by(Case.id)))
        references = {c.id: c.reference for c in all_cases}
        rows = [
            {**{f: getattr(c, f) for f in fields}, "linked_to": references.get(c.linked_to, "")}
            for c in all_cases
        ]
    write_csv(file, rows)
    click.echo(f"{len(rows)} case(s) written to {file}")


@main.group("case")
def case_group():
    """Look at and move one case."""


def _case_or_exit(session, reference: str, lock: bool = False):
    """Return the case with this reference, or say there is none and exit 1."""
    from app.cases import CaseError, find

    try:
        return find(session, reference, lock=lock)
    except CaseError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


@case_group.command("show")
@click.argument("reference")
@click.option(
    "--reporter", is_flag=True, help="Also show a contactable reporter's number (logged)."
)
@with_appcontext
def case_show(reference, reporter):
    """Show a case and its history; the reporter's number only when asked, and logged."""
    from app.cases import history, reveal
    from app.infra.models import utcnow

    with current_app.extensions["db"]() as session:
        c = _case_or_exit(session, reference)
        if reporter:
            number = reveal(session, current_app.config["REPORTER_KEY"], c, "cli", utcnow())
            session.commit()
            click.echo(f"reporter's number: {number or 'none (anonymous report)'}")
        click.echo(f"case {c.reference}: {c.status}{' (urgent)' if c.urgent else ''}")
        click.echo(f"where: {c.region or '-'} / {c.cercle or '-'} / {c.place or '-'}")
        what = (c.sector, c.children, c.age, c.sex, c.school, c.hazard)
        click.echo("what: sector {}, children {}, age {}, sex {}, school {}, danger {}".format(
            *(value or "-" for value in what)))  # fmt: skip
        who = "contactable" if c.contactable else "anonymous"
        due = f"{c.verify_by:%Y-%m-%d %H:%M %Z}" if c.verify_by else "-"
        click.echo(f"reporter: {who}; assignee: {c.assignee or '-'}; verify by {due}")
        for event in history(session, c):
            note = f" - {event.note}" if event.note else ""
            click.echo(f"  {event.at:%Y-%m-%d %H:%M} {event.actor}: "
                       f"{event.from_status or '-'} -> {event.to_status}{note}")  # fmt: skip


@case_group.command("update")
@click.argument("reference")
@click.option("--status", required=True, help="The next status, or 'followup' to record a visit.")
@click.option("--note", default="")
@click.option("--to", "service", help="The service a case is referred to (with --status referred).")
@with_appcontext
def case_update(reference, status, note, service):
    """Move a case to its next status, with a note; or record a follow-up visit."""
    from app.cases import CaseError, follow_up, move
    from app.infra.models import utcnow
    from flows.desk import FOLLOW_UP

    with current_app.extensions["db"]() as session:
        c = _case_or_exit(session, reference, lock=True)
        try:
            if status == FOLLOW_UP:
                follow_up(session, current_app.config, c, "cli", note, utcnow())
            else:
                move(session, current_app.config, c, status, "cli", note, utcnow(), service)
        except CaseError as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        session.commit()
        click.echo(f"case {c.reference} is {c.status}")


@case_group.command("assign")
@click.argument("reference")
@click.argument("phone")
@with_appcontext
def case_assign(reference, phone):
    """Give a case to a field agent."""
    from app.cases import CaseError, assign
    from app.infra.models import utcnow
    from app.people.contacts import normalize

    number = normalize(phone)
    if number is None:
        raise click.UsageError(f"not a phone number: {phone!r}")
    with current_app.extensions["db"]() as session:
        c = _case_or_exit(session, reference)
        try:
            config, catalog = current_app.config, current_app.extensions["catalog"]
            assign(session, config, catalog, c, number, "cli", utcnow())
        except CaseError as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        session.commit()
        click.echo(f"case {c.reference} assigned to {number}")
    current_app.extensions["workers"].kick()  # the agent's SMS goes now
