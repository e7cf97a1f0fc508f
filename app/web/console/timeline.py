"""A case's history as the console shows it: who and what in French, never the log's own words.

The log (app/cases) writes its actors and its own notes in English, for the command
line; each is read back here. A note that matches none of them is a person's note.
"""

import re

from app.infra.models import CaseEvent
from app.web.console.blueprint import spelt, text
from flows.desk import SERVICES

# Actors the code signs with, besides "console:EMAIL" and "ussd:PHONE".
ACTORS = {"report", "routing", "reminders", "focal-points", "cli"}
WHAT = r"(?P<what>verify|followup)"
# The notes app/cases writes, each read as console.timeline.note.<name>.
NOTES = {
    "assigned": re.compile(r"assigned"),
    "linked": re.compile(r"linked to (?P<reference>\w+)"),
    "same_place": re.compile(r"report (?P<reference>\w+) about the same place"),
    "viewed": re.compile(r"reporter's number viewed"),
    "released": re.compile(r"unassigned: (?P<phone>\S+) removed"),
    "reminded": re.compile(rf"reminder \({WHAT}\) sent to (?P<phone>\S+)"),
    "reminded_before": re.compile(
        rf"reminder \({WHAT}\) already sent, for this due date, "
        r"to (?P<phone>\S+)"
    ),  # fmt: skip
    "escalated_before": re.compile(
        rf"escalated \({WHAT}\) to nobody new: already escalated "
        "for this due date"
    ),  # fmt: skip
    "escalated_nobody": re.compile(
        rf"escalated \({WHAT}\) to nobody: no supervisor covers "
        "the area"
    ),  # fmt: skip
    "escalated": re.compile(rf"escalated \({WHAT}\) to (?P<phones>.+)"),
    "recordings_deleted": re.compile(r"recordings deleted \((?P<n>\d+)\)"),
}
FOLLOW_UP = re.compile(r"follow-up (?P<number>\d+)(?:: (?P<note>.*))?", re.S)
REFERRAL = re.compile(rf"(?P<service>{'|'.join(SERVICES)})(?:: (?P<note>.*))?", re.S)


def who(actor: str) -> str:
    """Return who acted, as a reader says it: an address, a phone, or what Kalan did alone."""
    kind, sep, rest = actor.partition(":")
    if sep and kind in ("console", "ussd"):
        return text(f"console.timeline.actor.{kind}", id=rest)
    if actor in ACTORS:
        return text(f"console.timeline.actor.{actor.replace('-', '_')}")
    return actor


def lines(events: list[CaseEvent]) -> list[dict]:
    """Return each event as the timeline shows it: when, who, what changed, and the note."""
    return [{"at": e.at, "who": who(e.actor), **_change(e)} for e in events]


def _change(event: CaseEvent) -> dict:
    """Return what an event changed and its note, in French."""
    note = event.note or ""
    moved = bool(event.from_status) and event.from_status != event.to_status
    change = [_move(event)] if moved else []
    found = next(((name, m) for name, m in ((n, p.fullmatch(note)) for n, p in NOTES.items())
                  if m), None)  # fmt: skip
    if found:
        name, match = found
        values = match.groupdict()
        if "what" in values:
            values["what"] = text(f"console.timeline.due.{values['what']}")
        if name == "assigned":
            values["phone"] = event.assignee or "—"
        change.append(text(f"console.timeline.note.{name}", **values))
        note = ""
    elif event.to_status == "following" and (visit := FOLLOW_UP.fullmatch(note)):
        change.append(text("console.timeline.note.follow_up", number=visit["number"]))
        note = visit["note"] or ""
    elif moved and event.to_status == "referred" and (referral := REFERRAL.fullmatch(note)):
        change.append(spelt(f"desk.service.{referral['service']}"))
        note = referral["note"] or ""
    # Without a move or a word of Kalan's, the line says the state the case was in.
    return {"change": " — ".join(change or [text(f"console.status.{event.to_status}")]),
            "note": note}  # fmt: skip


def _move(event: CaseEvent) -> str:
    status = "console.status.{}".format
    return f"{text(status(event.from_status))} → {text(status(event.to_status))}"
