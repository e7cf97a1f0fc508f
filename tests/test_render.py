"""Fitting a screen into one USSD reply: pages, shortened text and the composed reply."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.gsm import BASIC, is_gsm7
from flows.render import ELLIPSIS, PREFIX, Page, compose, paginate, shorten

GSM = sorted(BASIC)
PAGED_NAV = "99.Suite 0.Retour 00.Menu"
LAST_NAV = "0.Retour 00.Menu"
WORDS = "Kalan forme les agents de terrain contre le travail des enfants dans les mines".split()


def long_text(words: int) -> str:
    """Return a text of the given number of words."""
    return " ".join(WORDS[i % len(WORDS)] for i in range(words))


def rooms(limit: int) -> tuple[int, int]:
    """Return paginate's rooms for a screen with the usual navigation lines."""
    room = limit - PREFIX
    return room - len(LAST_NAV) - 1, room - len(PAGED_NAV) - 1


# paginate


@pytest.mark.parametrize(
    ("text", "options", "room"),
    [
        ("Kalan - Menu principal", ["1. Formation", "2. Signaler"], 100),
        ("", ["1. Francais"], 20),
        ("Seulement du texte", [], 18),  # exactly the room
        ("  Texte entouré d'espaces \n", [], 40),
    ],
)
def test_paginate_single_page_when_it_fits(text, options, room):
    assert paginate(text, options, room, room - 10) == [Page(text.strip(), tuple(options))]


def test_paginate_splits_long_text_at_word_boundaries():
    text = long_text(60)
    pages = paginate(text, [], 120, 50)
    assert len(pages) > 1
    assert all(len(page.body()) <= 50 for page in pages)
    assert all(page.text == page.text.strip() for page in pages)
    assert " ".join(page.text for page in pages) == text  # no word cut, none lost


def test_paginate_hard_cuts_a_word_longer_than_a_page():
    word = "x" * 130
    pages = paginate(word, [], 60, 50)
    assert [len(page.text) for page in pages] == [50, 50, 30]
    assert "".join(page.text for page in pages) == word


def test_paginate_keeps_options_whole_and_in_order():
    options = [f"{n}. Option numero {n}" for n in range(1, 13)]
    pages = paginate("Choisissez :", options, 100, 60)
    assert len(pages) > 1
    assert all(len(page.body()) <= 60 for page in pages)
    assert [line for page in pages for line in page.options] == options
    assert pages[0].text == "Choisissez :"
    assert all(page.text == "" for page in pages[1:])


@pytest.mark.parametrize("words", [10, 40, 41, 42, 43])
def test_paginate_puts_options_after_all_the_text(words):
    text, options = long_text(words), ["1. Oui", "2. Non"]
    pages = paginate(text, options, 60, 50)
    first = next(n for n, page in enumerate(pages) if page.options)
    assert all(page.text == "" for page in pages[first + 1 :])
    assert " ".join(page.text for page in pages if page.text) == text
    assert [line for page in pages for line in page.options] == options
    assert all(len(page.body()) <= 50 for page in pages)


def test_paginate_shortens_an_option_longer_than_a_page():
    line = "1. " + "Signaler " * 10
    pages = paginate("Menu", [line, "2. Court"], 40, 30)
    assert [option for page in pages for option in page.options] == [
        line[: 30 - len(ELLIPSIS)] + ELLIPSIS,
        "2. Court",
    ]
    assert all(len(page.body()) <= 30 for page in pages)


@pytest.mark.parametrize(("text", "width"), [("a bcdefgh", 5), ("abc defghijklmnop qr", 6)])
def test_paginate_does_not_double_spaces_before_a_hard_cut_word(text, width):
    pages = paginate(text, [], width, width)
    assert all("  " not in page.text for page in pages)
    assert all(len(page.text) <= width for page in pages)
    assert "".join(page.text for page in pages).replace(" ", "") == text.replace(" ", "")


@pytest.mark.parametrize("words", [15, 30, 60])
def test_paginate_sticky_repeats_the_options_on_every_page(words):
    text, options = long_text(words), ["1. Envoyer", "2. Annuler"]
    pages = paginate(text, options, 100, 80, sticky=True)
    assert len(pages) > 1 and all(page.options == tuple(options) for page in pages)
    assert all(len(page.body()) <= 80 for page in pages)
    assert " ".join(page.text for page in pages) == text


@pytest.mark.parametrize(
    ("text", "room", "pages"),
    [
        ("Court.", 100, [Page("Court.", ("1. Envoyer", "2. Annuler"))]),  # fits: one page
        # Options that leave a paged screen too little text are laid out as usual.
        (long_text(12), 40, None),
    ],
)
def test_paginate_sticky_only_when_it_helps(text, room, pages):
    options = ["1. Envoyer", "2. Annuler"]
    usual = paginate(text, options, room, room - 10)
    assert paginate(text, options, room, room - 10, sticky=True) == (pages or usual)


# shorten


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        ("court", 10, "court"),
        ("exactement", 10, "exactement"),
        ("Bonjour tout le monde", 14, "Bonjour..."),
        ("Anticonstitutionnellement", 10, "Anticon..."),
        ("Choix invalide. Reessayez", 20, "Choix invalide...."),
        ("abc def", 3, ""),
        ("abc def", 0, ""),
        ("", 0, ""),
    ],
)
def test_shorten(text, width, expected):
    assert shorten(text, width) == expected


@given(st.text(alphabet=GSM), st.integers(min_value=0, max_value=200))
def test_shorten_never_exceeds_width(text, width):
    short = shorten(text, width)
    assert len(short) <= width
    if len(text) <= width:
        assert short == text
    else:
        assert short == "" or short.endswith(ELLIPSIS)


