"""`kalan audio` commands: build placeholder recordings, and list the prompts left to record."""

import csv
import sys
from pathlib import Path

import click

from app.cli.group import main, settings

CSV_COLUMNS = ("clip", "file", "text", "status")


@main.group("audio")
def audio():
    """Build and check the recorded prompts that calls play."""


def _catalog_and_library(lang: str):
    """Load the content as the settings say, check lang, and open AUDIO_DIR; or exit."""
    from app.content import ContentError, load
    from app.voice.audio import Library

    config = settings()
    try:
        catalog, _ = load(Path(config["CONTENT_DIR"]))
    except ContentError as exc:
        for line in str(exc).splitlines():
            click.echo(f"error: {line}", err=True)
        sys.exit(1)
    if lang not in catalog.languages:
        known = ", ".join(catalog.languages)
        raise click.UsageError(f"unknown language {lang!r}; known: {known}")
    return catalog, Library(Path(config["AUDIO_DIR"]))


@audio.command("build", with_appcontext=False)
@click.option("--lang", required=True, help="Language code, such as fr.")
@click.option("--force", is_flag=True, help="Remake every placeholder, not only missing ones.")
def audio_build(lang: str, force: bool):
    """Make espeak-ng placeholders for LANG's prompts that have no recording of their text."""
    from app.voice.audio import coverage
    from app.voice.placeholders import JOBS, VOICES, ToolsMissing, build

    catalog, library = _catalog_and_library(lang)
    if lang not in VOICES:
        # No robot voice pretends to speak it: people record every prompt.
        left = len(coverage(catalog, lang, library).to_record())
        if left:
            click.echo(
                f"error: espeak-ng has no voice for {lang}: {left} prompt(s) need human "
                f"recordings; `kalan audio coverage {lang} --csv FILE` lists them",
                err=True,
            )
            sys.exit(1)
        click.echo(f"{lang}: every prompt is recorded by people; nothing to build")
        return
    live = sys.stdout.isatty()

    def progress(done: int, total: int) -> None:
        if done == 1:
            click.echo(f"{lang}: making {total} placeholder(s), {JOBS} at a time")
        if live:
            click.echo(f"\r  {done}/{total}", nl=(done == total))

    try:
        report = build(catalog, lang, library.root, force=force, progress=progress)
    except ToolsMissing as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for clip, reason in report.failed:
        click.echo(f"error: {clip}: {reason}", err=True)
    click.echo(
        f"{lang}: {report.built} built, {report.kept} kept, {report.removed} old removed, "
        f"{len(report.failed)} failed in {report.seconds:.1f} s ({library.folder(lang)})"
    )
    if report.failed:
        sys.exit(1)


@audio.command("coverage", with_appcontext=False)
@click.argument("lang")
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write what people have yet to record (clip, file, text, status) to this CSV file.",
)
def audio_coverage(lang: str, csv_file: Path | None):
    """List LANG's prompts with no recording of their current text; exit 1 if any."""
    from app.voice.audio import coverage

    catalog, library = _catalog_and_library(lang)
    report = coverage(catalog, lang, library)
    for title, prompts in (("missing", report.missing), ("stale", report.stale)):
        if prompts:
            click.echo(f"{title} ({len(prompts)}): clip, file to record, text")
        for p in prompts:
            old = f"  (outdated: {', '.join(p.old)})" if p.old else ""
            click.echo(f"  {p.clip}  {p.name}  {p.text!r}{old}")
    if report.orphans:
        click.echo(f"orphans ({len(report.orphans)}): files that name no prompt")
        for name in report.orphans:
            click.echo(f"  {name}")
    click.echo(
        f"{lang}: {report.clips} prompts: {len(report.human)} recorded by people, "
        f"{len(report.placeholder)} by placeholders only, {len(report.missing)} missing, "
        f"{len(report.stale)} stale; {len(report.orphans)} orphan file(s) "
        f"in {library.folder(lang)}"
    )
    if csv_file is not None:
        rows = report.to_record()
        try:
            with csv_file.open("w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow(CSV_COLUMNS)
                writer.writerows((p.clip, p.name, p.text, why) for p, why in rows)
        except OSError as exc:
            click.echo(f"error: cannot write {csv_file}: {exc.strerror or exc}", err=True)
            sys.exit(2)
        click.echo(f"{len(rows)} prompt(s) to record written to {csv_file}")
    if not report.complete:
        sys.exit(1)
