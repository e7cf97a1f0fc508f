"""The Infobip adapter against the sandbox's emulation of its API, over real HTTP."""

import re

import pytest
import requests

from app.infra.gateway import FAILED, RETRY, SENT, UNKNOWN, GatewayError, Incoming
from app.infra.infobip import Infobip, Report, classify, inbound, parse, reports

from .kalan_standin import wait_for

PHONES = ["+22370000001", "+22370000002", "+22370000003"]
REPORTS = "/sms/delivery/infobip"
INFOBIP_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")


def gateway(sandbox, key="sandbox-key", **options) -> Infobip:
    return Infobip(key, sandbox.url, **options)


def test_batches_one_message_per_phone(sandbox):
    results = gateway(sandbox, sender="KALAN", batch_size=2).send(PHONES, "Bonjour de Kalan")
    assert [r.phone for r in results] == PHONES
    assert all(r.outcome == SENT and r.status == "PENDING_ACCEPTED" for r in results)
    ids = [r.provider_id for r in results]
    assert len(set(ids)) == 3 and all(ids)
    carried = sandbox.messages()
    assert [(m["to"], m["messageId"], m["from"]) for m in carried] == [
        (phone, id_, "KALAN") for phone, id_ in zip(PHONES, ids, strict=True)
    ]
    assert {m["provider"] for m in carried} == {"infobip"}


def test_emulation_answers_infobip_shape(sandbox):
    body = {"messages": [{"destinations": [{"to": "22370000001"}], "text": "Salut"}]}
    answer = requests.post(
        sandbox.url + "/sms/2/text/advanced",
        json=body,
        headers={"Authorization": "App sandbox-key"},
        timeout=5,
    )
    assert answer.status_code == 200
    data = answer.json()
    assert set(data) == {"bulkId", "messages"}
    [message] = data["messages"]
    assert message["to"] == "22370000001" and message["status"]["groupId"] == 1
    assert sandbox.messages()[0]["from"] == "InfoSMS"


@pytest.mark.parametrize(
    ("code", "name", "outcome"),
    [(403, "REJECTED_DESTINATION", FAILED), (406, "REJECTED_DND", FAILED),
     (405, "REJECTED_NOT_ENOUGH_CREDITS", RETRY), (407, "REJECTED_ROUTE_NOT_AVAILABLE", RETRY),
     (500, "REJECTED_SYSTEM_ERROR", RETRY)],
)  # fmt: skip
def test_rejections(sandbox, code, name, outcome):
    sandbox.faults(recipient_status={PHONES[1]: code})
    results = gateway(sandbox).send(PHONES, "Bonjour")
    assert [r.outcome for r in results] == [SENT, outcome, SENT]
    assert results[1].status == name and results[1].provider_id is None
    assert [m["to"] for m in sandbox.messages()] == [PHONES[0], PHONES[2]]


def test_invalid_number_is_rejected_alone(sandbox):
    results = gateway(sandbox).send(["+22370000001", "+1"], "Bonjour")
    assert [r.outcome for r in results] == [SENT, FAILED]


def test_wrong_key_is_a_refusal_to_retry(sandbox):
    with pytest.raises(GatewayError) as caught:
        gateway(sandbox, key="wrong").send(PHONES, "Bonjour")
    assert "HTTP 401 UNAUTHORIZED" in caught.value.reason
    assert not caught.value.unknown
    assert sandbox.messages() == []


def test_server_errors_are_retried(sandbox):
    sandbox.faults(error_rate=1.0)
    with pytest.raises(GatewayError) as caught:
        gateway(sandbox).send(PHONES, "Bonjour")
    assert "HTTP 500 GENERAL_ERROR" in caught.value.reason and not caught.value.unknown


def test_a_later_batch_failing_keeps_the_earlier_ids(sandbox):
    sandbox.faults(seed=0, error_rate=0.8)  # seed 0 draws 0.84 (no error), then 0.76 (error)
    results = gateway(sandbox, batch_size=2).send(PHONES, "Bonjour")
    assert [r.outcome for r in results] == [SENT, SENT, RETRY]
    assert results[0].provider_id and results[2].provider_id is None


def test_a_lost_answer_is_unknown(sandbox):
    sandbox.faults(drop_rate=1.0)
    with pytest.raises(GatewayError) as caught:
        gateway(sandbox).send(PHONES, "Bonjour")
    assert caught.value.unknown  # the messages did go: resending would duplicate them
    assert len(sandbox.messages()) == 3


