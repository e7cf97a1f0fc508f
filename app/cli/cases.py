"""`kalan` commands: cases: list, export, show, update, assign, erase-recordings."""

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
    """Show a case and its history, in French; the reporter's number only when asked, and logged."""
    from app.cases import history, reveal
    from app.infra.models import utcnow

    t = current_app.extensions["catalog"].get
    with current_app.extensions["db"]() as session:
        c = _case_or_exit(session, reference)
        if reporter:
            number = reveal(session, current_app.config["REPORTER_KEY"], c, "cli", utcnow())
            session.commit()
            click.echo(t("console.case.number", number=number or t("console.case.no_number")))
        for line in case_lines(c, history(session, c)):
            click.echo(line)


def case_lines(c, events) -> list[str]:
    """Return a case and its history as `kalan case show` prints them: the console's words."""
    from app.cases.alerts import place

    catalog = current_app.extensions["catalog"]
    t = catalog.get

    def label(prefix: str, code: str | None) -> str:
        # A code the content does not name (an old value) is shown as it is stored.
        key = f"{prefix}.{code}"
        return t(key) if code and catalog.has(key) else (code or "-")

    urgent = f" ({t('console.cases.urgent')})" if c.urgent else ""
    title = t("console.case.title", reference=c.reference)
    rows = [
        ("console.cases.place", place(catalog, c)),
        ("console.cases.sector", label("report.sector", c.sector)),
        ("console.case.children", label("report.children", c.children)),
        ("console.case.age", label("report.age", c.age)),
        ("console.case.sex", label("report.sex", c.sex)),
        ("console.case.school", label("report.school", c.school)),
        ("console.case.hazard", label("report.hazard", c.hazard)),
        ("console.case.reporter",
         t("console.case.contactable" if c.contactable else "console.case.anonymous")),
        ("console.cases.reports", str(c.reports)),
        ("console.cases.assignee", c.assignee or "-"),
        ("console.cases.due", f"{c.verify_by:%Y-%m-%d %H:%M %Z}" if c.verify_by else "-"),
        ("console.case.referred_to", label("desk.service", c.referred_to)),
        ("console.case.follow_ups", str(c.follow_ups)),
    ]  # fmt: skip
    lines = [f"{title} — {label('console.status', c.status)}{urgent}"]
    lines += [f"{t(key)} : {value}" for key, value in rows]
    lines.append(f"{t('console.case.timeline')} :")
    for event in events:
        moved = event.from_status and event.from_status != event.to_status
        change = label("console.status", event.to_status)
        if moved:
            change = f"{label('console.status', event.from_status)} → {change}"
        note = event.note or ""
        if moved and event.to_status == "referred":  # noted as "service" or "service: note"
            service, sep, rest = note.partition(": ")
            note = label("desk.service", service) + sep + rest
        note = f" — {note}" if note else ""
        lines.append(f"  {event.at:%Y-%m-%d %H:%M}  {event.actor}  {change}{note}")
    return lines


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


@case_group.command("erase-recordings")
@click.argument("reference")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def case_erase_recordings(reference, yes):
    """Delete a case's voice recordings, files and rows; noted in the case's history."""
    from app.cases import note
    from app.cases.recordings import erase
    from app.infra.models import utcnow

    with current_app.extensions["db"]() as session:
        c = _case_or_exit(session, reference, lock=True)
        if not yes:
            click.confirm(f"delete every recording of case {c.reference}?", abort=True)
        count = erase(session, current_app.config["RECORDINGS_DIR"], [c.id])
        if count:
            note(session, c, f"recordings deleted ({count})", "cli", utcnow())
        session.commit()
    click.echo(f"{count} recording(s) of case {c.reference} deleted")
