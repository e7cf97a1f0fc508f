"""`kalan` commands: the training report, each module's funnel, and certificates."""

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


@training.command("funnel")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder for the three CSV files.")  # fmt: skip
@with_appcontext
def training_funnel(out: Path):
    """Print each module's funnel, time and recall, and the gain per organisation; write CSV."""
    from app.training import funnel, report

    course = current_app.extensions["catalog"].course
    with current_app.extensions["db"]() as session:
        modules = funnel.modules(session, course)
        recall = {row["module"]: row for row in report.retention(session, course)}
        people = report.learners(session, course)
    steps = [{"module": m["module"], **step} for m in modules for step in m["steps"]]
    click.echo(f"{'module':<8}{'step':<9}{'learners':>9}{'drop-off':>10}")
    begun = {m["module"] for m in modules if m["steps"][0]["learners"]}  # the CSV has them all
    for s in (s for s in steps if s["module"] in begun):
        dropoff = "" if s["dropoff_percent"] is None else f"{s['dropoff_percent']}%"
        click.echo(f"{s['module']:<8}{s['step']:<9}{s['learners']:>9}{dropoff:>10}")
    click.echo(f"\n{'module':<8}{'started':>8}{'passed':>7}{'median min (n)':>16}"
               f"{'recall right (n)':>18}{'quiz':>6}")  # fmt: skip
    rows = []
    for m in modules:
        r = recall[m["module"]]
        rows.append({"module": m["module"], "started": m["steps"][0]["learners"],
                     "passed": m["steps"][-1]["learners"], "median_minutes": m["median_minutes"],
                     "timed": m["timed"], "recall_learners": r["learners"],
                     "recall_right_percent": r["right_percent"],
                     "quiz_percent": r["quiz_percent"]})  # fmt: skip
        median = "-" if m["median_minutes"] is None else f"{m['median_minutes']} ({m['timed']})"
        right = f"{r['right_percent']}% ({r['learners']})" if r["learners"] else "-"
        quiz = "-" if r["quiz_percent"] is None else f"{r['quiz_percent']}%"
        click.echo(f"{m['module']:<8}{rows[-1]['started']:>8}{rows[-1]['passed']:>7}"
                   f"{median:>16}{right:>18}{quiz:>6}")  # fmt: skip
    click.echo("median: minutes on the line of those who passed, whose time is known (n)")
    organisations = report.organisations(people)
    click.echo(f"\n{'organisation':<20}{'learners':>9}{'gain':>6}{'measured':>9}{'skipped':>8}")
    for o in organisations:
        gain = "-" if o["gain"] is None else f"{o['gain']:+d}"
        click.echo(f"{(o['organisation'] or '-')[:19]:<20}{o['learners']:>9}{gain:>6}"
                   f"{o['measured']:>9}{o['skipped']:>8}")  # fmt: skip
    skip = report.skippers(people)
    if skip["offered"]:
        click.echo(f"\npre-test: {skip['skipped']} of {skip['offered']} agent(s) skipped it "
                   f"({skip['percent']}%)")  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    names = ("training-funnel.csv", "training-modules.csv", "training-organisations.csv")
    for name, table in zip(names, (steps, rows, organisations), strict=True):
        report.write_csv(out / name, table)
    click.echo(f"\nwritten: {', '.join(str(out / name) for name in names)}")


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
