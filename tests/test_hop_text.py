"""How a USSD hop's text is read: a copy of the hop just answered told from a new input."""

import pytest

from app.web.hop_text import CUMULATIVE, LATEST, UNSURE, repeated

AT = 1_765_000_000.000  # when the last hop was answered


@pytest.mark.parametrize(
    ("mode", "text", "waited", "now", "window", "copy"),
    [
        (LATEST, "5", True, AT + 5, 0, True),  # it waited for the hop it copies
        (LATEST, "5", False, AT + 0.5, 2, True),  # too soon for a person
        (LATEST, "5", False, AT + 3, 2, False),  # a person read the screen first
        (LATEST, "6", True, AT, 2, False),  # another input
        (UNSURE, "5", False, AT + 0.5, 2, True),
        (CUMULATIVE, "5", True, AT, 2, False),  # its text shows a retry itself
        # No window: only a wait tells. A hop that came within the millisecond the last
        # one's time was rounded up to is a person's, however quick.
        (LATEST, "5", False, AT - 0.0004, 0, False),
        (LATEST, "5", False, AT, 0, False),
    ],
)
def test_a_copy_is_told_by_its_wait_or_its_haste(mode, text, waited, now, window, copy):
    session = {"mode": mode, "text": "5", "at": AT}
    assert repeated(session, text, [], waited, now, window) is copy
