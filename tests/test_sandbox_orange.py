"""The sandbox's Orange SMS API, asked directly over HTTP as Orange's clients do."""

import time

import pytest
import requests

from sandbox import courier

from .kalan_standin import wait_for

CREDENTIALS = ("sandbox-client", "sandbox-secret")
SENDER = "tel:+22370009999"
SEND_PATH = "/smsmessaging/v1/outbound/tel%3A%2B22370009999/requests"


def get_token(sandbox, auth=CREDENTIALS, grant="client_credentials"):
    return requests.post(sandbox.url + "/oauth/v3/token", auth=auth,
                         data={"grant_type": grant}, timeout=5)  # fmt: skip


def post_sms(sandbox, token, request):
    headers = {"Authorization": f"Bearer {token}"}
    body = {"outboundSMSMessageRequest": request}
    return requests.post(sandbox.url + SEND_PATH, json=body, headers=headers, timeout=5)


def sms(address="tel:+22370000001", text="Bonjour"):
    return {"address": address, "senderAddress": SENDER,
            "outboundSMSTextMessage": {"message": text}}  # fmt: skip


def test_token_answers_like_orange(sandbox):
    answer = get_token(sandbox)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert body["access_token"]


@pytest.mark.parametrize(
    ("auth", "grant", "status", "error"),
    [(("sandbox-client", "wrong"), "client_credentials", 401, "invalid_client"),
     (None, "client_credentials", 401, "invalid_client"),
     (CREDENTIALS, "password", 400, "unsupported_grant_type")],
)  # fmt: skip
def test_token_refusals(sandbox, auth, grant, status, error):
    answer = get_token(sandbox, auth=auth, grant=grant)
    assert (answer.status_code, answer.json()["error"]) == (status, error)
    assert requests.get(sandbox.url + "/sandbox/orange", timeout=5).json()["token_requests"] == 0


def test_send_answers_201_with_a_resource_url(sandbox):
    token = get_token(sandbox).json()["access_token"]
    answer = post_sms(sandbox, token, {**sms(), "senderName": "KALAN"})
    assert answer.status_code == 201
    request = answer.json()["outboundSMSMessageRequest"]
    assert request["address"] == ["tel:+22370000001"]
    assert request["senderName"] == "KALAN"
    (message,) = sandbox.messages()
    assert request["resourceURL"].endswith(f"/requests/{message['messageId']}")
    assert (message["provider"], message["from"], message["cost"]) == (
        "orange",
        "KALAN",
        "1 unit(s)",
    )


def test_unknown_and_missing_tokens_are_refused(sandbox):
    answer = post_sms(sandbox, "made-up", sms())
    assert answer.status_code == 401
    assert answer.json()["code"] == 41 and "WWW-Authenticate" in answer.headers
    bare = requests.get(sandbox.url + "/sms/admin/v1/contracts", timeout=5)
    assert bare.status_code == 401
    assert sandbox.messages() == []


def test_expired_token_fault(sandbox):
    old = get_token(sandbox).json()["access_token"]
    sandbox.faults(orange_token_expired=True)
    answer = post_sms(sandbox, old, sms())
    assert (answer.status_code, answer.json()["code"]) == (401, 42)
    new = get_token(sandbox).json()["access_token"]
    assert post_sms(sandbox, new, sms()).status_code == 201


@pytest.mark.parametrize(
    ("request_", "error", "variable"),
    [(sms(address="tel:22370000001"), "SVC0004", "address"),
     (sms(address="+22370000001"), "SVC0004", "address"),
     (sms(text=""), "SVC0002", "message"),
     ({**sms(), "senderAddress": "tel:+22370000000"}, "SVC0002", "senderAddress")],
)  # fmt: skip
def test_bad_requests(sandbox, request_, error, variable):
    token = get_token(sandbox).json()["access_token"]
    answer = post_sms(sandbox, token, request_)
    assert answer.status_code == 400
    exception = answer.json()["requestError"]["serviceException"]
    assert (exception["messageId"], exception["variables"]) == (error, [variable])
    assert sandbox.messages() == []


def test_orange_faults_are_checked(sandbox):
    bad = {"orange_status": {"+22370000001": "SVC9999"}}
    answer = requests.post(sandbox.url + "/sandbox/faults", json=bad, timeout=5)
    assert answer.status_code == 400
    assert "orange_status for +22370000001: 'SVC9999' is not one of" in answer.json()["detail"]
    answer = requests.post(sandbox.url + "/sandbox/faults",
                           json={"orange_token_expired": "yes"}, timeout=5)  # fmt: skip
    assert answer.status_code == 400


def test_policy_error_shape(sandbox):
    sandbox.faults(orange_status={"+22370000001": "POL0001"})
    token = get_token(sandbox).json()["access_token"]
    answer = post_sms(sandbox, token, sms())
    assert answer.status_code == 403
    assert answer.json()["requestError"]["policyException"]["messageId"] == "POL0001"


