"""The outbox: rows with idempotency keys, retries with backoff, and recovery of lost rows."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from flask import current_app
from sqlalchemy import func, select

from app.infra.models import Message
from app.infra.sms_records import DeliveryReport
from app.messaging import delivery, outbox

PHONE = "+22370000001"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(app):
    with app.app_context(), app.extensions["db"]() as session:
        yield session


def reap(db, now):
    """Reap as a worker would, giving up on a row after its sixth attempt."""
    return outbox.reap(db, {**current_app.config, "SMS_MAX_ATTEMPTS": 6}, now)


def load(db, key: str) -> Message:
    """Return the stored row with this key, as the database has it now."""
    db.expire_all()
    return db.scalars(select(Message).where(Message.key == key)).one()


def count(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Message))


def test_add_writes_a_queued_row(db):
    assert (
        outbox.add(
            db, current_app.config, "receipt", 42, PHONE, "Reçu : signalement enregistré à Kati"
        )
        is True
    )
    db.commit()
    message = load(db, f"receipt:42:{PHONE}")
    assert message.kind == "receipt"
    assert message.phone == PHONE
    assert message.body == "Recu : signalement enregistré à Kati"  # ç folded, é and à kept
    assert (message.encoding, message.parts) == ("GSM-7", 1)
    assert message.estimated_cost == Decimal("25")
    assert message.status == "queued"
    assert message.attempts == 0
    assert message.urgent is False
    assert message.not_before is not None and message.provider_id is None


@pytest.mark.parametrize(
    ("text", "body", "encoding", "parts", "cost"),
    [
        ("Bonjour", "Bonjour", "GSM-7", 1, Decimal("25")),
        ("Vous êtes prêt ’", "Vous etes pret '", "GSM-7", 1, Decimal("25")),
        ("œ" * 80, "oe" * 80, "GSM-7", 1, Decimal("25")),  # 160 septets once folded
        ("a" * 161, "a" * 161, "GSM-7", 2, Decimal("50")),
        ("ç" * 307, "c" * 307, "GSM-7", 3, Decimal("75")),
        ("😀 merci", "? merci", "GSM-7", 1, Decimal("25")),
    ],
)
def test_add_folds_and_estimates_by_default(db, text, body, encoding, parts, cost):
    outbox.add(db, current_app.config, "reply", "x", PHONE, text)
    db.commit()
    message = load(db, f"reply:x:{PHONE}")
    assert (message.body, message.encoding, message.parts) == (body, encoding, parts)
    assert message.estimated_cost == cost


def test_add_without_folding_keeps_ucs2(make_app):
    app = make_app(SMS_ASCII_FOLD="0", SMS_PART_COST="XOF 30")
    with app.app_context(), app.extensions["db"]() as db:
        outbox.add(db, current_app.config, "reply", "x", PHONE, "Vous êtes prêt ’" + "a" * 60)
        db.commit()
        message = load(db, f"reply:x:{PHONE}")
    assert message.body == "Vous êtes prêt ’" + "a" * 60
    assert (message.encoding, message.parts) == ("UCS-2", 2)
    assert message.estimated_cost == Decimal("60")


def test_add_takes_extra_fields(db):
    later = NOW + timedelta(hours=3)
    outbox.add(
        db, current_app.config, "alert", 7, PHONE, "Cas urgent", urgent=True, not_before=later
    )
    db.commit()
    message = load(db, f"alert:7:{PHONE}")
    assert message.urgent is True
    assert message.not_before == later


def test_same_key_twice_keeps_one_row(db):
    assert outbox.add(db, current_app.config, "receipt", 42, PHONE, "premier") is True
    assert outbox.add(db, current_app.config, "receipt", 42, PHONE, "second") is False
    db.commit()
    assert count(db) == 1
    assert load(db, f"receipt:42:{PHONE}").body == "premier"


@pytest.mark.parametrize(
    ("kind", "subject", "phone"),
    [("receipt", 43, PHONE), ("alert", 42, PHONE), ("receipt", 42, "+22370000002")],
)
def test_keys_differ_by_kind_subject_and_phone(db, kind, subject, phone):
    assert outbox.add(db, current_app.config, "receipt", 42, PHONE, "texte") is True
    assert outbox.add(db, current_app.config, kind, subject, phone, "texte") is True
    db.commit()
    assert count(db) == 2


def test_add_is_part_of_the_callers_transaction(db):
    outbox.add(db, current_app.config, "receipt", 42, PHONE, "texte")
    db.rollback()
    assert count(db) == 0


def test_insert_many_skips_duplicates(app, db):
    outbox.add(db, current_app.config, "campaign", 1, "+22370000001", "déjà là")
    db.commit()
    phones = ["+22370000001", "+22370000002", "+22370000003", "+22370000002", "+22370000004"]
    rows = [outbox.row(app.config, "campaign", 1, phone, "Bonjour") for phone in phones]
    assert outbox.insert(db, rows) == 3
    db.commit()
    assert count(db) == 4
    assert load(db, "campaign:1:+22370000001").body == "déjà là"
    assert outbox.insert(db, rows) == 0
    assert outbox.insert(db, []) == 0


def test_insert_new_returns_the_keys_it_added(app, db):
    outbox.add(db, current_app.config, "campaign", 1, "+22370000001", "déjà là")
    phones = ["+22370000001", "+22370000002"]
    rows = [outbox.row(app.config, "campaign", 1, phone, "Bonjour") for phone in phones]
    assert outbox.insert_new(db, rows) == {"campaign:1:+22370000002"}
    same = outbox.row(app.config, "campaign", 1, "+22370000003", "Bonjour")
    assert outbox.insert_new(db, [same, dict(same)]) == {"campaign:1:+22370000003"}
    assert outbox.insert_new(db, []) == set()
    db.commit()
    assert count(db) == 3


@pytest.mark.parametrize("more", [0, outbox.UNNESTED], ids=["values", "unnested"])
def test_insert_new_stores_each_row_as_given(app, db, more):
    """Many rows at once: the fields they share and those they differ in, each in place;
    a few in a VALUES list, a batch as arrays (on PostgreSQL), one of them given twice."""
    rows = [
        outbox.row(app.config, "alert", 7, "+22370000001", "Cas urgent", urgent=True,
                   not_before=NOW),
        outbox.row(app.config, "alert", 7, "+22370000002", "a" * 161, urgent=False,
                   not_before=NOW + timedelta(hours=1)),
        outbox.row(app.config, "alert", 7, "+22370000003", "Cas urgent", urgent=False,
                   not_before=NOW),
    ]  # fmt: skip
    rows += [outbox.row(app.config, "alert", 8, f"+223700001{n:02d}", "Cas", not_before=NOW)
             for n in range(more)]  # fmt: skip
    assert len(outbox.insert_new(db, [*rows, dict(rows[1])])) == 3 + more
    db.commit()
    for given in rows:
        stored = load(db, given["key"])
        assert {name: getattr(stored, name) for name in given} == given


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(0, 30), (1, 30), (2, 60), (3, 120), (4, 240), (5, 480), (7, 1920), (8, 3600), (20, 3600)],
)
def test_retry_at_doubles_from_30_s_up_to_an_hour(attempts, seconds):
    assert outbox.retry_at(attempts, NOW) == NOW + timedelta(seconds=seconds)


def test_retry_backs_off_then_fails_at_the_cap(make_app):
    app = make_app(SMS_MAX_ATTEMPTS=4)
    cap = app.config["SMS_MAX_ATTEMPTS"]
    with app.app_context(), app.extensions["db"]() as db:
        outbox.add(db, current_app.config, "receipt", 42, PHONE, "texte")
        db.commit()
        key = f"receipt:42:{PHONE}"
        for attempt, delay in [(1, 30), (2, 60), (3, 120)]:
            message = load(db, key)
            message.status, message.lease_owner, message.lease_until = "sending", "w1", NOW
            outbox.retry(message, "timeout", NOW, cap)
            db.commit()
            message = load(db, key)
            assert message.status == "queued"
            assert message.attempts == attempt
            assert message.reason == "timeout"
            assert message.not_before == NOW + timedelta(seconds=delay)
            assert message.lease_owner is None and message.lease_until is None
        outbox.retry(message, "HTTP 503", NOW, cap)
        db.commit()
        message = load(db, key)
    assert message.status == "failed"
    assert message.attempts == 4
    assert message.reason == "gave up after 4 attempts: HTTP 503"
    assert message.finished_at == NOW


def test_fail_keeps_the_reason_within_the_column(db):
    outbox.add(db, current_app.config, "receipt", 42, PHONE, "texte")
    message = load(db, f"receipt:42:{PHONE}")
    outbox.fail(message, "403 InvalidPhoneNumber " + "x" * 300, NOW)
    db.commit()
    message = load(db, f"receipt:42:{PHONE}")
    assert message.status == "failed"
    assert message.reason.startswith("403 InvalidPhoneNumber")
    assert len(message.reason) == 200
    assert message.finished_at == NOW


def put(db, kind: str, subject, status: str, *, lease=None, not_before=None, attempts=0) -> str:
    """Write an outbox row in a given state; return its key."""
    outbox.add(db, current_app.config, kind, subject, PHONE, "texte")
    key = f"{kind}:{subject}:{PHONE}"
    message = load(db, key)
    message.status, message.attempts = status, attempts
    if lease is not None:
        message.lease_owner, message.lease_until = "worker-1", lease
    if not_before is not None:
        message.not_before = not_before
    message.reason = "timeout" if status == "unknown" else None
    if status in ("sending", "unknown", "sent"):  # the sender names the provider as it starts
        message.provider = "africastalking"
    db.commit()
    return key


EXPIRED = NOW - timedelta(seconds=1)
LIVE = NOW + timedelta(seconds=30)


def test_reap_requeues_a_claimed_row_with_an_expired_lease(db):
    key = put(db, "campaign", 1, "claimed", lease=EXPIRED)
    counts = reap(db, NOW)
    message = load(db, key)
    assert counts["requeued"] == 1
    assert message.status == "queued"
    assert message.lease_owner is None and message.lease_until is None
    assert message.attempts == 0  # the request never left


@pytest.mark.parametrize(
    "kind",
    [
        "campaign",
        "reminder",
        "receipt",
        "alert",
    ],
)
def test_reap_makes_a_lost_sending_row_unknown(db, kind):
    key = put(db, kind, 1, "sending", lease=EXPIRED)
    counts = reap(db, NOW)
    message = load(db, key)
    assert counts["unknown"] == 1
    assert message.status == "unknown"
    assert message.attempts == 0  # not resent
    assert message.reason == "worker lost during the request"
    assert message.lease_owner is None and message.lease_until is None


def test_lost_receipt_whose_report_came_is_not_resent(db):
    key = put(db, "receipt", 1, "sending", lease=EXPIRED)
    form = {
        "id": "ATXid_lost",
        "status": "Success",
        "phoneNumber": PHONE,
        "networkCode": "",
        "failureReason": "",
        "retryCount": "0",
    }
    assert (
        delivery.record(
            db, form, NOW - timedelta(seconds=30), current_app.config["SMS_UNREACHABLE_AFTER"]
        )
        == "unknown id"
    )
    reap(db, NOW)
    reap(db, NOW + timedelta(hours=1))
    assert load(db, key).status != "queued"


def test_reap_closes_an_unknown_campaign_row_past_reconciliation(db):
    key = put(db, "campaign", 1, "unknown", not_before=EXPIRED)
    counts = reap(db, NOW)
    message = load(db, key)
    assert counts == {"requeued": 0, "unknown": 0, "resent": 0, "closed": 1}
    assert message.status == "unknown"  # at most once: never resent
    assert message.finished_at == NOW
    assert message.attempts == 0
    assert reap(db, NOW + timedelta(hours=1))["closed"] == 0  # closed for good
    assert load(db, key).status == "unknown"


@pytest.mark.parametrize("kind", ["receipt", "alert", "reply"])
def test_reap_requeues_an_unknown_transactional_row_past_reconciliation(db, kind):
    key = put(db, kind, 1, "unknown", not_before=EXPIRED, attempts=1)
    counts = reap(db, NOW)
    message = load(db, key)
    assert counts["resent"] == 1
    assert message.status == "queued"  # at least once
    assert message.attempts == 2
    assert message.not_before == NOW
    assert message.reason == "resent after unknown outcome: timeout"
    assert message.finished_at is None


def test_reap_resends_an_unknown_row_whose_reason_fills_its_column(db):
    """The prefix of a resend made a full reason too long for its column: reap failed."""
    key = put(db, "alert", 1, "unknown", not_before=EXPIRED, attempts=1)
    load(db, key).reason = "provider refused: " + "x" * 182
    db.commit()
    assert reap(db, NOW)["resent"] == 1
    db.expire_all()
    message = load(db, key)
    assert message.status == "queued"
    assert message.reason == ("resent after unknown outcome: provider refused: " + "x" * 182)[:200]


def test_reap_fails_an_unknown_row_at_the_attempt_cap(db):
    key = put(db, "receipt", 1, "unknown", not_before=EXPIRED, attempts=5)
    reap(db, NOW)
    message = load(db, key)
    assert message.status == "failed"
    assert message.reason.startswith("gave up after 6 attempts")


@pytest.mark.parametrize(
    ("kind", "status", "lease", "not_before"),
    [
        ("campaign", "claimed", LIVE, None),
        ("receipt", "claimed", LIVE, None),
        ("campaign", "sending", LIVE, None),
        ("receipt", "sending", LIVE, None),
        ("campaign", "unknown", None, LIVE),
        ("receipt", "unknown", None, LIVE),
        ("receipt", "queued", None, EXPIRED),
        ("receipt", "sent", None, EXPIRED),
    ],
)
def test_reap_leaves_live_rows_alone(db, kind, status, lease, not_before):
    key = put(db, kind, 1, status, lease=lease, not_before=not_before)
    before = load(db, key)
    snapshot = (before.status, before.attempts, before.lease_until, before.finished_at)
    counts = reap(db, NOW)
    after = load(db, key)
    assert counts == {"requeued": 0, "unknown": 0, "resent": 0, "closed": 0}
    assert (after.status, after.attempts, after.lease_until, after.finished_at) == snapshot


@pytest.mark.parametrize(
    ("status", "sent_days_ago", "forgotten"),
    [
        ("delivered", 0, True),
        ("failed", 0, True),
        ("cancelled", 0, True),
        ("sent", 3, True),  # no report came back: done with all the same
        ("sent", 0, False),  # its delivery report may still come
        ("queued", 0, False),  # still to send
    ],
)
def test_receipts_done_with_forget_the_number(db, status, sent_days_ago, forgotten):
    now = datetime(2026, 12, 5, 10, tzinfo=UTC)
    outbox.add(
        db,
        current_app.config,
        "receipt",
        "KWTKNH",
        PHONE,
        "Merci. Reference KWTKNH",
        key="receipt:KWTKNH",
    )
    outbox.add(
        db, current_app.config, "module", "m1", PHONE, "Bravo"
    )  # not a receipt: kept as it is
    db.commit()
    receipt = load(db, "receipt:KWTKNH")
    receipt.status, receipt.provider_id = status, "ATXid_1"
    receipt.sent_at = now - timedelta(days=sent_days_ago)
    db.add(DeliveryReport(provider_id="ATXid_1", status="Success", phone=PHONE))
    db.commit()
    assert outbox.forget_receipts(db, now) == int(forgotten)
    receipt = load(db, "receipt:KWTKNH")
    assert (receipt.phone == "" and receipt.body == "") is forgotten
    assert (db.scalars(select(DeliveryReport.phone)).one() is None) is forgotten
    assert load(db, "module:m1:" + PHONE).phone == PHONE
