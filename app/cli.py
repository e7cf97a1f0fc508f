"""The `kalan` command line: database, content, demo data, dialling and `make run`."""

import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from . import create_app


@click.group(cls=FlaskGroup, create_app=create_app, add_default_commands=False)
def main():
    """Kalan: USSD/SMS child-labour training and reporting."""


@main.group()
def db():
    """Manage the database schema."""


@db.command("upgrade")
@with_appcontext
def db_upgrade():
    """Apply every pending migration."""
    from .migrate import current, upgrade

    engine = current_app.extensions["engine"]
    upgrade(engine)
    click.echo(f"database at revision {current(engine)}")


@main.group()
def content():
    """Check the course and screen copy."""


@content.command("check", with_appcontext=False)
def content_check():
    """Validate content/ and render every screen; exit 1 on any problem."""
    from .content import ContentError, load, oversized

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
    click.echo(f"content ok: {len(catalog.texts)} language(s), {keys} texts, screens fit {limit}")


def settings() -> dict:
    """Return the validated settings for a tool that needs no secrets, or exit."""
    from .config import ConfigError, from_env, validate

    try:
        return validate(from_env(strict=False))
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@main.command("seed")
@with_appcontext
def seed_command():
    """Add the demo contacts and focal points that are missing."""
    from .seed import seed

    if current_app.config["APP_ENV"] == "production":
        # Demo focal points with a known PIN would receive real case alerts.
        click.echo("error: the demo data is for development only", err=True)
        sys.exit(2)
    with current_app.extensions["db"]() as session:
        added, points = seed(session)
    click.echo(f"demo data: {added} contact(s) and {points} focal point(s) added")


@main.group()
def ussd():
    """Look at how USSD sessions went."""


@ussd.command("dropoffs")
@with_appcontext
def ussd_dropoffs():
    """Show where sessions ended, from the gateway's end-of-session notifications."""
    from .events import dropoffs

    with current_app.extensions["db"]() as session:
        rows = dropoffs(session)
    if not rows:
        click.echo("no session has ended yet")
        return
    click.echo(f"{'screen':<24}{'status':<12}{'sessions':>8}")
    for node, status, count in rows:
        click.echo(f"{node:<24}{status:<12}{count:>8}")


@main.group()
def contacts():
    """Manage contacts."""


@contacts.command("import")
@click.argument("file", type=click.File("rb"))
@with_appcontext
def contacts_import(file):
    """Add or update contacts from a CSV file (phone,name,role,region,cercle,commune,language)."""
    from .importer import import_csv, text_lines

    languages = set(current_app.extensions["catalog"].languages)
    with current_app.extensions["db"]() as session:
        report = import_csv(session, text_lines(file), languages)
    for line in report.errors:
        click.echo(line, err=True)
    click.echo(f"{report.added} added, {report.updated} updated, {len(report.errors)} rejected")
    sys.exit(1 if report.errors else 0)


@main.group()
def campaign():
    """Create and follow SMS campaigns."""


