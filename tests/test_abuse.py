"""Report limits kept in Redis under the day's salt: counted when sent, and forgotten."""

import pytest
from sqlalchemy import select

from app.cases import abuse
from app.infra import salt
from app.infra.models import Case

from .conftest import Dial
from .helpers import ANONYMOUS, CALM, REPORTER, body, report

LIMIT = "END Limite du jour atteinte. Urgence : 15, 17, 18, gendarmerie 80 00 11 14."


def test_the_daily_limit_is_counted_when_a_report_is_sent(make_app):
    """Two reports begun side by side, with room for one: the second to be sent is refused."""
    client = make_app(REPORT_DAILY_LIMIT=1).test_client()
    slow = Dial(client, phone=REPORTER)
    slow()
    assert slow(*CALM, ANONYMOUS).startswith("CON ")  # at the summary, not sent yet
    fast = Dial(client, phone=REPORTER)  # another call from the same phone
    assert fast().startswith("CON Vous n'aviez pas terminé.")
    fast("2", "2", *body("Kalana"), ANONYMOUS)  # start afresh: Signaler, another site
    done = fast("1")
    assert done.startswith("END Merci. Référence : ")
    assert slow("1") == LIMIT
    with make_app().extensions["db"]() as db:
        assert len(db.scalars(select(Case)).all()) == 1


def test_the_counts_live_under_the_days_salt_and_expire(app, client):
    report(client, *CALM, contact=ANONYMOUS)
    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    today, _ = salt.current(redis, prefix, app.config["TZ"])
    name = salt.caller(today, REPORTER)
    assert redis.get(f"{prefix}reports:{name}") == b"1"
    # Both in whole seconds: the expiry set (seconds left, floored) and TTL (rounded) can
    # read one more than the seconds left now, floored again.
    left = salt.seconds_left_today(app.config["TZ"])
    assert 0 < redis.ttl(f"{prefix}reports:{name}") <= left + 1
    assert 0 < redis.ttl(f"{prefix}repeat:{name}") <= app.config["REPORT_REPEAT_WINDOW_S"]
    today_key, _ = salt.day_keys(prefix, app.config["TZ"])
    assert 0 < redis.ttl(today_key) <= salt.TTL_S


def test_a_repeat_sent_after_midnight_finds_yesterdays_report(app, client):
    """The day's salt changed since the first copy: it is found under yesterday's."""
    _, first = report(client, *CALM, contact=ANONYMOUS)
    redis, prefix, tz = app.extensions["redis"], app.config["REDIS_PREFIX"], app.config["TZ"]
    today_key, yesterday_key = salt.day_keys(prefix, tz)
    redis.rename(today_key, yesterday_key)  # midnight: yesterday's salt is the one in use
    again = Dial(client, phone=REPORTER)
    again(*CALM, ANONYMOUS)
    assert again("1") == first
    with app.extensions["db"]() as db:
        assert len(db.scalars(select(Case)).all()) == 1


@pytest.mark.parametrize(
    ("window_s", "age_s", "found"),
    [(7200, 0, True), (7200, 7199, True), (7200, 7201, False), (60, 120, False)],
)
def test_repeat_of_respects_the_window(window_s, age_s, found):
    answers = {"sector": "mining", "cercle": "kadiolo", "place": "Massiogo", "urgent": False}
    facts = {"repeats": [{}, {abuse.fingerprint(answers): f"ABCDEF|{1000}"}]}
    same = {**answers, "place": "massiogo", "receipt": True}  # case and receipt aside
    assert (abuse.repeat_of(facts, same, window_s, now=1000 + age_s) == "ABCDEF") is found
    assert abuse.repeat_of(facts, {**answers, "place": "Kalana"}, window_s, now=1000) is None


@pytest.mark.parametrize("again", ["SEGOU", "ségou", " Segou  "])
def test_a_repeat_spelled_another_way_is_the_same_report(again):
    """The site's name as filing matches it: the same caller resending "SEGOU" after "Ségou"
    gets the first reference back, not a second one that would look like a witness."""
    answers = {"sector": "mining", "cercle": "kadiolo", "place": "Ségou", "urgent": False}
    facts = {"repeats": [{abuse.fingerprint(answers): "ABCDEF|1000"}, {}]}
    assert abuse.repeat_of(facts, {**answers, "place": again}, 7200, now=1000) == "ABCDEF"
    assert abuse.same(answers, {**answers, "place": again})
    assert not abuse.same(answers, {**answers, "place": "Sego"})


def test_lookups_pause_after_too_many_unknown_references(app, client):
    _, done = report(client, *CALM, contact=ANONYMOUS)
    reference = done.split("Référence : ")[1][:6]
    guesser = Dial(client, phone="+22376000777")
    guesser()
    for attempt in range(abuse.LOOKUP_MISSES):
        guess = f"AAAAA{'ACDEF'[attempt]}"
        assert guesser("4", guess).startswith(f"CON Aucun signalement {guess}")
        guesser("00")
    refused = guesser("4", reference)
    assert refused == "END Trop de références inconnues. Réessayez dans une heure."
    # Someone else, looking up a real reference, is not concerned.
    other = Dial(client, phone="+22376000778")
    other()
    assert other("4", reference).startswith(f"CON Signalement {reference} : enregistré.")