def test_timeout_after_sending_is_unknown(sandbox):
    sandbox.faults(latency_ms=500)
    with pytest.raises(GatewayError) as caught:
        gateway(sandbox, timeout=(1, 0.1)).send(PHONES, "Bonjour")
    assert caught.value.unknown


def test_unreachable_provider_is_safe_to_retry():
    with pytest.raises(GatewayError) as caught:
        Infobip("k", "http://127.0.0.1:1").send(PHONES, "x")
    assert not caught.value.unknown


def bodies(kalan, count: int) -> list:
    """Return the JSON reports Kalan's stand-in got, once count have come."""
    wait_for(lambda: len(kalan.posts(REPORTS)) >= count)
    return [seen.json for seen in kalan.posts(REPORTS)]


def test_delivery_reports_reach_the_notify_url(sandbox, kalan):
    failure = {"status": "Failed", "failureReason": "EC_ABSENT_SUBSCRIBER"}
    sandbox.faults(dlr_status={PHONES[1]: failure})
    notify = kalan.url + REPORTS
    results = gateway(sandbox, notify_url=notify).send(PHONES[:2], "Bonjour")
    found = sorted(r for body in bodies(kalan, 2) for r in reports(body))
    assert found == sorted(
        [Report(results[0].provider_id, "Success", None, PHONES[0], "XOF 25.0000"),
         Report(results[1].provider_id, "Failed", "EC_ABSENT_SUBSCRIBER", PHONES[1], "XOF 25.0000")]
    )  # fmt: skip
    assert {m["status"] for m in sandbox.messages()} == {"Success", "Failed"}


def post_advanced(sandbox, notify_url, destinations, text="Salut", **fields):
    """Send one message object straight to the emulation; return its answer's JSON."""
    message = {"destinations": [{"to": to} for to in destinations], "text": text,
               "notifyUrl": notify_url, **fields}  # fmt: skip
    answer = requests.post(sandbox.url + "/sms/2/text/advanced", json={"messages": [message]},
                           headers={"Authorization": "App sandbox-key"}, timeout=5)  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_delivery_report_wire_format(sandbox, kalan):
    notify = kalan.url + REPORTS + "?token=abc"  # Infobip posts to notifyUrl as given
    answer = post_advanced(sandbox, notify, ["22370000001"], text="a" * 161, **{"from": "KALAN"})
    [seen] = wait_for(lambda: kalan.posts(REPORTS))
    assert (seen.query, seen.content_type) == ("token=abc", "application/json")
    [result] = seen.json["results"]
    assert list(seen.json) == ["results"]
    assert INFOBIP_TIME.fullmatch(result.pop("sentAt"))
    assert INFOBIP_TIME.fullmatch(result.pop("doneAt"))
    assert result == {
        "bulkId": answer["bulkId"],
        "messageId": answer["messages"][0]["messageId"],
        "to": "22370000001",
        "smsCount": 2,
        "price": {"pricePerMessage": 25.0, "currency": "XOF"},  # one SMS: SANDBOX_SMS_PART_COST
        "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5,
                   "name": "DELIVERED_TO_HANDSET", "description": "Message delivered to handset"},
        "error": {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR",
                  "description": "No Error", "permanent": False},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("outcome", "status", "error"),
    [("Sent", (1, "PENDING", 7, "PENDING_ENROUTE"), None),
     ("Submitted", (1, "PENDING", 3, "PENDING_WAITING_DELIVERY"), None),
     ("Buffered", (1, "PENDING", 3, "PENDING_WAITING_DELIVERY"), None),
     ("Failed", (2, "UNDELIVERABLE", 9, "UNDELIVERABLE_NOT_DELIVERED"),
      (32, "EC_SM_DELIVERY_FAILURE", False)),
     ({"status": "Failed", "failureReason": "UserDoesNotExist"},
      (2, "UNDELIVERABLE", 9, "UNDELIVERABLE_NOT_DELIVERED"), (1, "EC_UNKNOWN_SUBSCRIBER", True)),
     ({"status": "Failed", "failureReason": "Whatever"},
      (2, "UNDELIVERABLE", 9, "UNDELIVERABLE_NOT_DELIVERED"), (255, "EC_UNKNOWN_ERROR", False)),
     ("AbsentSubscriber", (2, "UNDELIVERABLE", 9, "UNDELIVERABLE_NOT_DELIVERED"),
      (27, "EC_ABSENT_SUBSCRIBER", False)),
     ("Expired", (4, "EXPIRED", 15, "EXPIRED_EXPIRED"), None),
     ("Rejected", (5, "REJECTED", 6, "REJECTED_NETWORK"), None),
     ({"status": "Rejected", "failureReason": "UserInBlackList"},
      (5, "REJECTED", 10, "REJECTED_DND"), None),
     ({"status": "Rejected", "failureReason": "InsufficientCredit"},
      (5, "REJECTED", 12, "REJECTED_NOT_ENOUGH_CREDITS"), None)],
)  # fmt: skip
def test_delivery_status_is_forced(sandbox, kalan, outcome, status, error):
    sandbox.faults(dlr_status={PHONES[0]: outcome})
    post_advanced(sandbox, kalan.url + REPORTS, [PHONES[0]])
    [result] = bodies(kalan, 1)[0]["results"]
    keys = ("groupId", "groupName", "id", "name")
    assert tuple(result["status"][k] for k in keys) == status
    assert result["status"]["description"]
    if error is None:
        assert result["error"]["name"] == "NO_ERROR"
    else:
        assert (result["error"]["groupId"], result["error"]["groupName"]) == (1, "HANDSET_ERRORS")
        assert tuple(result["error"][k] for k in ("id", "name", "permanent")) == error
    at_status = outcome if isinstance(outcome, str) else outcome["status"]
    assert wait_for(lambda: sandbox.messages()[0]["status"] == at_status)


