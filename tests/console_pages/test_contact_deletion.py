"""Deleting a contact with their data: their number goes from every row, campaign counts
stay true, and the deletion is audited without the number."""

from datetime import timedelta

from sqlalchemy import select, update

from app.cases import alerts
from app.infra.calls import Call, CallRequest
from app.infra.media import Recording
from app.infra.models import (
    AuditEntry,
    Base,
    Case,
    CaseEvent,
    Certificate,
    Contact,
    Message,
    ModuleProgress,
    QuizAnswer,
    Recall,
    utcnow,
)
from app.infra.sms_records import DeliveryReport
from app.messaging.campaigns import lifecycle
from app.people import users
from app.voice import calls, dialer

from ..conftest import AGENT, CODE, Dial, phone_key
from ..helpers import (
    CALM,
    REPORTER,
    SMS,
    AuthActions,
    assert_french,
    fetch_now,
    file_by_voice,
    media_server,
    report,
    wav,
)
from ..test_recall import passed_module_one
from ..test_sms import inbound
from .conftest import add_campaign, add_contact, add_user, expand, flashed

OTHER = "+22370000402"  # another agent, whose data must stay as it was


def holding(app, digits: str) -> list[str]:
    """Return table.column for every value in the database that holds these digits."""
    found = []
    with app.extensions["engine"].connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(table.select()):
                found += [f"{table.name}.{column}" for column, value in row._mapping.items()
                          if value is not None and digits in str(value)]  # fmt: skip
    return found


def a_full_history(app, client) -> int:
    """Give the agent a contactable report with its receipt, a passed module, a campaign SMS,
    a delivered SMS, an SMS of theirs, an ended session, an audit line naming them and a lesson
    left half-read; return their contact id."""
    report(client, *CALM, contact=SMS, phone=AGENT)
    passed_module_one(app, client)
    add_contact(app, OTHER, "Bakary", "Sikasso", role="agent")
    expand(app, add_campaign(app, {"role": ["agent"]}))
    inbound(client, "Bonjour, merci pour la formation", msg_id="in1", phone=AGENT)
    with app.extensions["db"]() as db:
        sent = {"status": "sent", "provider": "africastalking", "provider_id": "ATXid_m1"}
        db.execute(update(Message).where(Message.kind == "module").values(**sent))
        users.audit(db, "admin@kalan.ml", "contact.import_refused", AGENT, utcnow())
        contact_id = db.scalars(select(Contact.id).where(Contact.phone == AGENT)).one()
        db.add(Certificate(contact_id=contact_id, code="AB12CD34", modules=13, score=60,
                           questions=65, issued_at=utcnow()))  # fmt: skip
        db.commit()
    delivered = {"id": "ATXid_m1", "status": "Success", "phoneNumber": AGENT}
    assert client.post("/sms/delivery", data=delivered).status_code == 200
    with app.extensions["db"]() as db:  # a call of theirs, and a call back still to come
        calls.record_start(db, "ATVId_1", "Inbound", "+22320000002", AGENT, utcnow())
        dialer.queue(db, AGENT, "callback", utcnow(), utcnow())
        db.commit()
    caller = Dial(client, phone=AGENT)
    caller()
    caller("1", "1", "1")  # Formation, Continuer: module 2, its second lesson; then cut off
    ended = {"sessionId": caller.session_id, "status": "Success", "phoneNumber": AGENT,
             "serviceCode": CODE}  # fmt: skip
    assert client.post("/ussd/events", data=ended).status_code == 200
    caller.drop()
    return contact_id


