"""Delivery reports: applied once, in any order, feeding each phone's failure streak."""

from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app
from sqlalchemy import select

from app.infra.models import Contact, Message
from app.infra.sms_records import DeliveryReport
from app.messaging import delivery, outbox

PHONE = "+22370000001"
OTHER = "+22370000002"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def report(provider_id: str, status: str, phone: str = PHONE, reason: str = "") -> dict:
    """Return a delivery report form as the /sms/delivery callback hands it over."""
    return {
        "id": provider_id,
        "status": status,
        "phoneNumber": phone,
        "networkCode": "99999",
        "failureReason": reason,
        "retryCount": "0",
    }


@pytest.fixture
def db(app):
    with app.app_context(), app.extensions["db"]() as session:
        yield session


def record(db, form: dict, now) -> str:
    """Apply a delivery report with the running app's unreachable limit."""
    return delivery.record(db, form, now, current_app.config["SMS_UNREACHABLE_AFTER"])


def apply_pending(db, provider_ids: list[str], now) -> None:
    delivery.apply_pending(db, provider_ids, now, current_app.config["SMS_UNREACHABLE_AFTER"])


def sweep(db, now) -> int:
    return delivery.sweep(db, now, current_app.config["SMS_UNREACHABLE_AFTER"])


def sent(db, subject, provider_id: str | None, phone: str = PHONE, status: str = "sent") -> str:
    """Write an outbox row as the sender leaves it after the request; return its key."""
    outbox.add(
        db, current_app.config, "receipt", subject, phone, "Votre signalement est enregistré"
    )
    key = f"receipt:{subject}:{phone}"
    message = db.scalars(select(Message).where(Message.key == key)).one()
    message.status, message.provider_id, message.sent_at = status, provider_id, NOW
    message.provider = "africastalking"  # as the sender sets it when the request starts
    db.commit()
    return key


def load(db, key: str) -> Message:
    db.expire_all()
    return db.scalars(select(Message).where(Message.key == key)).one()


def contact(db, phone: str = PHONE) -> Contact:
    db.expire_all()
    found = db.scalars(select(Contact).where(Contact.phone == phone)).first()
    if found is None:
        found = Contact(phone=phone, role="agent", failed_streak=0)
        db.add(found)
        db.commit()
    return found


def state(message: Message) -> tuple:
    return (message.status, message.delivery_status, message.reason, message.finished_at)


@pytest.mark.parametrize(
    ("status", "reason", "expected_status", "expected_reason"),
    [
        ("Success", "", "delivered", None),
        ("Failed", "UserInBlacklist", "failed", "Failed: UserInBlacklist"),
        ("Rejected", "", "failed", "Rejected: no reason given"),
        ("AbsentSubscriber", "", "failed", "AbsentSubscriber: no reason given"),
        ("Expired", "DeliveryFailure", "failed", "Expired: DeliveryFailure"),
        ("Sent", "", "sent", None),
        ("Buffered", "", "sent", None),
        ("Submitted", "", "sent", None),
    ],
)
def test_report_moves_the_message(db, status, reason, expected_status, expected_reason):
    key = sent(db, 1, "ATXid_1")
    assert record(db, report("ATXid_1", status, reason=reason), NOW) == "applied"
    message = load(db, key)
    assert message.status == expected_status
    assert message.delivery_status == status
    assert message.reason == expected_reason
    if expected_status == "sent":
        assert message.finished_at is None
    else:
        assert message.finished_at == NOW


@pytest.mark.parametrize("status", ["Success", "Failed", "Buffered"])
def test_same_report_twice_changes_nothing(db, status):
    key = sent(db, 1, "ATXid_1")
    contact(db)
    assert record(db, report("ATXid_1", status, reason="x"), NOW) == "applied"
    first = state(load(db, key))
    streak = contact(db).failed_streak
    later = NOW + timedelta(minutes=5)
    assert record(db, report("ATXid_1", status, reason="y"), later) == "duplicate"
    assert state(load(db, key)) == first
    assert contact(db).failed_streak == streak
    stored = db.scalars(select(DeliveryReport).where(DeliveryReport.provider_id == "ATXid_1"))
    assert len(list(stored)) == 1


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("Success", "Sent", "delivered"),
        ("Success", "Buffered", "delivered"),
        ("Failed", "Submitted", "failed"),
        ("Success", "Failed", "delivered"),  # a final state is never undone
        ("Failed", "Success", "failed"),
        ("Sent", "Success", "delivered"),
        ("Buffered", "Failed", "failed"),
    ],
)
def test_out_of_order_reports_never_move_backwards(db, first, second, expected):
    key = sent(db, 1, "ATXid_1")
    record(db, report("ATXid_1", first), NOW)
    record(db, report("ATXid_1", second), NOW + timedelta(seconds=1))
    message = load(db, key)
    assert message.status == expected
    assert message.delivery_status == (second if first in ("Sent", "Buffered") else first)


def test_failure_reason_is_kept_and_streak_grows(db):
    contact(db)
    for n in (1, 2):
        key = sent(db, n, f"ATXid_{n}")
        record(db, report(f"ATXid_{n}", "Failed", reason="DeliveryFailure"), NOW)
        assert load(db, key).reason == "Failed: DeliveryFailure"
        assert contact(db).failed_streak == n
    assert contact(db).unreachable_at is None  # the default limit is 5


def test_streak_is_per_phone(db):
    contact(db, PHONE)
    contact(db, OTHER)
    sent(db, 1, "ATXid_1", PHONE)
    record(db, report("ATXid_1", "Failed"), NOW)
    assert contact(db, PHONE).failed_streak == 1
    assert contact(db, OTHER).failed_streak == 0