def test_duplicate_reports_are_injectable(sandbox, kalan):
    sandbox.faults(dlr_duplicate=True)
    [result] = gateway(sandbox, notify_url=kalan.url + REPORTS).send(PHONES[:1], "Bonjour")
    assert wait_for(lambda: sandbox.app.extensions["sms_courier"].idle())
    found = [reports(body) for body in bodies(kalan, 2)]
    expected = Report(result.provider_id, "Success", None, PHONES[0], "XOF 25.0000")
    assert found == [[expected]] * 2


def test_shuffled_reports(sandbox, kalan):
    sandbox.faults(dlr_shuffle=True, seed=3)
    numbers = [f"2237000001{i}" for i in range(8)]
    answer = post_advanced(sandbox, kalan.url + REPORTS, numbers)
    sent = [m["messageId"] for m in answer["messages"]]
    reported = [body["results"][0]["messageId"] for body in bodies(kalan, 8)]
    assert sorted(reported) == sorted(sent)
    assert reported != sent


def test_no_reports_when_turned_off(sandbox, kalan):
    sandbox.app.config["SANDBOX_DLR"] = False
    post_advanced(sandbox, kalan.url + REPORTS, [PHONES[0]])
    # A scheduled report would still be queued, or already received.
    assert sandbox.app.extensions["sms_courier"].idle() and kalan.seen == []


def test_no_notify_url_no_reports(sandbox, kalan):
    gateway(sandbox).send(PHONES[:1], "Bonjour")
    assert sandbox.app.extensions["sms_courier"].idle() and kalan.seen == []


@pytest.mark.parametrize(
    ("group", "status"),
    [("DELIVERED", "Success"), ("PENDING", "Submitted"), ("UNDELIVERABLE", "Failed"),
     ("EXPIRED", "Expired"), ("REJECTED", "Rejected")],
)  # fmt: skip
def test_reports_map_groups(group, status):
    body = {"results": [{"messageId": "m1", "status": {"groupName": group}}]}
    assert reports(body) == [Report("m1", status, None)]


@pytest.mark.parametrize(
    "body",
    [[], {"results": "x"}, {"results": [{"messageId": "m"}]},
     {"results": [{"status": {"groupName": "DELIVERED"}}]},
     {"results": [{"messageId": "m", "status": {"groupName": "WHATEVER"}}]},
     {"results": [{"messageId": "m", "status": {"groupName": ["DELIVERED"]}}]}],
)  # fmt: skip
def test_reports_refuse_what_is_not_a_report(body):
    with pytest.raises(ValueError):
        reports(body)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [({"groupName": "PENDING"}, SENT),
     ({"groupName": "REJECTED", "name": "REJECTED_SENDER"}, FAILED),
     ({"groupName": "REJECTED", "name": "REJECTED_FLOODING_FILTER"}, RETRY),
     ({"groupName": "UNDELIVERABLE"}, FAILED), ({}, RETRY)],
)  # fmt: skip
def test_classify(status, outcome):
    assert classify(status) == outcome