def test_deleting_a_contact_forgets_their_number_everywhere_and_keeps_the_counts(
    app, client, auth, sign_in, agent
):
    contact_id = a_full_history(app, client)
    redis = app.extensions["redis"]
    with app.extensions["db"]() as db:
        campaign = db.scalars(select(Message.campaign_id).where(Message.kind == "campaign")).first()
        before = lifecycle.progress(db, campaign)
        case = db.scalars(select(Case)).one()
        assert case.contactable and case.reporter_phone is not None
    spots = holding(app, AGENT[1:])
    for place in ("contacts.phone", "outbox.phone", "outbox.key", "inbound_messages.phone",
                  "delivery_reports.phone", "ussd_events.phone", "audit_log.target",
                  "calls.phone", "call_requests.phone", "call_requests.key"):  # fmt: skip
        assert place in spots  # the history really holds the number, where it is looked for
    assert redis.exists(phone_key(app, "profile", AGENT), phone_key(app, "resume", AGENT)) == 2
    email = sign_in("admin")

    done = auth.post(f"/console/contacts/{contact_id}/delete", confirm="yes")
    assert flashed(done) == ["Contact supprimé avec ses données."]
    assert_french(done)
    assert holding(app, AGENT[1:]) == []  # nowhere, not even in the audit of the deletion
    late = {"id": "ATXid_m1", "status": "Sent", "phoneNumber": AGENT}  # out of order
    assert client.post("/sms/delivery", data=late).status_code == 200
    assert holding(app, AGENT[1:]) == []  # a report about a message of theirs keeps no number
    assert redis.exists(phone_key(app, "profile", AGENT), phone_key(app, "resume", AGENT)) == 0
    with app.extensions["db"]() as db:
        for model in (ModuleProgress, QuizAnswer, Recall, Certificate):
            assert db.scalars(select(model)).all() == [], model  # theirs alone held any
        assert db.scalars(select(Contact.phone)).all() == [OTHER]
        after = lifecycle.progress(db, campaign)
        sent = db.scalars(select(Message).where(Message.phone == "")).all()
        case = db.scalars(select(Case)).one()
        deletion = db.scalars(select(AuditEntry).where(AuditEntry.action == "contact.delete")).one()
        others = db.scalars(select(Message).where(Message.phone == OTHER)).all()
        reports = db.scalars(select(DeliveryReport).order_by(DeliveryReport.id)).all()
        call, request = db.scalars(select(Call)).one(), db.scalars(select(CallRequest)).one()
    # The campaign still counts both recipients; the one deleted is not sent.
    assert after["total"] == before["total"] == 2
    assert (before["queued"], after["queued"], after["cancelled"]) == (2, 1, 1)
    assert {m.kind for m in sent} >= {"campaign", "module", "help", "receipt"}
    assert all(m.body == "" for m in sent)
    assert {m.status for m in sent if m.kind in ("campaign", "receipt", "help")} == {"cancelled"}
    assert [m.status for m in sent if m.kind == "module"] == ["delivered"]
    assert [(m.kind, m.body) for m in others] == [("campaign", "Bonjour Bakary")]
    assert [r.status for r in reports] == ["Success", "Sent"]  # kept, without the number
    assert (call.reason, call.phone) == ("inbound", None)  # it still counts, without it
    assert (request.status, request.error) == ("skipped", "contact deleted")  # never placed
    # The case stays as it was reported, without the number its reporter left.
    assert case.reporter_phone is None and case.contactable
    assert (deletion.actor, deletion.target) == (email, f"contact:{contact_id}")
    assert client.get(f"/console/contacts/{contact_id}").status_code == 404
    # Calling again is calling for the first time.
    assert Dial(client, phone=AGENT)().startswith("CON Kalan")


def test_a_deletion_waits_for_its_confirmation(app, client, auth, sign_in):
    contact_id = add_contact(app, "+22376100001", "Mariam", "kadiolo")
    sign_in("scoped")
    refused = auth.post(f"/console/contacts/{contact_id}/delete")
    assert flashed(refused) == ["Cochez la case de confirmation pour supprimer le contact."]
    with app.extensions["db"]() as db:
        assert db.get(Contact, contact_id) is not None