@pytest.mark.parametrize("limit", [1, 3])
def test_unreachable_after_consecutive_failures(make_app, limit):
    app = make_app(SMS_UNREACHABLE_AFTER=limit)
    with app.app_context(), app.extensions["db"]() as db:
        contact(db)
        for n in range(1, limit + 1):
            assert contact(db).unreachable_at is None
            sent(db, n, f"ATXid_{n}")
            record(db, report(f"ATXid_{n}", "Failed"), NOW + timedelta(minutes=n))
        person = contact(db)
        assert person.failed_streak == limit
        assert person.unreachable_at == NOW + timedelta(minutes=limit)
        # One more failure keeps the first moment it became unreachable.
        sent(db, 99, "ATXid_99")
        record(db, report("ATXid_99", "Failed"), NOW + timedelta(hours=1))
        assert contact(db).unreachable_at == NOW + timedelta(minutes=limit)


def test_success_resets_the_streak(make_app):
    app = make_app(SMS_UNREACHABLE_AFTER=2)
    with app.app_context(), app.extensions["db"]() as db:
        contact(db)
        for n in (1, 2):
            sent(db, n, f"ATXid_{n}")
            record(db, report(f"ATXid_{n}", "Failed"), NOW)
        assert contact(db).unreachable_at is not None
        sent(db, 3, "ATXid_3")
        record(db, report("ATXid_3", "Success"), NOW)
        person = contact(db)
        assert person.failed_streak == 0
        assert person.unreachable_at is None


def test_report_for_a_phone_without_contact_still_applies(db):
    key = sent(db, 1, "ATXid_1", OTHER)
    assert record(db, report("ATXid_1", "Failed", OTHER), NOW) == "applied"
    assert load(db, key).status == "failed"
    assert db.scalars(select(Contact).where(Contact.phone == OTHER)).first() is None


def test_unknown_id_is_stored_then_applied_once_the_message_exists(db):
    assert record(db, report("ATXid_early", "Success"), NOW) == "unknown id"
    stored = db.scalars(select(DeliveryReport).where(DeliveryReport.provider_id == "ATXid_early"))
    stored = stored.one()
    assert stored.applied is False
    key = sent(db, 1, "ATXid_early")
    apply_pending(db, ["ATXid_early"], NOW)
    db.commit()
    message = load(db, key)
    assert message.status == "delivered"
    assert message.delivery_status == "Success"
    db.refresh(stored)
    assert stored.applied is True


def test_pending_reports_apply_in_arrival_order_without_going_back(db):
    record(db, report("ATXid_early", "Success"), NOW)
    record(db, report("ATXid_early", "Sent"), NOW + timedelta(seconds=1))
    key = sent(db, 1, "ATXid_early")
    apply_pending(db, ["ATXid_early", "ATXid_other"], NOW)
    db.commit()
    assert load(db, key).status == "delivered"
    apply_pending(db, [], NOW)  # nothing to do
    assert load(db, key).status == "delivered"


def test_pending_report_waits_for_its_own_message(db):
    record(db, report("ATXid_early", "Success"), NOW)
    key = sent(db, 1, "ATXid_someone_else")
    apply_pending(db, ["ATXid_someone_else"], NOW)
    db.commit()
    assert load(db, key).status == "sent"


@pytest.mark.parametrize(
    ("status", "expected_status"),
    [("Success", "delivered"), ("Sent", "sent"), ("Failed", "failed")],
)
def test_report_adopts_the_single_unknown_message_to_its_phone(db, status, expected_status):
    key = sent(db, 1, None, status="unknown")
    assert record(db, report("ATXid_lost", status), NOW) == "applied"
    message = load(db, key)
    assert message.provider_id == "ATXid_lost"
    assert message.status == expected_status


def test_report_does_not_adopt_when_two_messages_are_unknown(db):
    keys = [sent(db, n, None, status="unknown") for n in (1, 2)]
    assert record(db, report("ATXid_lost", "Success"), NOW) == "unknown id"
    for key in keys:
        message = load(db, key)
        assert (message.status, message.provider_id) == ("unknown", None)


@pytest.mark.parametrize(
    ("phone", "other_status"),
    [
        (OTHER, "unknown"),  # another phone's unknown message
        (PHONE, "sent"),  # a message already matched
    ],
)
def test_report_does_not_adopt_other_messages(db, phone, other_status):
    key = sent(db, 1, None, phone=phone, status=other_status)
    assert record(db, report("ATXid_lost", "Success", PHONE), NOW) == "unknown id"
    message = load(db, key)
    assert (message.status, message.provider_id) == (other_status, None)


def test_report_without_phone_is_not_adopted(db):
    key = sent(db, 1, None, status="unknown")
    assert record(db, report("ATXid_lost", "Success", phone=""), NOW) == "unknown id"
    assert load(db, key).status == "unknown"


def test_sweep_applies_a_report_that_was_stored_before_its_message_was_known(db):
    assert record(db, report("ATXid_race", "Success"), NOW) == "unknown id"
    key = sent(db, "R9", "ATXid_race")  # the sender committed after the report came
    assert load(db, key).status == "sent"
    assert sweep(db, NOW) == 1
    assert load(db, key).status == "delivered"
    assert sweep(db, NOW) == 0  # nothing left waiting


def test_sweep_leaves_a_report_whose_message_is_still_unknown(db):
    assert record(db, report("ATXid_nobody", "Success"), NOW) == "unknown id"
    assert record(db, report("ATXid_later", "Success"), NOW) == "unknown id"
    key = sent(db, "R8", "ATXid_later")
    assert sweep(db, NOW) == 1 and load(db, key).status == "delivered"
    assert sweep(db, NOW) == 0  # the other waits for its message, if it ever comes