def test_parse_maps_by_number_and_marks_the_missing_unknown():
    answer = {"messages": [
        {"to": "22370000002", "messageId": "b", "status": {"groupName": "PENDING"}},
        {"to": "22370000001", "messageId": "a", "status": {"groupName": "PENDING"}},
        {"to": "22370000001", "status": {"groupName": "PENDING"}},
    ]}  # fmt: skip
    phones = ["+22370000001", "+22370000002", "+22370000001", "+22370000003"]
    results = parse(answer, phones)
    assert [(r.outcome, r.provider_id) for r in results] == [
        (SENT, "a"), (SENT, "b"), (UNKNOWN, None), (UNKNOWN, None)
    ]  # fmt: skip


@pytest.mark.parametrize("answer", [{"nothing": 1}, {"messages": 3}, {"messages": [{}]}])
def test_parse_unreadable_answers_are_unknown(answer):
    with pytest.raises(GatewayError) as caught:
        parse(answer, PHONES)
    assert caught.value.unknown


def report_entry(**fields) -> dict:
    entry = {"messageId": "m1", "to": "22370000001", "status": {"groupName": "UNDELIVERABLE"},
             "error": {"id": 1, "name": "EC_ABSENT_SUBSCRIBER"}, "smsCount": 2,
             "price": {"pricePerMessage": 25, "currency": "xof"}, **fields}  # fmt: skip
    return {"results": [entry]}


def test_reports_read_the_number_the_reason_and_the_price_of_every_part():
    assert reports(report_entry()) == [
        Report("m1", "Failed", "EC_ABSENT_SUBSCRIBER", PHONES[0], "XOF 50.0000")]  # fmt: skip


@pytest.mark.parametrize(
    "error",
    [{"id": 0, "name": "NO_ERROR"}, {"id": 1}, {"id": 1, "name": 7}, {"id": 1, "name": ["x"]},
     {"id": 1, "name": {"a": 1}}, "EC_ABSENT", None],
)  # fmt: skip
def test_reports_take_only_a_named_error_for_a_reason(error):
    (report,) = reports(report_entry(error=error))
    assert (report.status, report.error) == ("Failed", None)


@pytest.mark.parametrize(
    "price",
    [{"pricePerMessage": float("nan"), "currency": "XOF"},
     {"pricePerMessage": float("inf"), "currency": "XOF"},
     {"pricePerMessage": 1e300, "currency": "XOF"}, {"pricePerMessage": -1, "currency": "XOF"},
     {"pricePerMessage": "25", "currency": "XOF"}, {"pricePerMessage": True, "currency": "XOF"},
     {"pricePerMessage": 25, "currency": "F"}, {"pricePerMessage": 25}, "25 XOF"],
)  # fmt: skip
def test_reports_take_no_price_that_is_not_one(price):
    """The cost column holds 32 characters of a real amount: NaN is no price."""
    assert reports(report_entry(price=price))[0].cost is None


@pytest.mark.parametrize("number", ["nobody", "", 22370000001, None, "+"])
def test_reports_keep_no_number_that_is_not_one(number):
    assert reports(report_entry(to=number))[0].phone is None


def test_inbound_reads_each_forwarded_sms():
    body = {"results": [
        {"messageId": "a", "from": "22370000001", "to": "22344000000", "text": "AIDE",
         "cleanText": "AIDE", "keyword": "AIDE", "receivedAt": "2026-12-01T10:00:00.000+0000"},
        {"messageId": "b", "from": "nobody", "to": "", "text": "", "receivedAt": 5},
    ], "messageCount": 2, "pendingMessageCount": 0}  # fmt: skip
    assert inbound(body) == [
        Incoming("a", PHONES[0], "22344000000", "AIDE", "2026-12-01T10:00:00.000+0000"),
        Incoming("b", "nobody", "", "", None),  # the web layer refuses the sender
    ]


@pytest.mark.parametrize(
    "body",
    [[], {"results": {}}, {"results": [5]},
     {"results": [{"messageId": "a", "from": "1", "to": ""}]},
     {"results": [{"messageId": "", "from": "1", "to": "", "text": ""}]},
     {"results": [{"messageId": "a", "from": 1, "to": "", "text": ""}]}],
)  # fmt: skip
def test_inbound_refuses_what_is_not_forwarded_sms(body):
    with pytest.raises(ValueError):
        inbound(body)


def test_a_long_message_costs_its_parts_once_reported(sandbox, kalan):
    """Price per SMS times the parts: what the sandbox bills, what the adapter reads back."""
    [result] = gateway(sandbox, notify_url=kalan.url + REPORTS).send(PHONES[:1], "a" * 161)
    [report] = [r for body in bodies(kalan, 1) for r in reports(body)]
    assert (report.message_id, report.cost) == (result.provider_id, "XOF 50.0000")
    assert sandbox.messages()[0]["cost"] == "XOF 50.0000"
