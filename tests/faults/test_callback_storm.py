"""Callbacks duplicated and reordered, as gateways retry and networks reorder them.

Whatever order and however many times delivery reports, inbound SMS and USSD
end-of-session notifications arrive, the end state is the one of each arriving
once, in order: terminal statuses never move back, each inbound text gets one
answer, each session one record.
"""

import random

from flask import current_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from app.infra.models import Contact, Message, UssdEvent
from app.infra.sms_records import DeliveryReport, InboundMessage
from app.messaging import outbox

# Each message's reports as the gateway would send them, in their true order.
CHAINS = [("Sent", "Success"), ("Sent", "Buffered", "Success"), ("Submitted", "Failed"),
          ("Sent", "Rejected"), ("Buffered", "AbsentSubscriber")]  # fmt: skip
FINAL = {"Success": "delivered", "Failed": "failed", "Rejected": "failed",
         "AbsentSubscriber": "failed"}  # fmt: skip
PHONES = [f"+2237630{n:04d}" for n in range(len(CHAINS))]


def callbacks() -> list[tuple[str, dict]]:
    """Every callback of one busy minute, each once and in order."""
    calls = []
    for n, chain in enumerate(CHAINS):
        for status in chain:
            calls.append(
                (
                    "/sms/delivery",
                    {
                        "id": f"ATXid_storm{n}",
                        "status": status,
                        "phoneNumber": PHONES[n],
                        "networkCode": "99999",
                    },
                )
            )
        calls.append(
            (
                "/sms/inbound",
                {
                    "from": PHONES[n],
                    "id": f"in{n}",
                    "text": "AIDE",
                    "to": "36000",
                    "date": "2026-12-02 10:00:00",
                    "linkId": "",
                    "networkCode": "99999",
                },
            )
        )
        calls.append(
            (
                "/ussd/events",
                {
                    "sessionId": f"ATUid_storm{n}",
                    "status": "Success",
                    "phoneNumber": PHONES[n],
                    "serviceCode": "*123#",
                    "networkCode": "99999",
                    "durationInMillis": str(1000 * n),
                    "hopsCount": "4",
                    "date": "2026-12-02 10:00:00",
                },
            )
        )
    return calls  # fmt: skip


def reset(app) -> None:
    """Start each example from the same sent messages and nothing else."""
    with app.app_context(), app.extensions["db"]() as db:
        for table in (UssdEvent, DeliveryReport, InboundMessage, Message, Contact):
            db.execute(delete(table))
        for n, phone in enumerate(PHONES):
            outbox.add(
                db, current_app.config, "receipt", f"storm{n}", phone, "Votre signalement est reçu."
            )
        db.flush()
        for n, message in enumerate(db.scalars(select(Message).order_by(Message.id))):
            message.status, message.provider_id = "sent", f"ATXid_storm{n}"
            message.provider = "africastalking"
        db.commit()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), copies=st.lists(st.integers(1, 3), min_size=1, max_size=40))
def test_any_order_and_any_repeats_end_in_the_same_state(app, client, seed, copies):
    reset(app)
    calls = callbacks()
    stormy = [call for n, call in enumerate(calls) for _ in range(copies[n % len(copies)])]
    random.Random(seed).shuffle(stormy)
    for path, form in stormy:
        assert client.post(path, data=form).status_code == 200, (path, form)
    with app.extensions["db"]() as db:
        sent = {m.provider_id: m for m in db.scalars(select(Message).where(
            Message.provider_id.is_not(None)))}  # fmt: skip
        for n, chain in enumerate(CHAINS):
            message = sent[f"ATXid_storm{n}"]
            assert (message.status, message.delivery_status) == (FINAL[chain[-1]], chain[-1])
        for phone in PHONES:  # one answer to each inbound text, however often it came
            answers = select(func.count()).where(Message.phone == phone, Message.kind != "receipt")
            assert db.scalar(answers) == 1, phone
        recorded = db.scalars(select(UssdEvent.session_id)).all()
        assert sorted(recorded) == sorted(f"ATUid_storm{n}" for n in range(len(CHAINS)))
