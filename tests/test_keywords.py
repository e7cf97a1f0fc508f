"""Inbound SMS keywords, in any case and with or without accents."""

import pytest

from app.messaging.keywords import keyword


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", "stop"),
        ("stop", "stop"),
        ("Stop", "stop"),
        ("  stop  ", "stop"),
        ("STOP merci", "stop"),
        ("ARRET", "stop"),
        ("Arret", "stop"),
        ("ARRÊT", "stop"),
        ("arrêt.", "stop"),
        ("Arrêt, svp", "stop"),
        ("DESABONNER", "stop"),
        ("Désabonner svp", "stop"),
        ("DÉSINSCRIRE", "stop"),
        ("START", "start"),
        ("start", "start"),
        ("ABONNER", "start"),
        ("abonner", "start"),
        ("AIDE", "help"),
        ("aide?", "help"),
        ("HELP", "help"),
        ("FORMATION", "formation"),
        ("formation", "formation"),
        ("SIGNALER!", "signaler"),
        ("Signaler un cas", "signaler"),
        ("\u0041\u0052\u0052\u0045\u0302\u0054", "stop"),  # ARRÊT with a combining accent
        ("ＳＴＯＰ", "stop"),  # full-width letters
        ("STOPPER", None),
        ("ARRETER", None),
        ("bonjour", None),
        ("merci STOP", None),  # only the first word counts
        ("S T O P", None),
        ("1", None),
        ("", None),
        ("   ", None),
        (None, None),
        ("😀", None),
        ("🙏🙏", None),
        ("😀 STOP", "stop"),  # no word before it
    ],
)
def test_keyword(text, expected):
    assert keyword(text) == expected