# compose


@pytest.mark.parametrize(
    ("page", "nav", "error", "end", "expected"),
    [
        (
            Page("Kalan", ("1. Formation", "2. Compte")),
            "",
            "",
            False,
            "CON Kalan\n1. Formation\n2. Compte",
        ),
        (
            Page("Mon compte", ("1. Profil",)),
            LAST_NAV,
            "",
            False,
            "CON Mon compte\n1. Profil\n" + LAST_NAV,
        ),
        (
            Page("Kalan", ("1. A",)),
            "0.Retour",
            "Choix invalide.",
            False,
            "CON Choix invalide.\nKalan\n1. A\n0.Retour",
        ),
        (Page("", ("3. C",)), "0.Retour", "", False, "CON 3. C\n0.Retour"),
        (Page("", ()), "0.Retour", "Choix invalide.", False, "CON Choix invalide.\n0.Retour"),
        (Page("Au revoir.", ()), "", "", True, "END Au revoir."),
        (Page("l’été « chaud »", ()), "", "", False, 'CON l\'été " chaud "'),
    ],
)
def test_compose(page, nav, error, end, expected):
    assert compose(page, nav, error, 160, end=end) == expected


def test_compose_gives_the_error_the_room_of_the_text():
    limit = 120
    text = long_text(30)
    page = Page(text[:40].strip(), ("1. Oui", "2. Non"))
    reply = compose(page, LAST_NAV, "Reponse invalide : tapez le numero de votre choix.", limit)
    assert len(reply) <= limit
    lines = reply.split("\n")
    assert lines[0] == "CON Reponse invalide : tapez le numero de votre choix."
    assert lines[-3:] == ["1. Oui", "2. Non", LAST_NAV]  # options and nav stay whole
    assert lines[1].endswith(ELLIPSIS) and page.text.startswith(lines[1][: -len(ELLIPSIS)])


def test_compose_cuts_even_an_error_longer_than_the_screen():
    reply = compose(Page("Kalan", ("1. A",)), LAST_NAV, "Erreur " * 40, 80)
    assert len(reply) <= 80
    assert reply.startswith("CON Erreur")


@pytest.mark.parametrize(
    "text",
    ["…" * 70, "œ" * 70, "Œuvre œcuménique … " * 4],
    ids=["ellipsis", "oe-ligature", "organisation"],
)
@pytest.mark.parametrize("error", ["", "Réponse invalide…"])
def test_compose_stays_within_limit_after_folding(text, error):
    """Folding lengthens text ('…' is three characters in GSM-7): it is measured after."""
    reply = compose(Page(text, ("1. Œuvres",)), "0.Retour", error, 80)
    assert len(reply) <= 80
    assert is_gsm7(reply)
    assert reply.endswith("\n1. OEuvres\n0.Retour")


# property: whatever the copy, every composed page fits

gsm_text = st.text(alphabet=GSM, max_size=600)
labels = st.lists(st.text(alphabet=GSM, min_size=1, max_size=80), max_size=12)
errors = st.one_of(st.just(""), st.just("Choix invalide."), st.text(alphabet=GSM, max_size=200))


@given(gsm_text, labels, st.integers(min_value=80, max_value=200), errors, st.booleans())
def test_every_composed_page_fits(text, labels, limit, error, trail):
    options = [f"{n}. {label}" for n, label in enumerate(labels, 1)]
    room_single, room_paged = rooms(limit)
    pages = paginate(text, options, room_single, room_paged)
    assert pages
    for number, page in enumerate(pages):
        more = number + 1 < len(pages)
        back = number > 0 or trail
        nav = " ".join(["99.Suite"] * more + ["0.Retour"] * back + ["00.Menu"])
        for err in ("", error):
            reply = compose(page, nav, err, limit)
            assert len(reply) <= limit
            assert reply.startswith("CON ")
            assert is_gsm7(reply)
        # Without an error nothing is cut: the page was laid out to fit.
        body = "\n".join(part for part in (page.body(), nav) if part)
        assert compose(page, nav, "", limit) == "CON " + body
    assert [line for page in pages for line in page.options] == [
        line if len(line) <= room_paged or len(pages) == 1 else line[: room_paged - 3] + ELLIPSIS
        for line in options
    ]


@given(gsm_text, st.integers(min_value=80, max_value=200), errors)
def test_end_screens_fit(text, limit, error):
    reply = compose(Page(text.strip(), ()), "", error, limit, end=True)
    assert len(reply) <= limit
    assert reply.startswith("END ")


@given(
    st.lists(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyzéèà", min_size=1, max_size=20), max_size=80
    ),
    st.integers(min_value=80, max_value=200),
)
def test_paging_loses_no_word(words, limit):
    text = " ".join(words)
    pages = paginate(text, [], *rooms(limit))
    assert " ".join(page.text for page in pages).split() == words


@given(
    st.text(max_size=300),
    st.lists(st.text(min_size=1, max_size=60), max_size=6),
    st.integers(min_value=80, max_value=200),
    st.text(max_size=60),
    st.booleans(),
)
def test_compose_fits_any_text(text, labels, limit, error, end):
    """Even copy that is not GSM-7 yet (a name from the database) is folded and fits."""
    page = Page(text, tuple(f"{n}. {label}" for n, label in enumerate(labels, 1)))
    reply = compose(page, "" if end else LAST_NAV, error, limit, end=end)
    assert len(reply) <= limit
    assert is_gsm7(reply)
    assert reply.startswith("END " if end else "CON ")