# -- delivery receipts, posted to Kalan's stand-in ---------------------------------------------

TOKEN = "s3cr&t"
RECEIPTS = "/sms/delivery/orange"


@pytest.fixture
def wired(sandbox, kalan):
    """The sandbox, calling back to Kalan's stand-in with a webhook token."""
    sandbox.app.config.update(KALAN_URL=kalan.url, WEBHOOK_TOKEN=TOKEN)
    return sandbox


def send(sandbox, address="tel:+22370000001"):
    """Send one message through the Orange API; return its request id."""
    answer = post_sms(sandbox, get_token(sandbox).json()["access_token"], sms(address=address))
    assert answer.status_code == 201, answer.text
    return answer.json()["outboundSMSMessageRequest"]["resourceURL"].rsplit("/", 1)[1]


def receipt(request_id, status, address="tel:+22370000001"):
    return {"deliveryInfoNotification": {"callbackData": request_id, "deliveryInfo": {
        "address": address, "deliveryStatus": status}}}  # fmt: skip


def test_delivery_receipt_wire_format(wired, kalan):
    request_id = send(wired)
    [seen] = wait_for(lambda: kalan.posts(RECEIPTS))
    assert seen.query == "token=s3cr%26t"
    assert seen.content_type == "application/json"
    assert seen.json == receipt(request_id, "DeliveredToTerminal")
    assert wait_for(lambda: wired.app.extensions["sms_courier"].idle())
    assert kalan.posts("/sms/delivery") == [], "AT's endpoint hears nothing of Orange"


@pytest.mark.parametrize(
    ("outcome", "status"),
    [("Success", "DeliveredToTerminal"), ("Sent", "DeliveredToNetwork"),
     ("Submitted", "DeliveredToNetwork"), ("Buffered", "MessageWaiting"),
     ("Failed", "DeliveryImpossible"), ("Rejected", "DeliveryImpossible"),
     ("AbsentSubscriber", "DeliveryImpossible"), ("Expired", "DeliveryImpossible")],
)  # fmt: skip
def test_delivery_status_is_forced(wired, kalan, outcome, status):
    wired.faults(dlr_status={"+22370000002": outcome})
    first, second = send(wired), send(wired, "tel:+22370000002")
    wait_for(lambda: len(kalan.posts(RECEIPTS)) == 2)
    bodies = [seen.json for seen in kalan.posts(RECEIPTS)]
    assert sorted(bodies, key=str) == sorted(
        [receipt(first, "DeliveredToTerminal"), receipt(second, status, "tel:+22370000002")],
        key=str,
    )
    # The store keeps AT's name, which the simulator's page words.
    assert wait_for(lambda: wired.messages("+22370000002")[0]["status"] == outcome)
    assert wired.messages("+22370000001")[0]["status"] == "Success"


def test_duplicate_receipts(wired, kalan):
    wired.faults(dlr_duplicate=True)
    request_id = send(wired)
    wait_for(lambda: wired.app.extensions["sms_courier"].idle())
    assert [seen.json for seen in kalan.posts(RECEIPTS)] == [
        receipt(request_id, "DeliveredToTerminal")
    ] * 2


class Stopped:
    """The courier's clock (its module's time), standing still until go() is called."""

    def __init__(self):
        self.at = time.monotonic()

    def monotonic(self) -> float:
        return time.monotonic() if self.at is None else self.at

    def go(self) -> None:
        self.at = None


def test_shuffled_receipts(wired, kalan, monkeypatch):
    """The courier's clock stands still while both are sent: each receipt is due after its
    own send, and a loaded machine that took over 0.38 s for the second send made it due
    after the first."""
    wired.app.config["SANDBOX_DLR_DELAY_S"] = 0.2
    # Seed 15 puts the first receipt 0.386 s out and the second 0.005 s: the second comes first.
    wired.faults(dlr_shuffle=True, seed=15)
    stopped = Stopped()
    monkeypatch.setattr(courier, "time", stopped)
    sent = [send(wired), send(wired, "tel:+22370000002")]
    stopped.go()
    wait_for(lambda: len(kalan.posts(RECEIPTS)) == 2)
    assert [seen.json["deliveryInfoNotification"]["callbackData"]
            for seen in kalan.posts(RECEIPTS)] == sent[::-1]  # fmt: skip


def test_no_receipts_when_turned_off(wired, kalan):
    wired.app.config["SANDBOX_DLR"] = False
    send(wired)
    # A scheduled receipt would still be queued, or already received.
    assert wired.app.extensions["sms_courier"].idle() and kalan.seen == []


def test_no_receipt_for_a_refused_send(wired, kalan):
    wired.faults(orange_status={"+22370000001": "SVC0004"})
    answer = post_sms(wired, get_token(wired).json()["access_token"], sms())
    assert answer.status_code == 400
    assert wired.app.extensions["sms_courier"].idle() and kalan.seen == []
