"""SMS encoding, parts and cost estimates, and the text as it will be sent."""

from decimal import Decimal

import pytest

from app.infra.segments import GSM7, UCS2, encoding, estimate, parts, prepare

EMOJI = "\U0001f600"  # 😀: outside the BMP, two UTF-16 code units


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", GSM7),
        ("Bonjour", GSM7),
        ("é è à ù É Ç", GSM7),
        ("Prévenez le CSCOM à Kati", GSM7),
        ("@£$¥_!?¿¡§", GSM7),
        ("ligne 1\nligne 2", GSM7),
        ("^", GSM7),
        ("{}", GSM7),
        ("[]", GSM7),
        ("~", GSM7),
        ("|", GSM7),
        ("€", GSM7),
        ("\\", GSM7),
        ("ê", UCS2),
        ("ç", UCS2),
        ("œ", UCS2),
        ("’", UCS2),
        ("«", UCS2),
        ("»", UCS2),
        (EMOJI, UCS2),
        ("Réunion à Kati ê", UCS2),  # one character is enough
    ],
)
def test_encoding(text, expected):
    assert encoding(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("a" * 459, 3),
        ("a" * 460, 4),
        ("é" * 160, 1),  # basic-set accents take one septet
        ("ê" * 70, 1),
        ("ê" * 71, 2),
        ("ê" * 134, 2),
        ("ê" * 135, 3),
        ("ê" * 201, 3),
        ("ê" * 202, 4),
    ],
)
def test_parts_boundaries(text, expected):
    assert parts(text) == expected


@pytest.mark.parametrize("char", list("^{}[]~|€\\"))
def test_extension_characters_count_two_septets(char):
    assert parts("a" * 158 + char) == 1  # 160 septets
    assert parts("a" * 159 + char) == 2  # 161 septets
    assert parts(char * 80) == 1
    assert parts(char * 81) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (EMOJI * 35, 1),  # 70 code units
        ("a" * 69 + EMOJI, 2),  # 71 code units
        (EMOJI * 66, 2),  # 132 code units: 33 pairs fill each 67-unit part
        (EMOJI * 67, 3),  # a pair is never split, so the 67th starts a third part
    ],
)
def test_emoji_count_two_utf16_units(text, expected):
    assert encoding(text) == UCS2
    assert parts(text) == expected


def test_extension_character_is_not_split_across_parts():
    # 306 septets, but € (ESC + e) cannot start on septet 153 of part one: the
    # first part carries 152, the second 153, and one septet is left for a third.
    assert parts("a" * 152 + "€" + "a" * 152) == 3


def test_emoji_is_not_split_across_parts():
    # 134 code units, but the emoji cannot start on unit 67 of part one.
    assert parts("a" * 66 + EMOJI + "a" * 66) == 3


@pytest.mark.parametrize(
    ("text", "price", "expected_encoding", "expected_parts", "expected_cost"),
    [
        ("Bonjour", Decimal("25"), GSM7, 1, Decimal("25")),
        ("a" * 161, Decimal("25"), GSM7, 2, Decimal("50")),
        ("a" * 307, Decimal("12.5"), GSM7, 3, Decimal("37.5")),
        ("ê" * 71, Decimal("25"), UCS2, 2, Decimal("50")),
        ("ê" * 135, Decimal("0.0325"), UCS2, 3, Decimal("0.0975")),
    ],
)
def test_estimate_is_parts_times_price(
    text, price, expected_encoding, expected_parts, expected_cost
):
    guess = estimate(text, price)
    assert guess.encoding == expected_encoding
    assert guess.parts == expected_parts
    assert guess.cost == expected_cost
    assert isinstance(guess.cost, Decimal)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Reçu numéro 12", "Recu numéro 12"),
        ("ê ç œ ’", "e c oe '"),
        ("« Réunion à Kati »", '" Réunion à Kati "'),
        ("é è à ù É Ç", "é è à ù É Ç"),
        ("Bonjour", "Bonjour"),
    ],
)
def test_prepare_folds_into_gsm7(text, expected):
    sent = prepare(text, ascii_fold=True)
    assert sent == expected
    assert encoding(sent) == GSM7


@pytest.mark.parametrize("text", ["Reçu ê œ ’ « »", EMOJI, "é è à"])
def test_prepare_without_folding_keeps_text(text):
    assert prepare(text, ascii_fold=False) == text


def test_folding_saves_parts():
    text = "Votre reçu est prêt : " + "a" * 60  # 82 characters
    assert parts(prepare(text, ascii_fold=False)) == 2  # UCS-2
    assert parts(prepare(text, ascii_fold=True)) == 1  # GSM-7


@pytest.mark.parametrize("text", ["Prix : 500 €", "Voir [page 2]", "a|b ~ {x} ^ \\"])
def test_prepare_keeps_gsm7_extension_characters(text):
    assert prepare(text, ascii_fold=True) == text
