"""Every endpoint fuzzed with hypothesis: whatever arrives, an answer under 500, no traceback,
no ERROR in the log, and never the apology of a USSD hop that failed.

Webhooks get random forms (their own fields, missing, empty, huge, in any script, with
NUL and control characters); the console gets them too, signed in as an admin with a
valid CSRF token, and random path parts and query strings. A USSD session in progress
gets random inputs, hop after hop.
"""

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.infra.models import User
from app.messaging.campaigns.creation import create

from ..conftest import CODE, Dial
from ..helpers import (
    ADMIN,
    ANONYMOUS,
    CALM,
    AuthActions,
    apologies,
    errors_logged,
    password_hash,
    report,
)

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=300) | st.sampled_from(
    ["", " ", "\x00", "*", "**", "1*", "é" * 2000, "+22370000001", "0", "00", "99", "-1",
     "1e309", "NaN", "2026-13-45", "<script>alert(1)</script>", "' OR 1=1 --", "%00"]
)  # fmt: skip
# Valid values some fields get now and then: a form refused at its first field would
# never reach the journeys, the case desk or the outbox behind it.
VALID = {
    "sessionId": st.uuids().map(lambda u: f"ATUid_{u.hex}"),
    "serviceCode": st.just(CODE),
    "phoneNumber": st.sampled_from(["+22370000001", "+22376000555", "70000002"]),
    "from": st.sampled_from(["+22370000001", "+22376000555"]),
    "text": st.sampled_from(["", "1", "1*2", "2*1*1", "3", "STOP", "AIDE"]),
    "id": st.sampled_from(["ATXid_1", "ATXid_fuzz"]),
    "status": st.sampled_from(["Success", "Failed", "Completed", "Sent"]),
}
# Each route, its methods, and the form fields it reads (others are sent too).
ROUTES = {
    "/ussd": ("POST", ["sessionId", "serviceCode", "phoneNumber", "text", "networkCode"]),
    "/ussd/events": ("POST", ["sessionId", "status", "phoneNumber", "serviceCode",
                              "durationInMillis", "hopsCount", "hopsMetadata", "input",
                              "lastAppResponse", "errorMessage", "cost", "date",
                              "networkCode"]),
    "/sms/inbound": ("POST", ["from", "to", "text", "date", "id", "linkId", "networkCode"]),
    "/sms/delivery": ("POST", ["id", "status", "phoneNumber", "networkCode", "failureReason",
                               "retryCount"]),
    "/sms/optout": ("POST", ["senderId", "phoneNumber"]),
    "/healthz": ("GET", []),
    "/console/login": ("POST", ["email", "password", "next"]),
    "/console/cases": ("GET", ["status", "cercle", "urgent"]),
    "/console/cases/{ref}": ("GET", []),
    "/console/cases/{ref}/move": ("POST", ["status", "service", "note"]),
    "/console/cases/{ref}/assign": ("POST", ["phone"]),
    "/console/cases/{ref}/note": ("POST", ["note"]),
    "/console/cases/export.csv": ("GET", []),
    "/console/certificates": ("GET", ["code"]),
    "/console/campaigns": ("POST", ["name", "message", "role", "organisation", "region",
                                    "cercle", "language", "training", "start_at", "rate",
                                    "budget"]),
    "/console/campaigns/preview": ("POST", ["message", "role", "cercle", "training", "budget",
                                            "rate", "start_at"]),
    "/console/campaigns/{id}": ("GET", []),
    "/console/campaigns/{id}/progress.json": ("GET", []),
    "/console/campaigns/{id}/{action}": ("POST", []),
    "/console/contacts/import/confirm": ("POST", ["token"]),
    "/console/contacts": ("GET", ["q", "cercle", "role", "organisation", "training", "page"]),
    "/console/contacts/{id}": ("GET", []),
    "/console/contacts/{id}/edit": ("POST", ["name", "role", "organisation", "region", "cercle",
                                             "commune", "language"]),
    "/console/contacts/{id}/optout": ("POST", []),
    "/console/contacts/{id}/optin": ("POST", ["how", "note"]),
    "/console/contacts/{id}/delete": ("POST", ["confirm"]),
    "/console/inbox": ("GET", ["handled", "page"]),
    "/console/inbox/{id}": ("GET", []),
    "/console/inbox/{id}/answer": ("POST", ["text"]),
    "/console/inbox/{id}/handled": ("POST", []),
    "/console/content": ("GET", ["group"]),
    "/console/dashboard": ("GET", []),
    "/console/agents": ("GET", []),
    "/console/training": ("GET", []),
}  # fmt: skip


