"""`kalan` commands: sMS campaigns: create, follow, pause, resume, cancel."""

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli.group import main


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

    from app.infra.models import utcnow
    from app.messaging.campaigns.audience import parse_audience
    from app.messaging.campaigns.creation import create, parse_budget, preview
    from app.messaging.campaigns.text import CampaignError, check_messages
    from app.messaging.window import is_open, next_open

    config = current_app.config
    try:
        messages = {"fr": message, **_extra_messages(ctx.args)}
        check_messages(messages)
        chosen = parse_audience(list(audience))
        when = _moment(start_at) if start_at else utcnow()
        limit = parse_budget(budget) if budget else None
    except (CampaignError, ValueError, InvalidOperation) as exc:
        raise click.UsageError(str(exc)) from None
    currency = config["SMS_PART_COST"].split()[0]
    with current_app.extensions["db"]() as session:
        plan = preview(session, messages, chosen, config)
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
            created = create(
                session,
                name,
                messages,
                chosen,
                start_at=when,
                rate=rate,
                budget=limit,
                repeat_days=repeat_days,
            )
        except CampaignError as exc:
            raise click.UsageError(str(exc)) from None
        session.commit()
        campaign_id = created.id
    # Started by the RQ scheduler at its time; the tick would also catch it.
    try:
        current_app.extensions["workers"].start_campaign(campaign_id, when, utcnow())
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

    from app.infra.models import Campaign
    from app.messaging.campaigns.lifecycle import progress

    with current_app.extensions["db"]() as session:
        rows = list(session.scalars(select(Campaign).order_by(Campaign.id.desc())))
        if not rows:
            click.echo("no campaign yet")
            return
        click.echo(f"{'id':>4}  {'status':<10}{'recipients':>11}{'done':>6}  name")
        for row in rows:
            done = progress(session, row.id)["percent"]
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

    from app.infra.models import Campaign
    from app.messaging.campaigns.lifecycle import progress

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
            state = progress(session, campaign_id)
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
        from app.messaging.campaigns.lifecycle import set_status
        from app.messaging.campaigns.text import CampaignError

        with current_app.extensions["db"]() as session:
            try:
                row = set_status(session, campaign_id, action)
            except CampaignError as exc:
                click.echo(str(exc), err=True)
                sys.exit(1)
            click.echo(f"campaign {campaign_id} is {row.status}")
        if action == "resume":
            current_app.extensions["workers"].kick()

    return command


for _action in ("pause", "resume", "cancel"):
    _campaign_action(_action)
