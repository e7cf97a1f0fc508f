"""Any sequence of inputs yields a journey's screen or a one-line 400: never a 5xx, never the
apology of a hop that failed, never an ERROR in the log."""

import uuid

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flows.gsm import is_gsm7

from .conftest import CODE
from .helpers import apologies, errors_logged

LIMIT = 160
MAX_FIELD = 1024

SPECIAL = ["", "0", "00", "99", "1", "2", "3", "4", "5", "6", "9", "*", "#", "**", "1*2", " 1 "]
WEIRD = ["abc", "Awa Traoré", "😀", "🇲🇱 salut", "ê ç œ ’", "\n", "\x00", "%", "+223", "é" * 80]
inputs = st.one_of(
    st.sampled_from(SPECIAL + WEIRD),
    st.text(max_size=40),
    st.just("x" * 5 * 1024),
)


def check(response, text: str, apology: list[str], caplog) -> None:
    """Assert the webhook answered a hop with this text as the contract says, without a failure.

    A failing hop still answers a valid END screen (the apology): only its copy and the
    ERROR line logged with it tell that the journey broke.
    """
    body = response.get_data(as_text=True)
    assert errors_logged(caplog) == [], text
    assert response.status_code < 500, body
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FIELD:
        assert response.status_code == 400
        assert body == f"field text over {MAX_FIELD} bytes\n"
        return
    assert response.status_code == 200, body
    assert body[:4] in ("CON ", "END "), body
    assert len(body) <= LIMIT, body
    assert is_gsm7(body), body
    assert body not in apology, text


def hop(client, session_id: str, phone: str, text: str):
    form = {"sessionId": session_id, "serviceCode": CODE, "phoneNumber": phone, "text": text}
    return client.post("/ussd", data={**form, "networkCode": "99999"})


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=st.lists(inputs, max_size=12), phone_no=st.integers(0, 5))
# Always tried, whatever hypothesis draws: each door of the main menu (a new caller sees it
# at once: there is one language), and the training's first screens.
@example(sequence=["1", "1"], phone_no=0)
@example(sequence=["2"], phone_no=0)
@example(sequence=["3"], phone_no=0)
@example(sequence=["4"], phone_no=0)
@example(sequence=["5"], phone_no=0)
@example(sequence=["6"], phone_no=0)
def test_any_input_sequence_gives_valid_screens(app, client, caplog, sequence, phone_no):
    caplog.clear()  # the records of earlier examples: each example answers for its own
    apology = apologies(app)
    session_id, phone = "ATUid_" + uuid.uuid4().hex, f"+2237000010{phone_no}"
    check(hop(client, session_id, phone, ""), "", apology, caplog)
    sent: list[str] = []
    for value in sequence:
        sent.append(value)
        text = "*".join(sent)
        check(hop(client, session_id, phone, text), text, apology, caplog)
        if len(text.encode("utf-8", "surrogatepass")) > MAX_FIELD:
            break