def test_a_focal_point_is_removed_from_the_routing_before_it_can_be_deleted(
    app, client, auth, sign_in, seeded
):
    with app.extensions["db"]() as db:
        point = db.scalars(select(Contact.id).where(Contact.phone == "+22366000001")).one()
    sign_in("admin")
    refused = auth.post(f"/console/contacts/{point}/delete", confirm="yes")
    assert flashed(refused) == [
        "Ce numéro est un point focal : retirez-le d'abord (kalan focal-points remove), "
        "puis supprimez le contact."
    ]
    with app.extensions["db"]() as db:
        assert db.get(Contact, point) is not None


def test_a_scoped_supervisor_deletes_only_in_their_area(app, client, auth, sign_in):
    outside = add_contact(app, "+22376100002", "Oumar", "Sikasso")
    sign_in("scoped")  # cercle=kadiolo
    response = auth.post(f"/console/contacts/{outside}/delete", follow=False, confirm="yes")
    assert response.status_code == 404
    with app.extensions["db"]() as db:
        assert db.get(Contact, outside) is not None


def test_a_field_agent_deleted_leaves_their_cases_to_no_one_and_the_log_without_their_number(
    app, client, auth, sign_in, runner
):
    """Cases given to an agent are held by number: deleted, the agent holds none, no
    reminder is queued to them, and the cases' log names them without it."""
    phone = "+22376100009"
    contact_id = add_contact(app, phone, "Moussa", "kadiolo", role="agent")
    _, end = report(client, *CALM, phone=OTHER)
    reference = end.split("Référence : ")[1][:6]
    assert runner.invoke(["case", "assign", reference, phone]).exit_code == 0
    assert "cases.assignee" in holding(app, phone[1:])
    sign_in("admin")
    auth.post(f"/console/contacts/{contact_id}/delete", confirm="yes")
    assert holding(app, phone[1:]) == []
    with app.extensions["db"]() as db:
        case = db.scalars(select(Case)).one()
        given = db.scalars(select(CaseEvent.assignee).where(CaseEvent.assignee.is_not(None))).all()
        queued = db.scalars(select(Message).where(Message.kind == "case_reminder")).all()
        with app.app_context():
            alerts.remind(db, app.config, app.extensions["catalog"], utcnow() + timedelta(days=9))
        reminded = db.scalars(select(Message.phone).where(Message.kind == "case_reminder")).all()
    assert case.assignee is None
    assert given == [f"contact:{contact_id}"]  # who it was given to, without the number
    assert phone not in reminded and queued == []


def test_a_contactable_reporters_recordings_go_with_them_an_anonymous_ones_stay(make_app, tmp_path):
    """Their voice is their data: the recording of a report that kept their number goes,
    file and row; nothing ties an anonymous report's recording to anyone, so it stays."""
    folder = tmp_path / "recordings"
    app = make_app(RECORDINGS_DIR=str(folder))
    contact_id = add_contact(app, REPORTER, "Awa", "kadiolo")
    with media_server() as media:
        theirs = file_by_voice(app, media.serve("/1.wav", wav()), contactable=True)
        anonymous = file_by_voice(app, media.serve("/2.wav", wav()), reference="400002",
                                  phone=OTHER, age="6to9")  # fmt: skip
        for recording_id in (theirs, anonymous):
            assert fetch_now(app, recording_id) == "fetched"
    with app.extensions["db"]() as db:
        kept = {r.id: r.path for r in db.scalars(select(Recording))}
    auth = AuthActions(app.test_client())
    assert auth.login(add_user(app, "admin")).status_code == 302
    done = auth.post(f"/console/contacts/{contact_id}/delete", confirm="yes")
    assert flashed(done) == ["Contact supprimé avec ses données."]
    with app.extensions["db"]() as db:
        assert db.scalars(select(Recording.id)).all() == [anonymous]
    assert not (folder / kept[theirs]).exists()
    assert (folder / kept[anonymous]).exists()
