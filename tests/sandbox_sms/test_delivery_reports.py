"""Delivery reports, posted to Kalan's stand-in."""

import logging

import pytest

from sandbox.courier import Courier

from ..kalan_standin import wait_for
from .conftest import A, B

DLR_FIELDS = ["id", "status", "phoneNumber", "networkCode"]


def test_delivery_report_wire_format(sandbox, kalan):
    entries = sandbox.sms().send("Bonjour", [A, B])["SMSMessageData"]["Recipients"]
    wait_for(lambda: len(kalan.posts("/sms/delivery")) == 2)
    reports = kalan.posts("/sms/delivery")

    assert [r.pairs for r in reports] == [
        [
            ("id", entry["messageId"]),
            ("status", "Success"),
            ("phoneNumber", entry["number"]),
            ("networkCode", "99999"),
        ]
        for entry in entries
    ]
    assert {r.query for r in reports} == {"token=s3cr%26t"}


@pytest.mark.parametrize(
    ("outcome", "form", "stored"),
    [
        ("Failed", {"status": "Failed", "failureReason": "DeliveryFailure"}, "Failed"),
        (
            {"status": "Rejected", "failureReason": "UserInBlackList"},
            {"status": "Rejected", "failureReason": "UserInBlackList"},
            "Rejected",
        ),
        ("AbsentSubscriber", {"status": "AbsentSubscriber"}, "AbsentSubscriber"),
        ("Buffered", {"status": "Buffered"}, "Buffered"),
    ],
)
def test_delivery_status_is_forced(sandbox, kalan, outcome, form, stored):
    sandbox.set_faults(dlr_status={B: outcome})
    sandbox.sms().send("Bonjour", [A, B])
    wait_for(lambda: len(kalan.posts("/sms/delivery")) == 2)
    reports = {r.form["phoneNumber"]: r for r in kalan.posts("/sms/delivery")}

    assert {k: reports[B].form[k] for k in form} == form
    assert [name for name, _ in reports[B].pairs] == DLR_FIELDS + (
        ["failureReason"] if "failureReason" in form else []
    )
    assert "failureReason" not in reports[A].form
    assert wait_for(lambda: sandbox.messages(B)[0]["status"] == stored)
    assert sandbox.messages(A)[0]["status"] == "Success"


def test_duplicate_delivery_reports(sandbox, kalan):
    sandbox.set_faults(dlr_duplicate=True)
    entries = sandbox.sms().send("Bonjour", [A, B])["SMSMessageData"]["Recipients"]
    wait_for(sandbox.settled)
    ids = [r.form["id"] for r in kalan.posts("/sms/delivery")]

    assert sorted(ids) == sorted([e["messageId"] for e in entries] * 2)


def test_shuffled_delivery_reports(serve, kalan):
    sandbox = serve(SANDBOX_DLR_DELAY_S=0.05)
    sandbox.set_faults(dlr_shuffle=True, seed=3)
    numbers = [f"+2237000001{i}" for i in range(8)]
    entries = sandbox.sms().send("Bonjour", numbers)["SMSMessageData"]["Recipients"]
    sent = [e["messageId"] for e in entries]
    wait_for(sandbox.settled)
    reported = [r.form["id"] for r in kalan.posts("/sms/delivery")]

    assert sorted(reported) == sorted(sent)
    assert reported != sent


def test_refused_report_is_retried(serve, kalan):
    sandbox = serve(SANDBOX_DLR_BACKOFF_S=0.01)
    kalan.answers = [500, 503]
    sandbox.sms().send("Bonjour", [A])
    wait_for(sandbox.settled)

    assert len(kalan.posts("/sms/delivery")) == 3
    assert sandbox.messages(A)[0]["status"] == "Success"


def test_report_is_given_up_after_the_retries(serve, kalan, caplog):
    sandbox = serve(SANDBOX_DLR_BACKOFF_S=0.01, SANDBOX_DLR_RETRIES=2)
    kalan.answers = [500] * 10
    with caplog.at_level(logging.WARNING, logger="sandbox.courier"):
        sandbox.sms().send("Bonjour", [A])
        wait_for(sandbox.settled)

    assert len(kalan.posts("/sms/delivery")) == 3
    assert "giving up on callback" in caplog.text


def test_unreachable_kalan_does_not_stop_the_courier(serve, kalan):
    sandbox = serve(KALAN_URL="http://127.0.0.1:9", SANDBOX_DLR_RETRIES=0)
    sandbox.sms().send("Bonjour", [A])
    wait_for(sandbox.settled)
    sandbox.app.config["KALAN_URL"] = kalan.url
    sandbox.sms().send("Encore", [B])

    assert wait_for(lambda: kalan.posts("/sms/delivery"))[0].form["phoneNumber"] == B


def test_courier_survives_a_failing_job(kalan):
    courier = Courier()

    def explode():
        raise RuntimeError("boom")

    try:
        courier.schedule(f"{kalan.url}/one", [("n", "1")], 0, on_due=explode)
        courier.schedule(f"{kalan.url}/two", [("n", "2")], 0.01)
        wait_for(courier.idle)
    finally:
        courier.close()

    assert [seen.path for seen in kalan.seen] == ["/two"]
