"""`kalan` commands: the training report and certificates."""

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli.group import main


@main.group()
def training():
    """Follow the training."""


@training.command("report")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder for the two CSV files.")  # fmt: skip
@with_appcontext
def training_report(out: Path):
    """Print learners and questions, and write them as CSV."""
    from app.training import report

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
    summary = report.gain_summary(people)
    gain = "-" if summary["gain"] is None else summary["gain"]
    click.echo(f"\ngain: {gain} points on average over {summary['measured']} learner(s); "
               f"{summary['skipped']} agent(s) started without the pre-test: left out")  # fmt: skip
    click.echo(f"\n{'question':<10}{'answered':>9}{'first try':>10}  most chosen wrong answer")
    for q in items:
        rate = f"{q['first_try_percent']}%" if q["answered"] else "-"
        click.echo(f"{q['question']:<10}{q['answered']:>9}{rate:>10}  {q['top_wrong']}")
    out.mkdir(parents=True, exist_ok=True)
    report.write_csv(out / "training-learners.csv", people)
    report.write_csv(out / "training-questions.csv", items)
    click.echo(f"\nwritten: {out / 'training-learners.csv'}, {out / 'training-questions.csv'}")


@main.group()
def certificate():
    """Check training certificates."""


@certificate.command("verify")
@click.argument("code")
@with_appcontext
def certificate_verify(code):
    """Show who holds the certificate CODE, since when, and with what score."""
    from app.training.certificate import verify

    with current_app.extensions["db"]() as session:
        found = verify(session, code)
    if found is None:
        click.echo(f"no certificate {code.strip().upper()!r}", err=True)
        sys.exit(1)
    click.echo(f"certificate {found['code']}: valid")
    click.echo(f"holder: {found['name'] or '-'} ({found['phone']}), {found['organisation'] or '-'}")
    click.echo(f"issued: {found['issued_at']:%Y-%m-%d %H:%M %Z}")
    click.echo(f"score: {found['score']}/{found['questions']} over {found['modules']} modules")
