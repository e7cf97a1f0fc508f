"""The Africa's Talking adapter, through the official SDK, against the sandbox over HTTP."""

import pytest

from app.infra.gateway import (
    FAILED,
    RETRY,
    SENT,
    UNKNOWN,
    AfricasTalking,
    GatewayError,
    classify,
    parse,
)

PHONES = ["+22370000001", "+22370000002", "+22370000003"]


def gateway(sandbox, key="sandbox-key") -> AfricasTalking:
    return AfricasTalking("sandbox", key, base_url=sandbox.url)


def test_bulk_send_one_request_many_results(sandbox):
    results = gateway(sandbox).send(PHONES, "Bonjour de Kalan")
    assert [r.phone for r in results] == PHONES
    assert all(r.outcome == SENT and r.status_code == 102 for r in results)
    assert all(r.provider_id.startswith("ATXid_") and r.parts == 1 for r in results)
    assert results[0].cost == "XOF 25.0000"
    assert [m["to"] for m in sandbox.messages()] == PHONES


@pytest.mark.parametrize(
    ("code", "outcome"),
    [(403, FAILED), (404, FAILED), (406, FAILED), (407, FAILED), (409, FAILED),
     (405, RETRY), (500, RETRY), (501, RETRY), (502, RETRY)],
)  # fmt: skip
def test_per_recipient_codes(sandbox, code, outcome):
    sandbox.faults(recipient_status={PHONES[1]: code})
    results = gateway(sandbox).send(PHONES, "Bonjour")
    assert [r.outcome for r in results] == [SENT, outcome, SENT]
    assert results[1].status_code == code and results[1].provider_id is None


def test_whole_request_errors(sandbox):
    sandbox.faults(error_rate=1.0)
    with pytest.raises(GatewayError) as refused:
        gateway(sandbox).send(PHONES, "Bonjour")
    assert not refused.value.unknown and "provider refused" in refused.value.reason
    assert sandbox.messages() == []
    sandbox.faults(drop_rate=1.0)
    with pytest.raises(GatewayError) as dropped:
        gateway(sandbox).send(PHONES, "Bonjour")
    assert dropped.value.unknown  # the messages did arrive: resending would duplicate
    assert len(sandbox.messages()) == 3


def test_wrong_key_is_a_refusal(sandbox):
    with pytest.raises(GatewayError) as caught:
        gateway(sandbox, key="wrong").send(PHONES, "Bonjour")
    assert "The supplied authentication is invalid" in caught.value.reason
    assert not caught.value.unknown


def test_unreachable_provider_is_safe_to_retry():
    with pytest.raises(GatewayError) as caught:
        AfricasTalking("sandbox", "k", base_url="http://127.0.0.1:1").send(PHONES, "x")
    assert not caught.value.unknown


def test_numbers_the_sdk_would_refuse_fail_alone(sandbox):
    results = gateway(sandbox).send(["+22370000001", "+1"], "Bonjour")
    assert [r.outcome for r in results] == [SENT, FAILED]
    assert results[1].status == "InvalidPhoneNumber"


# A line break, and digits of another script (the form is written without quoting).
@pytest.mark.parametrize("odd", ["+22370000002\n", "+2237000000\u0662"])
def test_a_phone_with_a_line_break_fails_alone_and_stays_out_of_the_form(sandbox, odd):
    results = gateway(sandbox).send(["+22370000001", odd], "Bonjour")
    assert [(r.outcome, r.status) for r in results] == [
        (SENT, "Success"), (FAILED, "InvalidPhoneNumber")
    ]  # fmt: skip
    assert [m["to"] for m in sandbox.messages()] == ["+22370000001"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('{"SMSMessageData":{"Message":"InvalidSenderId","Recipients":[]}}', [FAILED]),
        ({"SMSMessageData": {"Message": "Sent to 0/1", "Recipients": []}}, [UNKNOWN]),
    ],
)
def test_parse_odd_answers(answer, expected):
    assert [r.outcome for r in parse(answer, ["+22370000001"])] == expected


@pytest.mark.parametrize("answer", ["<html>", {"nothing": 1}, '{"SMSMessageData": 3}'])
def test_parse_unreadable_answers_are_unknown(answer):
    with pytest.raises(GatewayError) as caught:
        parse(answer, ["+22370000001"])
    assert caught.value.unknown


@pytest.mark.parametrize(
    ("code", "outcome"), [(101, SENT), (102, SENT), (None, RETRY), (999, RETRY)]
)
def test_classify(code, outcome):
    assert classify(code) == outcome
