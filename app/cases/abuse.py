"""Abuse limits on community reports, kept in Redis under the day's salt and nowhere else.

The day's count of reports per phone, the identical report sent again within
REPORT_REPEAT_WINDOW_S, and the missed reference lookups per phone: each is a
short-lived key named by the phone's hash under a salt that Redis forgets
after two days (app/salt.py). The database keeps nothing that links a report
to a phone, so none of these can be answered from it.

The session's load (app/sessions.py) reads these keys in its one round trip,
as `facts`; the writes below join the pipeline that saves the hop.
"""

import hashlib
import json

from app.infra import salt
from app.infra.folding import name_key

LOOKUP_MISSES = 5  # unknown references per phone and hour before lookups pause
LOOKUP_WINDOW_S = 3600
# What makes two reports the same report (a receipt asked for or not is no new fact).
SAME = ("urgent", "sector", "region", "cercle", "place", "children", "age", "sex", "school",
        "hazard", "contactable")  # fmt: skip


def sent_today(facts: dict) -> int:
    """Return how many reports this phone sent today."""
    return facts.get("reports", 0)


def lookups_exhausted(facts: dict) -> bool:
    """Tell whether this phone looked up too many unknown references in the last hour."""
    return facts.get("lookups", 0) >= LOOKUP_MISSES


def repeat_of(facts: dict, answers: dict, window_s: int, now: float) -> str | None:
    """Return the reference of this phone's identical report within the window, if any.

    now: the time of the hop, in seconds since the epoch.
    """
    mark = fingerprint(answers)
    for repeats in facts.get("repeats", ()):
        reference, _, sent_at = repeats.get(mark, "").partition("|")
        if reference and sent_at.isdigit() and now - int(sent_at) <= window_s:
            return reference
    return None


def missed_lookup(prefix: str, callers: tuple[str, ...], pipe) -> None:
    """Count a lookup of a reference that does not exist, on the hop's saving pipeline."""
    if not callers:
        return
    key = f"{prefix}lookups:{callers[0]}"
    pipe.set(key, 0, nx=True, ex=LOOKUP_WINDOW_S)  # the hour starts with the first miss
    pipe.incr(key)


def count_sent(prefix: str, tz: str, window_s: int, callers, sent: tuple, now: float, pipe) -> None:
    """Add a sent report to its phone's count for today, and remember it for repeats.

    sent is (reference, answers, whether it was new); now, the hop's time in
    seconds. Runs on the pipeline that saves the hop: no round trip of its own.
    """
    reference, answers, new = sent
    if not new or not callers:
        return  # the same report again: the first one counted
    reports = f"{prefix}reports:{callers[0]}"
    pipe.incr(reports)
    pipe.expire(reports, salt.seconds_left_today(tz))
    repeats = f"{prefix}repeat:{callers[0]}"
    pipe.hset(repeats, fingerprint(answers), f"{reference}|{int(now)}")
    pipe.expire(repeats, window_s)


def same(answers: dict, other: dict) -> bool:
    """Tell whether two reports say the same, urgency aside: a case may become urgent later."""
    facts = (name for name in SAME if name != "urgent")
    return all(_canonical(answers.get(name)) == _canonical(other.get(name)) for name in facts)


def fingerprint(answers: dict) -> str:
    """Name a report by its answers, so that the same report finds its first copy."""
    facts = {name: _canonical(answers.get(name)) for name in SAME}
    text = json.dumps(facts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()


def _canonical(value):
    # A site's name as filing matches it (app/cases/filing.site_key): "SEGOU" is "Ségou".
    if isinstance(value, str):
        return name_key(value)
    return value