@campaign.command(
    "create", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@click.option("--name", required=True)
@click.option("--message", required=True, help="The French text; --message-LANG for others.")
@click.option("--audience", "audience", multiple=True, help="KEY=VALUE, e.g. role=agent.")
@click.option("--at", "start_at", help="Start time, ISO 8601 (default: now).")
@click.option("--rate", type=click.IntRange(1, 10000), help="Messages per second at most.")
@click.option("--budget", type=str, help="Stop adding recipients past this estimated cost.")
@click.option("--repeat-days", type=click.IntRange(1, 366), help="Send again every N days.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
@with_appcontext
def campaign_create(ctx, name, message, audience, start_at, rate, budget, repeat_days, yes):
    """Create a campaign after showing its size and estimated cost."""
    from decimal import InvalidOperation

    from redis.exceptions import RedisError

    from . import campaigns
    from .models import utcnow
    from .notify import start_campaign
    from .window import is_open, next_open

    config = current_app.config
    try:
        messages = {"fr": message, **_extra_messages(ctx.args)}
        campaigns.check_messages(messages)
        chosen = campaigns.parse_audience(list(audience))
        when = _moment(start_at) if start_at else utcnow()
        limit = campaigns.parse_budget(budget) if budget else None
    except (campaigns.CampaignError, ValueError, InvalidOperation) as exc:
        raise click.UsageError(str(exc)) from None
    currency = config["SMS_PART_COST"].split()[0]
    with current_app.extensions["db"]() as session:
        plan = campaigns.preview(session, messages, chosen, config)
        parts = (
            ", ".join(
                f"{lang}: {n} ({plan['encodings'][lang]})"
                for lang, n in sorted(plan["parts"].items())
            )
            or "-"
        )
        click.echo(f"recipients: {plan['recipients']}")
        click.echo(f"parts per message: {parts}")
        click.echo(f"estimated cost: {currency} {plan['cost']:.2f}")
        window, tz = config["SMS_SEND_WINDOW"], config["TZ"]
        if not is_open(window, max(when, utcnow()), tz):
            opens = next_open(window, max(when, utcnow()), tz)
            click.echo(
                f"note: outside the send window {window}; sending starts {opens:%Y-%m-%d %H:%M %Z}"
            )
        if not yes and not click.confirm("Create this campaign?", default=False):
            click.echo("nothing created")
            sys.exit(1)
        try:
            created = campaigns.create(
                session,
                name,
                messages,
                chosen,
                start_at=when,
                rate=rate,
                budget=limit,
                repeat_days=repeat_days,
            )
        except campaigns.CampaignError as exc:
            raise click.UsageError(str(exc)) from None
        session.commit()
        campaign_id = created.id
    # Started by the RQ scheduler at its time; the tick would also catch it.
    try:
        start_campaign(campaign_id, when)
    except RedisError:
        click.echo(
            f"campaign {campaign_id} created; Redis did not answer, so a worker's tick "
            "will start it once Redis is back (do not create it again)"
        )
        return
    click.echo(f"campaign {campaign_id} created; follow it with: kalan campaign show {campaign_id}")


def _extra_messages(args: list[str]) -> dict[str, str]:
    """Read --message-LANG TEXT (or --message-LANG=TEXT) pairs left over by click."""
    messages, rest = {}, list(args)
    while rest:
        arg = rest.pop(0)
        name, _, value = arg.partition("=")
        if not name.startswith("--message-") or len(name) <= len("--message-"):
            raise ValueError(f"unknown option {arg!r}")
        if not value:
            if not rest:
                raise ValueError(f"{name} needs a text")
            value = rest.pop(0)
        messages[name.removeprefix("--message-").lower()] = value
    return messages


def _moment(text: str):
    """Parse an ISO 8601 time; a time without zone is read in TZ."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(current_app.config["TZ"]))
    return moment


@campaign.command("list")
@with_appcontext
def campaign_list():
    """List campaigns, newest first."""
    from sqlalchemy import select

    from . import campaigns
    from .models import Campaign

    with current_app.extensions["db"]() as session:
        rows = list(session.scalars(select(Campaign).order_by(Campaign.id.desc())))
        if not rows:
            click.echo("no campaign yet")
            return
        click.echo(f"{'id':>4}  {'status':<10}{'recipients':>11}{'done':>6}  name")
        for row in rows:
            done = campaigns.progress(session, row.id)["percent"]
            click.echo(f"{row.id:>4}  {row.status:<10}{row.recipients:>11}{done:>5}%  {row.name}")


@campaign.command("show")
@click.argument("campaign_id", type=click.IntRange(1, 2**31 - 1))
@click.option(
    "--follow/--no-follow", default=None, help="Redraw until done [default: on a terminal]."
)
@with_appcontext
def campaign_show(campaign_id, follow):
    """Show a campaign and its progress, live on a terminal."""
    import time

    from . import campaigns
    from .models import Campaign

    follow = sys.stdout.isatty() if follow is None else follow
    with current_app.extensions["db"]() as session:
        row = session.get(Campaign, campaign_id)
        if row is None:
            click.echo(f"no campaign {campaign_id}", err=True)
            sys.exit(1)
        click.echo(f"campaign {row.id}: {row.name}")
        click.echo(f"audience: {row.audience}   start: {row.start_at:%Y-%m-%d %H:%M %Z}")
        while True:
            session.expire_all()
            row = session.get(Campaign, campaign_id)
            state = campaigns.progress(session, campaign_id)
            line = _progress_line(row, state)
            if not follow:
                click.echo(line)
                return
            click.echo("\r" + line, nl=False)
            between = row.status == "scheduled" and row.occurrence > 0  # a repeat waits
            if row.status in ("done", "cancelled", "failed") or between:
                click.echo()
                return
            try:
                time.sleep(1)
            except KeyboardInterrupt:
                click.echo()
                return


def _progress_line(row, state: dict) -> str:
    """Draw a progress bar with the counts."""
    width = 30
    filled = width * state["percent"] // 100
    bar = "#" * filled + "-" * (width - filled)
    reason = f" ({row.reason})" if row.reason else ""
    return (
        f"[{bar}] {state['percent']:>3}%  {row.status}{reason}  queued {state['queued']}"
        f"  sent {state['sent']}  delivered {state['delivered']}  failed {state['failed']}"
        f"  unknown {state['unknown']}  cancelled {state['cancelled']}"
    )


def _campaign_action(action: str):
    @campaign.command(action, help=f"{action.capitalize()} a campaign.")
    @click.argument("campaign_id", type=click.IntRange(1, 2**31 - 1))
    @with_appcontext
    def command(campaign_id):
        from . import campaigns

        with current_app.extensions["db"]() as session:
            try:
                row = campaigns.set_status(session, campaign_id, action)
            except campaigns.CampaignError as exc:
                click.echo(str(exc), err=True)
                sys.exit(1)
            click.echo(f"campaign {campaign_id} is {row.status}")
        if action == "resume":
            from .notify import kick

            kick()

    return command


for _action in ("pause", "resume", "cancel"):
    _campaign_action(_action)


@main.group()
def training():
    """Follow the training."""


@training.command("report")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder for the two CSV files.")  # fmt: skip
@with_appcontext
def training_report(out: Path):
    """Print learners and questions, and write them as CSV."""
    from . import report

    catalog = current_app.extensions["catalog"]
    with current_app.extensions["db"]() as session:
        people = report.learners(session, catalog.course)
        items = report.questions(session, catalog.course, catalog)
    click.echo(f"{'phone':<14}{'name':<20}{'started':>8}{'passed':>7}{'tries':>6}{'score':>7}"
               f"{'min':>5}{'gain':>6}")  # fmt: skip
    for p in people:
        click.echo(f"{p['phone']:<14}{p['name'][:19]:<20}{p['started']:>8}{p['passed']:>7}"
                   f"{p['attempts']:>6}{str(p['score_percent']) + '%':>7}{p['minutes']:>5}"
                   f"{str(p['gain']):>6}")  # fmt: skip
    click.echo(f"\n{'question':<10}{'answered':>9}{'first try':>10}  most chosen wrong answer")
    for q in items:
        rate = f"{q['first_try_percent']}%" if q["answered"] else "-"
        click.echo(f"{q['question']:<10}{q['answered']:>9}{rate:>10}  {q['top_wrong']}")
    out.mkdir(parents=True, exist_ok=True)
    report.write_csv(out / "training-learners.csv", people)
    report.write_csv(out / "training-questions.csv", items)
    click.echo(f"\nwritten: {out / 'training-learners.csv'}, {out / 'training-questions.csv'}")


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

    from .models import Case

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

    from .cases import EXPORT_FIELDS as fields
    from .models import Case
    from .report import write_csv

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
    from .cases import CaseError, find

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
    from .cases import history, reveal
    from .models import utcnow

    with current_app.extensions["db"]() as session:
        c = _case_or_exit(session, reference)
        if reporter:
            number = reveal(session, c, "cli", utcnow())
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
    from flows.desk import FOLLOW_UP

    from .cases import CaseError, follow_up, move
    from .models import utcnow

    with current_app.extensions["db"]() as session:
        c = _case_or_exit(session, reference, lock=True)
        try:
            if status == FOLLOW_UP:
                follow_up(session, c, "cli", note, utcnow())
            else:
                move(session, c, status, "cli", note, utcnow(), service=service)
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
    from .cases import CaseError, assign
    from .contacts import normalize
    from .models import utcnow

    number = normalize(phone)
    if number is None:
        raise click.UsageError(f"not a phone number: {phone!r}")
    with current_app.extensions["db"]() as session:
        c = _case_or_exit(session, reference)
        try:
            assign(session, c, number, "cli", utcnow())
        except CaseError as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        session.commit()
        click.echo(f"case {c.reference} assigned to {number}")
    from .notify import kick

    kick()  # the agent's SMS goes now


@main.group("keys")
def keys_group():
    """Rotate encryption keys."""


@keys_group.command("rotate-reporter")
@with_appcontext
def keys_rotate_reporter():
    """Re-encrypt contactable reporters' numbers with the first key of REPORTER_KEY."""
    from .reporter_key import UnreadableNumber, rotate

    with current_app.extensions["db"]() as session:
        try:
            count = rotate(session, current_app.config["REPORTER_KEY"])
        except UnreadableNumber as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
    click.echo(
        f"{count} reporter number(s) re-encrypted with the first key of REPORTER_KEY; "
        "once every process runs with it, the other keys can be removed"
    )


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

    from . import focal_points
    from .contacts import normalize

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

    from . import focal_points
    from .models import FocalPoint

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
    from . import focal_points
    from .contacts import normalize
    from .models import utcnow

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
    from . import users as accounts

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

    from .models import User

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
    from . import users as accounts
    from .models import utcnow

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
    from . import users as accounts

    with current_app.extensions["db"]() as session:
        user = accounts.enable(session, email)
        if user is None:
            click.echo(f"error: no user {email.strip().lower()}", err=True)
            sys.exit(1)
        session.commit()
        click.echo(f"enabled {user.email}")


@main.group()
def certificate():
    """Check training certificates."""


@certificate.command("verify")
@click.argument("code")
@with_appcontext
def certificate_verify(code):
    """Show who holds the certificate CODE, since when, and with what score."""
    from .training import verify

    with current_app.extensions["db"]() as session:
        found = verify(session, code)
    if found is None:
        click.echo(f"no certificate {code.strip().upper()!r}", err=True)
        sys.exit(1)
    click.echo(f"certificate {found['code']}: valid")
    click.echo(f"holder: {found['name'] or '-'} ({found['phone']}), {found['organisation'] or '-'}")
    click.echo(f"issued: {found['issued_at']:%Y-%m-%d %H:%M %Z}")
    click.echo(f"score: {found['score']}/{found['questions']} over {found['modules']} modules")


@main.command("dial", with_appcontext=False)
@click.argument("phone")
@click.option(
    "--url", envvar="KALAN_URL", help="Kalan's base URL [default: http://127.0.0.1:$PORT]"
)
@click.option("--code", envvar="USSD_CODE", default="*123#", show_default=True)
@click.option("--token", envvar="WEBHOOK_TOKEN", default="")
@click.option("--input", "inputs", multiple=True, help="Answer to send; repeat for each screen.")
def dial(phone, url, code, token, inputs):
    """Dial Kalan from a terminal, as a phone on the Africa's Talking gateway would."""
    from .dialer import converse

    config = settings()
    url = url or f"http://127.0.0.1:{os.environ.get('PORT') or '5000'}"
    sys.exit(converse(url, phone, code, token, inputs, Path(config["CONTENT_DIR"])))


@main.command("dev", with_appcontext=False)
def dev():
    """Run Redis, the web app, a worker and the sandbox until Ctrl-C (`make run`)."""
    from .devserver import serve

    sys.exit(serve())


if __name__ == "__main__":
    main()
