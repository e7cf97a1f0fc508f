"""The GSM-7 basic alphabet: telling, listing and folding what a basic phone can show."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.gsm import BASIC, fold, is_gsm7, outside

GSM_TEXT = st.text(alphabet=sorted(BASIC))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("Kalan - Menu principal", True),
        ("é è à ù É Ç", True),
        ("99.Suite 0.Retour\n00.Menu", True),
        ("@£$¥_!?¿¡§", True),
        ("ê", False),
        ("ç", False),
        ("œ", False),
        ("’", False),
        ("«", False),
        ("…", False),
        ("€", False),  # extension table: two septets, dropped by some gateways
        ("{}", False),
        ("^", False),
        ("\t", False),
        ("😀", False),
        ("Prévenez les autorités ê", False),
    ],
)
def test_is_gsm7(text, expected):
    assert is_gsm7(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("Bonjour à tous", ""),
        ("é è à ù É Ç", ""),
        ("fête", "ê"),
        ("ççç", "ç"),
        ("Françoise « œuvre »", "«»çœ"),
        ("a€b{c}", "{}€"),
        ("l’été – déjà…", "–’…"),
        ("ok 😀", "😀"),
    ],
)
def test_outside_lists_distinct_characters_sorted(text, expected):
    assert outside(text) == expected


@pytest.mark.parametrize("kept", ["é", "è", "à", "ù", "É", "Ç", "Kalan veut dire apprendre"])
def test_fold_keeps_gsm7_text(kept):
    assert fold(kept) == kept


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ê", "e"),
        ("â", "a"),
        ("î", "i"),
        ("ô", "o"),
        ("û", "u"),
        ("ç", "c"),
        ("Ê", "E"),
        ("œ", "oe"),
        ("Œ", "OE"),
        ("’", "'"),
        ("‘", "'"),
        ("«", '"'),
        ("»", '"'),
        ("“”", '""'),
        ("–", "-"),
        ("—", "-"),
        ("…", "..."),
        ("\u00a0", " "),
        ("\u202f", " "),
        ("\t", " "),
        ("😀", "?"),
        ("€", "?"),
        ("{", "?"),
        ("Aïssata Maïga", "Aissata Maiga"),
        ("Françoise", "Francoise"),
        ("l’été « chaud » – déjà…", 'l\'été " chaud " - déjà...'),
        ("Tête-à-tête à Sikasso", "Tete-à-tete à Sikasso"),
    ],
)
def test_fold_rewrites_into_gsm7(text, expected):
    assert fold(text) == expected
    assert is_gsm7(fold(text))


@pytest.mark.parametrize(
    ("text", "expected"), [("ﬁn", "fin"), ("Ruﬂe", "Rufle")], ids=["fi-ligature", "fl-ligature"]
)
def test_fold_keeps_every_letter_of_a_ligature(text, expected):
    assert fold(text) == expected


@given(st.text())
def test_fold_always_yields_gsm7(text):
    folded = fold(text)
    assert is_gsm7(folded)
    assert outside(folded) == ""


@given(st.text())
def test_fold_is_idempotent(text):
    assert fold(fold(text)) == fold(text)


@given(GSM_TEXT)
def test_fold_leaves_gsm7_text_alone(text):
    assert is_gsm7(text)
    assert fold(text) == text


@given(st.text())
def test_is_gsm7_agrees_with_outside(text):
    assert is_gsm7(text) is (outside(text) == "")
    assert all(c not in BASIC for c in outside(text))