@pytest.fixture
def admin(app, client):
    """Sign the client in as an admin; one case, one campaign and one inbox message exist."""
    with app.extensions["db"]() as db:
        db.add(User(email=ADMIN, role="admin", scope=None, password_hash=password_hash()))
        db.commit()
    _, done = report(client, *CALM, contact=ANONYMOUS)
    # A phone the service does not know texts it: the inbox holds message 1.
    form = {"from": "+22370000099", "id": "ATXid_inbox", "text": "Bonjour ?"}
    assert client.post("/sms/inbound", data=form).status_code == 200
    with app.app_context(), app.extensions["db"]() as db:
        create(db, "Fuzz", {"fr": "Bonjour"}, {})
        db.commit()
    auth = AuthActions(client)
    assert auth.login(ADMIN).status_code == 302
    return auth.token("/console/cases"), done.split("Référence : ")[1][:6]


@pytest.mark.parametrize("route", sorted(ROUTES))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_no_input_breaks_an_endpoint(app, client, caplog, admin, route, data):
    caplog.clear()  # the records of earlier examples: each example answers for its own
    method, fields = ROUTES[route]
    token, reference = admin
    path = route.format(
        ref=quote(data.draw(st.sampled_from([reference, "ZZZZZZ"]) | TEXT, "ref"), safe=""),
        id=data.draw(st.sampled_from([1, 0, 2**31, 10**30]) | st.integers(), "id"),
        action=data.draw(st.sampled_from(["pause", "resume", "cancel"]), "action"),
    )
    # Half the forms start from valid values, then lose or garble some fields.
    valid = data.draw(st.booleans(), "valid?")
    form = {}
    for name in fields:
        if valid and name in VALID:
            kept = data.draw(st.sampled_from(["valid", "valid", "valid", "garbled", "missing"]))
        else:
            kept = data.draw(st.sampled_from(["garbled", "missing"]), name + "?")
        if kept != "missing":
            form[name] = data.draw(VALID[name] if kept == "valid" else TEXT, name)
    form.update(data.draw(st.dictionaries(TEXT.filter(bool), TEXT, max_size=3), "extra"))
    if path.startswith("/console") and method == "POST":
        form["csrf_token"] = token
    if method == "GET":
        response = client.get(path, query_string=form)
    else:
        response = client.post(path + ("?token=" if path.startswith(("/ussd", "/sms")) else ""),
                               data=form)  # fmt: skip
    body = response.get_data(as_text=True)
    assert response.status_code < 500, (path, form, body[:300])
    assert "Traceback" not in body and 'File "' not in body
    # A failure the app caught still answers politely: only its log tells.
    assert errors_logged(caplog) == [], (path, form)
    if path.startswith(("/ussd", "/sms")):
        assert response.mimetype == "text/plain"
    if path == "/ussd":
        assert body not in apologies(app), form
    if response.status_code >= 400 and path.startswith("/console"):
        if response.mimetype == "application/json":  # the live counter: a French reason
            error = response.get_json()["error"]
            empty = app.extensions["catalog"].get("console.campaign.empty_message")
            assert error.startswith("Campagne non valide") or error == empty, error
        else:
            assert response.mimetype == "text/html" and 'lang="fr"' in body


# The main menu's choices and navigation, so that journeys are walked, not only refused.
MENU = st.sampled_from(["0", "00", "1", "2", "3", "4", "5", "6", "9", "99", "1*2", "*", "#"])


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(inputs=st.lists(MENU | TEXT, min_size=1, max_size=8))
@example(inputs=["1", "1"])  # always tried: each door of the main menu (seen at once)
@example(inputs=["2"])
@example(inputs=["3"])
@example(inputs=["4"])
@example(inputs=["5"])
@example(inputs=["6"])
def test_no_input_breaks_a_ussd_session(app, client, caplog, inputs):
    """A session in progress, not only its opening hop: only these reach the journeys."""
    caplog.clear()
    apology = apologies(app)
    caller = Dial(client, phone="+22370000077")
    assert caller() not in apology
    for value in inputs:
        text = "*".join([*caller.inputs, value])
        if len(text.encode("utf-8", "surrogatepass")) > 1024:
            break  # refused with a 400 before any journey: test_property covers it
        reply = caller(value)
        assert errors_logged(caplog) == [], caller.inputs
        assert reply not in apology, caller.inputs
        if reply.startswith("END "):
            break
