"""The simulated phone's inbox and page."""

import pytest
import requests

from sandbox import words

from .conftest import A, B


def test_inbox_lists_the_phone_messages(sandbox):
    sandbox.sms().send("Pour A", [A])
    sandbox.sms().send("Pour B", [B])
    sandbox.sms().send("Encore pour A", [A])
    inbox = requests.get(f"{sandbox.url}/simulator/sms/inbox", params={"phone": A}, timeout=5)

    assert inbox.status_code == 200
    assert [m["message"] for m in inbox.json()] == ["Pour A", "Encore pour A"]
    assert inbox.json() == sandbox.messages(A)


@pytest.mark.parametrize(("query", "code"), [("", "missing_phone"), ("?phone=7000", "bad_phone")])
def test_inbox_needs_a_phone(sandbox, query, code):
    response = requests.get(f"{sandbox.url}/simulator/sms/inbox{query}", timeout=5)

    assert (response.status_code, response.json()) == (400, {"error": code})
    assert code in words.load()["script"]["errors"], "the page words every code"


def test_page_has_the_sms_panel(sandbox):
    page = requests.get(sandbox.url, timeout=5).text

    assert "Envoyer un SMS à Kalan" in page
    assert "/simulator/sms/inbox" in page
    assert "/simulator/sms/send" in page
